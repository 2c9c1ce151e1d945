package projections

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/events"
)

// Grants is the read model of GNAP grants, their access items, subjects,
// interaction and access tokens, in the auth service's database. Its
// consumer is projection_grants, filtered on events.*.grant.>. The GNAP
// endpoints find a grant here from what a client presents (a continuation
// id, a token's management id or value hash, an interaction id); the
// auth admin API lists grants from here. Token values are never here, only
// their hashes, as in the events.
//
// Grants has no fold: it is applied one statement at a time, in replays
// too.
type Grants struct{}

func (Grants) Name() string { return "grants" }

func (Grants) Tables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS grants (
			id                    uuid PRIMARY KEY,
			tenant_id             uuid NOT NULL,
			state                 text NOT NULL,
			finalization_reason   text,
			client_wallet_address text,
			client_jwk            jsonb,
			continue_id           uuid NOT NULL UNIQUE,
			interact              jsonb,
			created_at            timestamptz NOT NULL,
			updated_at            timestamptz NOT NULL,
			version               bigint NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS grants_page ON grants (created_at, id)`,
		// Access items and subjects are the grant's own, fixed at its
		// request; their ids derive from the grant's id and their position,
		// so that a replay names them alike.
		`CREATE TABLE IF NOT EXISTS grant_access (
			id         uuid PRIMARY KEY,
			grant_id   uuid NOT NULL,
			position   integer NOT NULL,
			type       text NOT NULL,
			actions    text[] NOT NULL,
			identifier text,
			limits     jsonb,
			created_at timestamptz NOT NULL,
			UNIQUE (grant_id, position)
		)`,
		`CREATE INDEX IF NOT EXISTS grant_access_identifier ON grant_access (identifier, grant_id)`,
		`CREATE TABLE IF NOT EXISTS grant_subjects (
			id         uuid PRIMARY KEY,
			grant_id   uuid NOT NULL,
			position   integer NOT NULL,
			sub_id     text NOT NULL,
			format     text NOT NULL,
			created_at timestamptz NOT NULL,
			UNIQUE (grant_id, position)
		)`,
		`CREATE TABLE IF NOT EXISTS interactions (
			id         uuid PRIMARY KEY,
			grant_id   uuid NOT NULL UNIQUE,
			nonce      text NOT NULL,
			state      text NOT NULL,
			expired    boolean NOT NULL DEFAULT false,
			created_at timestamptz NOT NULL,
			expires_at timestamptz NOT NULL
		)`,
		// A revoked or rotated token keeps its row, marked, so that the
		// event that issued it, stored a second time, cannot bring it back;
		// DeleteOldTokens deletes rows long expired.
		`CREATE TABLE IF NOT EXISTS access_tokens (
			id                 uuid PRIMARY KEY,
			grant_id           uuid NOT NULL,
			value_hash         text NOT NULL UNIQUE,
			created_at         timestamptz NOT NULL,
			expires_in_seconds bigint NOT NULL,
			revoked_at         timestamptz
		)`,
		`CREATE INDEX IF NOT EXISTS access_tokens_grant ON access_tokens (grant_id) WHERE revoked_at IS NULL`,
		// DeleteOldTokens finds the tokens past their deletion by it.
		`CREATE INDEX IF NOT EXISTS access_tokens_created ON access_tokens (created_at)`,
	}
}

// GrantAccessID and GrantSubjectID name a grant's access item and subject
// by the grant's id and their position in its request.
func GrantAccessID(grantID string, position int) string {
	return uuid.NewSHA1(grantItemNamespace, fmt.Appendf(nil, "%s/access/%d", grantID, position)).String()
}

func GrantSubjectID(grantID string, position int) string {
	return uuid.NewSHA1(grantItemNamespace, fmt.Appendf(nil, "%s/subject/%d", grantID, position)).String()
}

var grantItemNamespace = uuid.MustParse("8d6f2a8e-7c1b-4f0e-a3d2-5b9e0c4f1a67")

func (Grants) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	id, at, seq := env.AggregateID, env.Time, int64(env.Sequence)
	switch e := ev.(type) {
	case *events.GrantRequested:
		if err := queueGrantRequested(b, env, e); err != nil {
			return err
		}
		if e.Interaction != nil {
			return Grants{}.Apply(b, env, e.Interaction)
		}
		if e.AccessToken != nil {
			return Grants{}.Apply(b, env, e.AccessToken)
		}
	case *events.GrantPolled:
		queueGrantState(b, id, at, seq, nil, nil)
	case *events.GrantApproved:
		queueGrantState(b, id, at, seq, ptr(events.GrantStateApproved), nil)
	case *events.GrantDenied:
		queueGrantState(b, id, at, seq, ptr(events.GrantStateFinalized), ptr(events.FinalizationRejected))
	case *events.GrantFinalized:
		queueGrantState(b, id, at, seq, ptr(events.GrantStateFinalized), ptr(events.FinalizationIssued))
	case *events.GrantRevoked:
		queueGrantState(b, id, at, seq, ptr(events.GrantStateFinalized), ptr(events.FinalizationRevoked))
		b.Queue(`UPDATE access_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL`, id, at)
	case *events.InteractionStarted:
		b.Queue(`WITH started AS (
				INSERT INTO interactions (id, grant_id, nonce, state, created_at, expires_at)
				SELECT $1::uuid, $2::uuid, $3::text, $4::text, $5::timestamptz, $6::timestamptz
				WHERE EXISTS (SELECT FROM grants WHERE id = $2::uuid)
				ON CONFLICT (id) DO NOTHING RETURNING grant_id)
			UPDATE grants SET updated_at = $5, version = $7::bigint WHERE id IN (SELECT grant_id FROM started)`,
			e.InteractionID, id, e.Nonce, events.InteractionStatePending, at, at.Add(time.Duration(e.ExpiresInSeconds)*time.Second), seq)
	case *events.InteractionApproved:
		queueInteraction(b, id, at, seq, ptr(events.InteractionStateApproved), false)
	case *events.InteractionRejected:
		queueInteraction(b, id, at, seq, ptr(events.InteractionStateDenied), false)
	case *events.InteractionExpired:
		queueInteraction(b, id, at, seq, nil, true)
	case *events.AccessTokenIssued:
		queueToken(b, id, at, seq, e.TokenID, e.ValueHash, e.ExpiresInSeconds)
	case *events.AccessTokenRotated:
		b.Queue(`UPDATE access_tokens SET revoked_at = $3 WHERE id = $1 AND grant_id = $2 AND revoked_at IS NULL`, e.PreviousTokenID, id, at)
		queueToken(b, id, at, seq, e.TokenID, e.ValueHash, e.ExpiresInSeconds)
	case *events.AccessTokenRevoked:
		b.Queue(`UPDATE access_tokens SET revoked_at = $3 WHERE id = $1 AND grant_id = $2 AND revoked_at IS NULL`, e.TokenID, id, at)
		queueGrantState(b, id, at, seq, nil, nil)
	}
	return nil
}

// queueGrantRequested inserts a grant, and its access items and subjects
// only when the insert took place (the row's version is this event's), so
// that a request stored twice changes nothing.
func queueGrantRequested(b *pgx.Batch, env events.Envelope, e *events.GrantRequested) error {
	id, at, seq := env.AggregateID, env.Time, int64(env.Sequence)
	var jwk *string
	if len(e.Client.JWK) > 0 {
		jwk = ptr(string(e.Client.JWK))
	}
	interact, err := jsonOrNil(e.Interact)
	if err != nil {
		return fmt.Errorf("grant %s interact: %w", id, err)
	}
	b.Queue(`INSERT INTO grants (id, tenant_id, state, client_wallet_address, client_jwk, continue_id, interact,
			created_at, updated_at, version)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5::jsonb, $6, $7::jsonb, $8, $8, $9) ON CONFLICT (id) DO NOTHING`,
		id, env.TenantID, e.State, e.Client.WalletAddress, jwk, e.ContinueID, interact, at, seq)
	for i, a := range e.Access {
		limits, err := jsonOrNil(a.Limits)
		if err != nil {
			return fmt.Errorf("grant %s access %d limits: %w", id, i, err)
		}
		actions := a.Actions
		if actions == nil {
			actions = []string{}
		}
		b.Queue(`INSERT INTO grant_access (id, grant_id, position, type, actions, identifier, limits, created_at)
			SELECT $1::uuid, $2::uuid, $3::integer, $4::text, $5::text[], NULLIF($6::text, ''), $7::jsonb, $8::timestamptz
			WHERE EXISTS (SELECT FROM grants WHERE id = $2::uuid AND version = $9::bigint)`,
			GrantAccessID(id, i), id, i, a.Type, actions, a.Identifier, limits, at, seq)
	}
	for i, s := range e.Subject {
		b.Queue(`INSERT INTO grant_subjects (id, grant_id, position, sub_id, format, created_at)
			SELECT $1::uuid, $2::uuid, $3::integer, $4::text, $5::text, $6::timestamptz
			WHERE EXISTS (SELECT FROM grants WHERE id = $2::uuid AND version = $7::bigint)`,
			GrantSubjectID(id, i), id, i, s.ID, s.Format, at, seq)
	}
	return nil
}

// queueGrantState records an event on the grant's row: its state and
// finalization reason when they are set, its time and sequence always.
func queueGrantState(b *pgx.Batch, id string, at time.Time, seq int64, state, reason *string) {
	b.Queue(`UPDATE grants SET state = COALESCE($2, state), finalization_reason = COALESCE($3, finalization_reason),
			updated_at = $4, version = $5
		WHERE id = $1`, id, state, reason, at, seq)
}

// queueInteraction records the grant's interaction's new state, when it is
// set, or its expiry.
func queueInteraction(b *pgx.Batch, id string, at time.Time, seq int64, state *string, expired bool) {
	b.Queue(`UPDATE interactions SET state = COALESCE($2, state), expired = expired OR $3 WHERE grant_id = $1`, id, state, expired)
	queueGrantState(b, id, at, seq, nil, nil)
}

// queueToken inserts an access token of a grant the read model holds, and
// records the event on the grant only when it did: one stored twice keeps
// the token's row as it is, revoked or not, and changes nothing.
func queueToken(b *pgx.Batch, grantID string, at time.Time, seq int64, tokenID, valueHash string, expiresInSeconds int64) {
	b.Queue(`WITH issued AS (
			INSERT INTO access_tokens (id, grant_id, value_hash, created_at, expires_in_seconds)
			SELECT $1::uuid, $2::uuid, $3::text, $4::timestamptz, $5::bigint
			WHERE EXISTS (SELECT FROM grants WHERE id = $2::uuid)
			ON CONFLICT (id) DO NOTHING RETURNING grant_id)
		UPDATE grants SET updated_at = $4, version = $6::bigint WHERE id IN (SELECT grant_id FROM issued)`,
		tokenID, grantID, valueHash, at, expiresInSeconds, seq)
}

// jsonOrNil is v as JSON text, or nil when v is a nil pointer.
func jsonOrNil[T any](v *T) (*string, error) {
	if v == nil {
		return nil, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return ptr(string(data)), nil
}

func ptr[T any](v T) *T { return &v }
