package projections

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Build builds a projection's tables in a fresh schema from stored events
// (data[i] at stream sequence seqs[i]) the way a replay does before its
// swap, in batches of batch events, with a fold that writes its rows when
// it holds rowsMax of them. A projection that is no Folder is built with
// statements only.
func Build(ctx context.Context, pool *pgxpool.Pool, p Projection, schema string, rowsMax, batch int, data [][]byte, seqs []uint64) error {
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return createSchema(ctx, tx, p, schema) }); err != nil {
		return err
	}
	b := newBuilder(pool, p, schema, rowsMax)
	for len(data) > 0 {
		n := min(batch, len(data))
		evs := make([]decoded, 0, n)
		for i := range n {
			d, err := decode(data[i], seqs[i])
			if err != nil {
				return err
			}
			evs = append(evs, d)
		}
		if err := b.add(ctx, evs); err != nil {
			return err
		}
		data, seqs = data[n:], seqs[n:]
	}
	return b.finish(ctx)
}
