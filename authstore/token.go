package authstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Token is an access token as introspection sees it, with its grant.
type Token struct {
	ID        string
	ValueHash string
	CreatedAt time.Time
	ExpiresIn time.Duration
	// Revoked: revoked, or replaced by a rotation.
	Revoked bool
	Grant   Grant
}

// ExpiredAt tells whether the token is past its lifetime at now (created
// plus expires in, as Rafiki's introspection counts it).
func (t Token) ExpiredAt(now time.Time) bool { return now.After(t.CreatedAt.Add(t.ExpiresIn)) }

// TokenByValueHash finds an access token by its value's hash (hex SHA-256,
// as grant.TokenHash makes it), revoked or not, with its grant. A miss
// catches up with the event stream as the grant lookups do: a token the
// client got a moment ago is found.
func (s *Store) TokenByValueHash(ctx context.Context, valueHash string) (Token, bool, error) {
	var t Token
	found, err := s.lookup(ctx, "token hash", func(ctx context.Context) (bool, error) {
		var expiresInSeconds int64
		var grantID string
		err := s.pool.QueryRow(ctx, `SELECT id::text, value_hash, created_at, expires_in_seconds, revoked_at IS NOT NULL, grant_id::text
			FROM rm_grants.access_tokens WHERE value_hash = $1`, valueHash).
			Scan(&t.ID, &t.ValueHash, &t.CreatedAt, &expiresInSeconds, &t.Revoked, &grantID)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		t.ExpiresIn = time.Duration(expiresInSeconds) * time.Second
		g, err := s.Grant(ctx, grantID, nil)
		if err != nil || g == nil {
			return false, err
		}
		t.Grant = *g
		return true, nil
	})
	return t, found, err
}
