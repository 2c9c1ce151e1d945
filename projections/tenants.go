package projections

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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

// NewFold folds tenants in memory for a replay.
func (Tenants) NewFold() Fold { return &tenantsFold{} }

type tenantRow struct {
	id                                          pgtype.UUID
	email, idpConsentURL, idpSecret, publicName *string
	apiSecret                                   string
	createdAt, updatedAt                        time.Time
	deletedAt                                   *time.Time
	version                                     int64
	settings                                    []events.Setting
}

type tenantsFold struct {
	tenants held[tenantRow]
	rows    int
}

func (f *tenantsFold) Rows() int { return f.rows }

func (f *tenantsFold) Add(env events.Envelope, ev events.Event) (bool, error) {
	at, seq := env.Time, int64(env.Sequence)
	if e, ok := ev.(*events.TenantCreated); ok {
		id, err := pgUUID(env.AggregateID)
		if err != nil {
			return false, err
		}
		t := &tenantRow{id: id, email: nullable(e.Email), apiSecret: e.APISecret, idpConsentURL: nullable(e.IDPConsentURL),
			idpSecret: nullable(e.IDPSecret), publicName: nullable(e.PublicName), createdAt: at, updatedAt: at, version: seq}
		if err := f.tenants.add(env.AggregateID, t); err != nil {
			return false, err
		}
		f.rows++
		f.setSettings(t, e.Settings)
		return true, nil
	}
	t, ok := f.tenants.get(env.AggregateID)
	switch e := ev.(type) {
	case *events.TenantUpdated:
		if !ok {
			return false, nil
		}
		t.email = coalesce(e.Email, t.email)
		if e.APISecret != nil {
			t.apiSecret = *e.APISecret
		}
		t.idpConsentURL = coalesce(e.IDPConsentURL, t.idpConsentURL)
		t.idpSecret = coalesce(e.IDPSecret, t.idpSecret)
		t.publicName = coalesce(e.PublicName, t.publicName)
	case *events.TenantSettingsSet:
		if !ok {
			return false, nil
		}
		f.setSettings(t, e.Settings)
	case *events.TenantDeleted:
		if !ok {
			return false, nil
		}
		t.deletedAt = &at
	default:
		return true, nil
	}
	t.updatedAt, t.version = at, seq
	return true, nil
}

// setSettings upserts settings by key, as queueSettings does.
func (f *tenantsFold) setSettings(t *tenantRow, settings []events.Setting) {
next:
	for _, s := range settings {
		for i := range t.settings {
			if t.settings[i].Key == s.Key {
				t.settings[i].Value = s.Value
				continue next
			}
		}
		t.settings = append(t.settings, s)
		f.rows++
	}
}

func (f *tenantsFold) Flush() []CopyRows {
	ts := f.tenants.take()
	f.rows = 0
	return []CopyRows{
		copyRows("tenants", []string{"id", "email", "api_secret", "idp_consent_url", "idp_secret", "public_name",
			"created_at", "updated_at", "deleted_at", "version"}, ts, func(t *tenantRow, v []any) {
			v[0], v[1], v[2], v[3], v[4], v[5] = &t.id, t.email, &t.apiSecret, t.idpConsentURL, t.idpSecret, t.publicName
			v[6], v[7], v[8], v[9] = &t.createdAt, &t.updatedAt, t.deletedAt, &t.version
		}),
		copyChildren("tenant_settings", []string{"tenant_id", "key", "value"}, ts,
			func(t *tenantRow) []events.Setting { return t.settings },
			func(t *tenantRow, s *events.Setting, _ int, v []any) { v[0], v[1], v[2] = &t.id, &s.Key, &s.Value }),
	}
}

// coalesce is COALESCE(value, current) for an optional column.
func coalesce[T any](value, current *T) *T {
	if value != nil {
		return value
	}
	return current
}
