package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// sweep voids expired pending transfers in the table, releasing their
// pending amounts, every interval until the Ledger closes. Reads and
// decisions already treat them as voided; the sweep keeps that set small.
// Every Ledger on a database sweeps: a sweep batch locks the transfers'
// accounts like any other, so two never void one transfer twice.
func (l *Ledger) sweep(interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-ticker.C:
		}
		for range sweepPassesMax {
			n, err := l.sweepPass(l.ctx)
			if err != nil {
				if l.ctx.Err() == nil {
					l.log.Warn("sweep of expired transfers failed", "err", err)
				}
				break
			}
			if n < sweepTransfersMax {
				break
			}
		}
	}
}

// sweepPass voids up to sweepTransfersMax expired transfers in one batch
// and returns how many it found.
func (l *Ledger) sweepPass(ctx context.Context) (int, error) {
	rows, err := l.pool.Query(ctx, `
SELECT id FROM ledger_transfers
WHERE state = 'PENDING' AND expires_at <= now()
ORDER BY expires_at LIMIT $1`, sweepTransfersMax)
	if err != nil {
		return 0, fmt.Errorf("ledger/postgres: find expired transfers: %w", err)
	}
	ids, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (uuid.UUID, error) {
		var id uuid.UUID
		err := row.Scan(raw(&id))
		return id, err
	})
	if err != nil {
		return 0, fmt.Errorf("ledger/postgres: find expired transfers: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := l.run(ctx, []*operation{{kind: kindExpire, ids: ids}}); err != nil {
		return 0, err
	}
	return len(ids), nil
}
