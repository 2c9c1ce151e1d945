package readmodel

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// List is a list of rows another read model's reader pages through the way
// this package's lists are paged: Table (schema-qualified) has id and
// created_at columns, Where is a condition on its columns over Args ("true"
// for none), Owner the part of it that says whose rows they are ("" for
// anyone's), which a cursor's row must meet.
type List struct {
	Table, Columns, Where, Owner string
	Args                         []any
}

// PageOf fetches one page of l on db, Relay style, and where it sits in the
// list. scan reads one row and returns the row's id, which is its cursor.
func PageOf[T any](ctx context.Context, db *pgxpool.Pool, l List, p Page, scan func(pgx.Row) (T, string, error)) ([]T, PageInfo, error) {
	return pageOf(ctx, db, listQuery{table: l.Table, columns: l.Columns, where: l.Where, owner: l.Owner, args: l.Args}, p, scan)
}
