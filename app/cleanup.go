package app

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/projections"
)

// TokenCleanupInterval spaces the rounds of the auth read model's cleanup.
// Rafiki cleans once at start; a worker runs for long, so it cleans again.
const TokenCleanupInterval = 10 * time.Minute

const (
	// tokenCleanupRowsMax bounds one delete, so that no statement holds
	// the rows' locks for long.
	tokenCleanupRowsMax = 1000
	// tokenCleanupBatchesMax bounds one round; what it leaves is deleted
	// by the next.
	tokenCleanupBatchesMax = 100
)

// RunTokenCleanup deletes from the auth read model, at once and then every
// interval until ctx ends, the access tokens more than deletion
// (ACCESS_TOKEN_DELETION_DAYS) past their expiry. Any number of workers
// may: each deletes rows the others do not hold.
func (d *Deps) RunTokenCleanup(ctx context.Context, deletion, interval time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			before := time.Now().Add(-deletion)
			deleted, err := cleanTokens(ctx, d.AuthPool, before)
			switch {
			case err != nil && ctx.Err() == nil:
				d.Log.Warn("access token cleanup failed; trying again later", "deleted", deleted, "err", err)
			case deleted > 0:
				d.Log.Info("access tokens deleted from the auth read model", "deleted", deleted, "expired_before", before)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	})
	return &wg
}

// cleanTokens deletes tokens expired before before, a batch at a time,
// until a batch finds fewer than it may delete or the round's bound.
func cleanTokens(ctx context.Context, pool *pgxpool.Pool, before time.Time) (int64, error) {
	var total int64
	for range tokenCleanupBatchesMax {
		n, err := projections.DeleteOldTokens(ctx, pool, before, tokenCleanupRowsMax)
		total += n
		if err != nil || n < tokenCleanupRowsMax {
			return total, err
		}
	}
	return total, nil
}
