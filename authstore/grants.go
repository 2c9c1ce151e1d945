package authstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/rafiki-go/rafiki/readmodel"
)

// Filter narrows a list of grants as the auth admin API's GrantFilter and
// tenantId do. Empty lists filter nothing.
type Filter struct {
	// Identifiers keeps grants with an access item for one of them.
	Identifiers []string
	StateIn     []string
	StateNotIn  []string
	// A grant that is not finalized has no finalization reason: In leaves
	// it out, NotIn keeps it.
	FinalizationReasonIn    []string
	FinalizationReasonNotIn []string
	// TenantID, when set, keeps that tenant's grants only.
	TenantID *string
}

// where is the filter as a condition on rm_grants.grants, the part of it
// that says whose grants they are, and their arguments.
func (f Filter) where() (where, owner string, args []any) {
	conds := []string{"true"}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if len(f.Identifiers) > 0 {
		conds = append(conds, `EXISTS (SELECT FROM rm_grants.grant_access a WHERE a.grant_id = grants.id AND a.identifier = ANY(`+arg(f.Identifiers)+`::text[]))`)
	}
	if len(f.StateIn) > 0 {
		conds = append(conds, `state = ANY(`+arg(f.StateIn)+`::text[])`)
	}
	if len(f.StateNotIn) > 0 {
		conds = append(conds, `state <> ALL(`+arg(f.StateNotIn)+`::text[])`)
	}
	if len(f.FinalizationReasonIn) > 0 {
		conds = append(conds, `finalization_reason = ANY(`+arg(f.FinalizationReasonIn)+`::text[])`)
	}
	if len(f.FinalizationReasonNotIn) > 0 {
		conds = append(conds, `(finalization_reason IS NULL OR finalization_reason <> ALL(`+arg(f.FinalizationReasonNotIn)+`::text[]))`)
	}
	if f.TenantID != nil {
		owner = `tenant_id = ` + arg(*f.TenantID) + `::uuid`
		conds = append(conds, owner)
	}
	return strings.Join(conds, " AND "), owner, args
}

// Grants lists grants, Relay style (cursors are grant ids; first or last at
// most 100, 20 unless given; ordered by creation, descending when asked).
func (s *Store) Grants(ctx context.Context, f Filter, p readmodel.Page) ([]Grant, readmodel.PageInfo, error) {
	if f.TenantID != nil {
		id, ok := canonicalID(*f.TenantID)
		if !ok {
			return nil, readmodel.PageInfo{}, nil
		}
		f.TenantID = &id
	}
	where, owner, args := f.where()
	return readmodel.PageOf(ctx, s.pool, readmodel.List{Table: "rm_grants.grants", Columns: grantColumns, Where: where, Owner: owner, Args: args}, p, scanGrant)
}
