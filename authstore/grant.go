package authstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/events"
)

// Grant is a grant as the read model holds it.
type Grant struct {
	ID                 string
	TenantID           string
	State              string
	FinalizationReason *string
	Client             events.GrantClient
	Interact           *events.GrantInteract
	Access             []Access
	Subjects           []Subject
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Access is one item of a grant's access list. Its id derives from the
// grant's id and its position (projections.GrantAccessID).
type Access struct {
	ID         string              `json:"id"`
	Type       string              `json:"type"`
	Actions    []string            `json:"actions"`
	Identifier *string             `json:"identifier"`
	Limits     *events.GrantLimits `json:"limits"`
	CreatedAt  time.Time           `json:"createdAt"`
}

// Subject is a subject identifier a grant asked about.
type Subject struct {
	ID        string    `json:"id"`
	SubID     string    `json:"subId"`
	Format    string    `json:"format"`
	CreatedAt time.Time `json:"createdAt"`
}

// grantColumns read a grant with its access items and subjects, in their
// order, as JSON.
const grantColumns = `id::text, tenant_id::text, state, finalization_reason, client_wallet_address, client_jwk::text, interact::text,
	created_at, updated_at,
	(SELECT coalesce(jsonb_agg(jsonb_build_object('id', a.id, 'type', a.type, 'actions', a.actions, 'identifier', a.identifier,
		'limits', a.limits, 'createdAt', a.created_at) ORDER BY a.position), '[]')
		FROM rm_grants.grant_access a WHERE a.grant_id = grants.id)::text,
	(SELECT coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'subId', s.sub_id, 'format', s.format, 'createdAt', s.created_at)
		ORDER BY s.position), '[]')
		FROM rm_grants.grant_subjects s WHERE s.grant_id = grants.id)::text`

func scanGrant(row pgx.Row) (Grant, string, error) {
	var g Grant
	var wallet, jwk, interact *string
	var access, subjects string
	err := row.Scan(&g.ID, &g.TenantID, &g.State, &g.FinalizationReason, &wallet, &jwk, &interact,
		&g.CreatedAt, &g.UpdatedAt, &access, &subjects)
	if err != nil {
		return Grant{}, "", err
	}
	if wallet != nil {
		g.Client.WalletAddress = *wallet
	}
	if jwk != nil {
		g.Client.JWK = json.RawMessage(*jwk)
	}
	if interact != nil {
		g.Interact = &events.GrantInteract{}
		if err := json.Unmarshal([]byte(*interact), g.Interact); err != nil {
			return Grant{}, "", fmt.Errorf("grant %s interact: %w", g.ID, err)
		}
	}
	if err := json.Unmarshal([]byte(access), &g.Access); err != nil {
		return Grant{}, "", fmt.Errorf("grant %s access: %w", g.ID, err)
	}
	if err := json.Unmarshal([]byte(subjects), &g.Subjects); err != nil {
		return Grant{}, "", fmt.Errorf("grant %s subjects: %w", g.ID, err)
	}
	return g, g.ID, nil
}

// Grant finds a grant by id; tenantScope, when set, must own it. It is nil
// when there is none (an admin query reads what is applied, and waits, when
// it must see a change, on the change's own sequence).
func (s *Store) Grant(ctx context.Context, id string, tenantScope *string) (*Grant, error) {
	id, ok := canonicalID(id)
	if !ok {
		return nil, nil
	}
	g, _, err := scanGrant(s.pool.QueryRow(ctx, `SELECT `+grantColumns+` FROM rm_grants.grants
		WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2::uuid)`, id, tenantScope))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("grant %s: %w", id, err)
	}
	return &g, nil
}
