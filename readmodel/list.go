package readmodel

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// List is a list of rows another read model's reader pages through the way
// this package's lists are paged: Table (schema-qualified) has id and
// created_at columns, Where is a condition on its columns over Args ("true"
// for none).
type List struct {
	Table, Columns, Where string
	Args                  []any
}

// PageOf fetches one page of l on db, Relay style, and where it sits in the
// list. scan reads one row and returns the row's id, which is its cursor.
func PageOf[T any](ctx context.Context, db *pgxpool.Pool, l List, p Page, scan func(pgx.Row) (T, string, error)) ([]T, PageInfo, error) {
	return pageOf(ctx, db, listQuery{table: l.Table, columns: l.Columns, where: l.Where, args: l.Args}, p, scan)
}
