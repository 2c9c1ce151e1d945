// Package readmodel answers queries from the read models the projections
// build. Nothing here writes.
package readmodel

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/apperr"
)

// Reader runs queries on the read-model database.
type Reader struct {
	pool   *pgxpool.Pool
	ledger Ledger
}

// Ledger is what the reader asks the ledger (package ledger's Ledger): what
// accounts received.
type Ledger interface {
	TotalsReceived(ctx context.Context, ids []uuid.UUID) ([]uint64, error)
	TotalReceived(ctx context.Context, id uuid.UUID) (uint64, error)
}

// NewReader reads the read models in pool, and what incoming payments
// received from l: money moves in the ledger, and a payment's events record
// it a moment later. Without l, the payments' own records answer.
func NewReader(pool *pgxpool.Pool, l Ledger) *Reader {
	if pool == nil {
		panic("readmodel: NewReader needs a pool")
	}
	return &Reader{pool: pool, ledger: l}
}

// Page asks for one page of a list, Relay style: cursors are row ids, rows
// are ordered by creation time then id.
type Page struct {
	After, Before *string
	First, Last   *int
	Descending    bool
}

// PageInfo tells where a page sits in its list.
type PageInfo struct {
	StartCursor, EndCursor       *string
	HasNextPage, HasPreviousPage bool
}

const (
	pageSizeDefault = 20
	pageSizeMax     = 100
)

// listQuery is a list to page through: its table, columns and filter.
type listQuery struct {
	table   string // schema-qualified
	columns string
	where   string // a condition on the table's columns, "true" for none
	// owner is the part of where that says whose rows the list holds (a
	// tenant's, a wallet address's, a client's), "" for anyone's: a cursor
	// naming a row of another owner is an unknown cursor, so that it tells
	// nothing of that row. The rest of where may stop holding for a row
	// between two pages (a payment's state moves on), so it does not bind
	// cursors.
	owner string
	args  []any
}

// cursorRow is the subquery of the created_at and id of the row the
// argument at index n names, when it is one of the list's owner's.
func (q listQuery) cursorRow(n int) string {
	owner := q.owner
	if owner == "" {
		owner = "true"
	}
	return fmt.Sprintf("(SELECT created_at, id FROM %s WHERE id = $%d AND (%s))", q.table, n, owner)
}

func size(n *int) (int, error) {
	if n == nil || *n == 0 {
		return pageSizeDefault, nil
	}
	if *n < 0 || *n > pageSizeMax {
		return 0, apperr.E(apperr.InvalidInput, "Pagination index error")
	}
	return *n, nil
}

func cursorArg(c string) (uuid.UUID, error) {
	id, err := uuid.Parse(c)
	if err != nil {
		return uuid.Nil, apperr.E(apperr.InvalidInput, "invalid pagination cursor %q", c)
	}
	return id, nil
}

// pageOf fetches a page and its page info. scan reads one row and returns
// the row's id, which is its cursor.
func pageOf[T any](ctx context.Context, db *pgxpool.Pool, q listQuery, p Page, scan func(pgx.Row) (T, string, error)) ([]T, PageInfo, error) {
	if p.Before == nil && p.Last != nil {
		return nil, PageInfo{}, apperr.E(apperr.InvalidInput, "Can't paginate backwards from the start.")
	}
	first, err := size(p.First)
	if err != nil {
		return nil, PageInfo{}, err
	}
	last, err := size(p.Last)
	if err != nil {
		return nil, PageInfo{}, err
	}
	forward := p.Before == nil
	limit, cursor := first, p.After
	if !forward {
		limit, cursor = last, p.Before
	}
	// Reading backwards walks the list in the opposite order, then flips.
	descending := p.Descending != !forward
	sql, args, err := q.keyset(cursor, descending, limit)
	if err != nil {
		return nil, PageInfo{}, err
	}
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, PageInfo{}, fmt.Errorf("list %s: %w", q.table, err)
	}
	var items []T
	var ids []string
	for rows.Next() {
		item, id, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, PageInfo{}, fmt.Errorf("list %s: %w", q.table, err)
		}
		items, ids = append(items, item), append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, PageInfo{}, fmt.Errorf("list %s: %w", q.table, err)
	}
	if !forward {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
			ids[i], ids[j] = ids[j], ids[i]
		}
	}
	info := PageInfo{}
	if len(items) == 0 {
		return items, info, nil
	}
	info.StartCursor, info.EndCursor = &ids[0], &ids[len(ids)-1]
	if info.HasNextPage, err = q.exists(ctx, db, ids[len(ids)-1], p.Descending); err != nil {
		return nil, PageInfo{}, err
	}
	if info.HasPreviousPage, err = q.exists(ctx, db, ids[0], !p.Descending); err != nil {
		return nil, PageInfo{}, err
	}
	return items, info, nil
}

func direction(descending bool) (op, order string) {
	if descending {
		return "<", "DESC"
	}
	return ">", "ASC"
}

func (q listQuery) keyset(cursor *string, descending bool, limit int) (string, []any, error) {
	op, order := direction(descending)
	args := append([]any{}, q.args...)
	where := q.where
	if cursor != nil {
		id, err := cursorArg(*cursor)
		if err != nil {
			return "", nil, err
		}
		args = append(args, id)
		where += fmt.Sprintf(" AND (created_at, id) %s %s", op, q.cursorRow(len(args)))
	}
	args = append(args, limit)
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY created_at %s, id %s LIMIT $%d",
		q.columns, q.table, where, order, order, len(args))
	return sql, args, nil
}

// exists tells whether the list has a row beyond the one with id, walking
// in the given order.
func (q listQuery) exists(ctx context.Context, db *pgxpool.Pool, id string, descending bool) (bool, error) {
	op, _ := direction(descending)
	args := append(append([]any{}, q.args...), id)
	sql := fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE %s AND (created_at, id) %s %s)",
		q.table, q.where, op, q.cursorRow(len(args)))
	var found bool
	if err := db.QueryRow(ctx, sql, args...).Scan(&found); err != nil {
		return false, fmt.Errorf("list %s: %w", q.table, err)
	}
	return found, nil
}
