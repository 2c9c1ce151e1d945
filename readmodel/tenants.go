package readmodel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Tenant is a row of the tenants read model.
type Tenant struct {
	ID            string
	Email         *string
	APISecret     string
	IDPConsentURL *string
	IDPSecret     *string
	PublicName    *string
	CreatedAt     time.Time
	DeletedAt     *time.Time
}

// Setting is one tenant setting.
type Setting struct {
	Key, Value string
}

const tenantColumns = `id::text, email, api_secret, idp_consent_url, idp_secret, public_name, created_at, deleted_at`

func scanTenant(row pgx.Row) (Tenant, string, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.Email, &t.APISecret, &t.IDPConsentURL, &t.IDPSecret, &t.PublicName, &t.CreatedAt, &t.DeletedAt)
	return t, t.ID, err
}

// Tenant finds a tenant by id; deleted ones only when includeDeleted.
func (r *Reader) Tenant(ctx context.Context, id string, includeDeleted bool) (*Tenant, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, nil
	}
	sql := `SELECT ` + tenantColumns + ` FROM rm_tenants.tenants WHERE id = $1`
	if !includeDeleted {
		sql += ` AND deleted_at IS NULL`
	}
	t, _, err := scanTenant(r.pool.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	return &t, nil
}

// Tenants lists tenants, deleted ones included, as Rafiki does.
func (r *Reader) Tenants(ctx context.Context, p Page) ([]Tenant, PageInfo, error) {
	return pageOf(ctx, r.pool, listQuery{table: "rm_tenants.tenants", columns: tenantColumns, where: "true"}, p, scanTenant)
}

// TenantSettings lists a tenant's settings by key.
func (r *Reader) TenantSettings(ctx context.Context, tenantID string) ([]Setting, error) {
	rows, err := r.pool.Query(ctx, `SELECT key, value FROM rm_tenants.tenant_settings WHERE tenant_id = $1 ORDER BY key`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("tenant settings %s: %w", tenantID, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Setting, error) {
		var s Setting
		err := row.Scan(&s.Key, &s.Value)
		return s, err
	})
}

// APISecret is a live tenant's admin-API secret, for request signatures.
func (r *Reader) APISecret(ctx context.Context, tenantID string) (string, bool, error) {
	t, err := r.Tenant(ctx, tenantID, false)
	if err != nil || t == nil {
		return "", false, err
	}
	return t.APISecret, true, nil
}
