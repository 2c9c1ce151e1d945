package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DeleteOldTokens deletes from the grants read model at most rowsMax access
// tokens that expired before before (created_at plus their lifetime),
// revoked, rotated or not, and answers how many it deleted. Their events
// stay: the log keeps every token, the read model only those a client may
// still present or an operator still look up. A replay brings them back,
// and the next cleanup deletes them again.
//
// A row is deleted only once its token expired, so that an issue event
// applied again (a replay) can only bring back a token introspection
// answers inactive. Rows another cleanup holds are skipped, so that any
// number of workers may delete at once.
func DeleteOldTokens(ctx context.Context, pool *pgxpool.Pool, before time.Time, rowsMax int) (int64, error) {
	if rowsMax <= 0 {
		return 0, fmt.Errorf("delete old tokens: rowsMax %d must be above 0", rowsMax)
	}
	// created_at < before first lets the index on created_at narrow the
	// rows: a token that expired before before was created before it.
	tag, err := pool.Exec(ctx, `DELETE FROM rm_grants.access_tokens WHERE id IN (
			SELECT id FROM rm_grants.access_tokens
			WHERE created_at < $1 AND created_at + expires_in_seconds * interval '1 second' < $1
			LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, rowsMax)
	if err != nil {
		return 0, fmt.Errorf("delete old tokens: %w", err)
	}
	return tag.RowsAffected(), nil
}
