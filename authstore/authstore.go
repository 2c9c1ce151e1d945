// Package authstore reads the auth service's read model (the grants
// projection, rm_grants, in AUTH_DATABASE_URL): the grant a client's
// continuation, token or interaction names, a token by its value's hash for
// introspection, and grants for the auth admin API. Nothing here writes.
package authstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/authsvc"
	"github.com/rafiki-go/rafiki/projections"
)

// grantSubjects are the subjects of every grant's events, as the grants
// projection's consumer reads them.
const grantSubjects = "events.*.grant.>"

// Events tells the last stream sequence on a subject (wildcards allowed),
// as the event store reads it from the stream's leader.
type Events interface {
	Last(ctx context.Context, subject string) (data []byte, sequence uint64, found bool, err error)
}

// Store answers from the grants read model.
type Store struct {
	pool    *pgxpool.Pool
	events  Events
	waiter  *projections.Waiter
	timeout time.Duration
}

var _ authsvc.Grants = (*Store)(nil)

// New builds a store on the auth database's pool. waiter follows the auth
// database's checkpoints (its Run must be running); timeout bounds how long
// a lookup that misses waits for the projection to catch up
// (READ_YOUR_WRITES_TIMEOUT_MS).
func New(pool *pgxpool.Pool, events Events, waiter *projections.Waiter, timeout time.Duration) *Store {
	if pool == nil || events == nil || waiter == nil || timeout <= 0 {
		panic("authstore: New needs a pool, the events, a waiter and a timeout")
	}
	return &Store{pool: pool, events: events, waiter: waiter, timeout: timeout}
}

// ByContinueID finds the grant of a continuation id.
func (s *Store) ByContinueID(ctx context.Context, continueID string) (authsvc.GrantRef, bool, error) {
	return s.ref(ctx, "continuation "+continueID, continueID,
		`SELECT tenant_id::text, id::text FROM rm_grants.grants WHERE continue_id = $1`)
}

// ByTokenID finds the grant of an access token's management id, revoked or
// not: what a revoked token may still do is the grant's decision.
func (s *Store) ByTokenID(ctx context.Context, tokenID string) (authsvc.GrantRef, bool, error) {
	return s.ref(ctx, "token "+tokenID, tokenID,
		`SELECT g.tenant_id::text, g.id::text FROM rm_grants.access_tokens t JOIN rm_grants.grants g ON g.id = t.grant_id WHERE t.id = $1`)
}

// ByInteractionID finds the grant of an interaction id.
func (s *Store) ByInteractionID(ctx context.Context, interactionID string) (authsvc.GrantRef, bool, error) {
	return s.ref(ctx, "interaction "+interactionID, interactionID,
		`SELECT g.tenant_id::text, g.id::text FROM rm_grants.interactions i JOIN rm_grants.grants g ON g.id = i.grant_id WHERE i.id = $1`)
}

// ref looks a grant up by an id, catching up once on a miss. An id that is
// no UUID names nothing, and is not waited for.
func (s *Store) ref(ctx context.Context, what, id, sql string) (authsvc.GrantRef, bool, error) {
	id, ok := canonicalID(id)
	if !ok {
		return authsvc.GrantRef{}, false, nil
	}
	var ref authsvc.GrantRef
	found, err := s.lookup(ctx, what, func(ctx context.Context) (bool, error) {
		err := s.pool.QueryRow(ctx, sql, id).Scan(&ref.TenantID, &ref.GrantID)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	})
	return ref, found, err
}

// canonicalID spells any form of a UUID as the read model does: Postgres
// reads some of uuid.Parse's forms (urn:uuid:) as no UUID at all.
func canonicalID(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// lookup runs find, and when it finds nothing, waits until the grants
// projection has applied every grant event stored until now, then runs it
// again: anything acknowledged before the call is then found. A hit answers
// at once, and so does a miss on a projection that is caught up already.
func (s *Store) lookup(ctx context.Context, what string, find func(ctx context.Context) (bool, error)) (bool, error) {
	found, err := find(ctx)
	if err != nil || found {
		return found, wrap(what, err)
	}
	caughtUp, err := s.catchUp(ctx)
	if err != nil || !caughtUp {
		return false, wrap(what, err)
	}
	found, err = find(ctx)
	return found, wrap(what, err)
}

// catchUp waits, up to the store's timeout, until the grants projection has
// passed the last grant event of the stream. It reports false when the
// stream holds no grant event, so that nothing needs looking at again.
func (s *Store) catchUp(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, last, found, err := s.events.Last(ctx, grantSubjects)
	if err != nil || !found {
		return false, err
	}
	name := projections.Grants{}.Name()
	if err := s.waiter.Wait(ctx, name, last, s.timeout); err != nil {
		return false, apperr.E(apperr.Timeout, "the grants read model has not caught up with the event stream: %v", err)
	}
	return true, nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return fmt.Errorf("look up grant of %s: %w", what, err)
}
