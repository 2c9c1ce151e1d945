package projections

import (
	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/events"
)

// Tenants is the read model of tenants and their settings.
type Tenants struct{}

func (Tenants) Name() string { return "tenants" }

func (Tenants) Tables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS tenants (
			id              uuid PRIMARY KEY,
			email           text,
			api_secret      text NOT NULL,
			idp_consent_url text,
			idp_secret      text,
			public_name     text,
			created_at      timestamptz NOT NULL,
			updated_at      timestamptz NOT NULL,
			deleted_at      timestamptz,
			version         bigint NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS tenants_page ON tenants (created_at, id)`,
		`CREATE TABLE IF NOT EXISTS tenant_settings (
			tenant_id uuid NOT NULL,
			key       text NOT NULL,
			value     text NOT NULL,
			PRIMARY KEY (tenant_id, key)
		)`,
	}
}

func (Tenants) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	id, at, seq := env.AggregateID, env.Time, int64(env.Sequence)
	switch e := ev.(type) {
	case *events.TenantCreated:
		b.Queue(`INSERT INTO tenants (id, email, api_secret, idp_consent_url, idp_secret, public_name, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)`,
			id, nullable(e.Email), e.APISecret, nullable(e.IDPConsentURL), nullable(e.IDPSecret), nullable(e.PublicName), at, seq)
		queueSettings(b, id, e.Settings)
	case *events.TenantUpdated:
		b.Queue(`UPDATE tenants SET
			email = COALESCE($2, email), api_secret = COALESCE($3, api_secret),
			idp_consent_url = COALESCE($4, idp_consent_url), idp_secret = COALESCE($5, idp_secret),
			public_name = COALESCE($6, public_name), updated_at = $7, version = $8
			WHERE id = $1`,
			id, e.Email, e.APISecret, e.IDPConsentURL, e.IDPSecret, e.PublicName, at, seq)
	case *events.TenantSettingsSet:
		queueSettings(b, id, e.Settings)
		b.Queue(`UPDATE tenants SET updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	case *events.TenantDeleted:
		b.Queue(`UPDATE tenants SET deleted_at = $2, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	}
	return nil
}

func queueSettings(b *pgx.Batch, tenantID string, settings []events.Setting) {
	for _, s := range settings {
		b.Queue(`INSERT INTO tenant_settings (tenant_id, key, value) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value`, tenantID, s.Key, s.Value)
	}
}

// nullable stores an empty optional string as NULL.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
