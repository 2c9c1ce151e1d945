package projections

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rafiki-go/rafiki/events"
)

// Tenants is the read model of tenants and their settings. Secrets opens the
// tenants' secrets, which the log keeps sealed; a tenant whose data key was
// shredded has an empty API secret (it cannot sign) and no IDP secret.
type Tenants struct {
	Secrets Opener
}

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

func (t Tenants) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	ev, err := openSecrets(t.Secrets, env, ev)
	if err != nil {
		return err
	}
	id, at, seq := env.AggregateID, env.Time, int64(env.Sequence)
	switch e := ev.(type) {
	case *events.TenantCreated:
		b.Queue(`INSERT INTO tenants (id, email, api_secret, idp_consent_url, idp_secret, public_name, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) ON CONFLICT (id) DO NOTHING`,
			id, nullable(e.Email), e.APISecret, nullable(e.IDPConsentURL), nullable(e.IDPSecret), nullable(e.PublicName), at, seq)
		queueCreatedSettings(b, id, seq, e.Settings)
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

// queueCreatedSettings queues a new tenant's settings, only when the
// tenant's row is the one its creation at seq inserted: a creation stored
// twice changes nothing.
func queueCreatedSettings(b *pgx.Batch, tenantID string, seq int64, settings []events.Setting) {
	for _, s := range settings {
		b.Queue(`INSERT INTO tenant_settings (tenant_id, key, value)
			SELECT $1::uuid, $2::text, $3::text WHERE EXISTS (SELECT FROM tenants WHERE id = $1::uuid AND version = $4)
			ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value`, tenantID, s.Key, s.Value, seq)
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
func (t Tenants) NewFold() Fold { return &tenantsFold{secrets: t.Secrets} }

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
	secrets Opener
	tenants held[tenantRow]
	rows    int
}

func (f *tenantsFold) Rows() int { return f.rows }

func (f *tenantsFold) Add(env events.Envelope, ev events.Event) (bool, error) {
	ev, err := openSecrets(f.secrets, env, ev)
	if err != nil {
		return false, err
	}
	at, seq := env.Time, int64(env.Sequence)
	if e, ok := ev.(*events.TenantCreated); ok {
		id, err := pgUUID(env.AggregateID)
		if err != nil {
			return false, err
		}
		t := &tenantRow{id: id, email: nullable(e.Email), apiSecret: e.APISecret, idpConsentURL: nullable(e.IDPConsentURL),
			idpSecret: nullable(e.IDPSecret), publicName: nullable(e.PublicName), createdAt: at, updatedAt: at, version: seq}
		if !f.tenants.add(env.AggregateID, t) {
			return true, nil
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

// NewPatch patches the tenants a large batch changes but does not create.
func (t Tenants) NewPatch() Patch { return &tenantsPatch{secrets: t.Secrets} }

// tenantPatch is what a batch's events change in one tenant's row: the
// last value given of each optional column, and the last deletion.
type tenantPatch struct {
	id                                                     pgtype.UUID
	email, apiSecret, idpConsentURL, idpSecret, publicName *string
	deletedAt                                              *time.Time
	updatedAt                                              time.Time
	version                                                int64
}

// tenantsPatch takes every event of a tenant: no statement of a patched
// tenant runs before the patch. Settings are upserted by tenant and key,
// the last value winning, whether or not the tenant's row exists, as
// queueSettings does.
type tenantsPatch struct {
	secrets  Opener
	tenants  held[tenantPatch]
	settings map[settingKey]int // index in settingRows
	rows     []settingRow
}

type settingKey struct {
	tenant pgtype.UUID
	key    string
}

type settingRow struct {
	tenant     pgtype.UUID
	key, value string
}

func (f *tenantsPatch) Add(env events.Envelope, ev events.Event) (bool, error) {
	ev, err := openSecrets(f.secrets, env, ev)
	if err != nil {
		return false, err
	}
	switch ev.(type) {
	case *events.TenantUpdated, *events.TenantSettingsSet, *events.TenantDeleted:
	case *events.TenantCreated:
		// The batch's fold takes creations.
		return false, nil
	default:
		return true, nil
	}
	t, ok := f.tenants.get(env.AggregateID)
	if !ok {
		id, err := pgUUID(env.AggregateID)
		if err != nil {
			return false, err
		}
		t = &tenantPatch{id: id}
		f.tenants.add(env.AggregateID, t)
	}
	at := env.Time
	switch e := ev.(type) {
	case *events.TenantUpdated:
		t.email = coalesce(e.Email, t.email)
		t.apiSecret = coalesce(e.APISecret, t.apiSecret)
		t.idpConsentURL = coalesce(e.IDPConsentURL, t.idpConsentURL)
		t.idpSecret = coalesce(e.IDPSecret, t.idpSecret)
		t.publicName = coalesce(e.PublicName, t.publicName)
	case *events.TenantSettingsSet:
		if f.settings == nil {
			f.settings = map[settingKey]int{}
		}
		for _, s := range e.Settings {
			k := settingKey{t.id, s.Key}
			if i, ok := f.settings[k]; ok {
				f.rows[i].value = s.Value
				continue
			}
			f.settings[k] = len(f.rows)
			f.rows = append(f.rows, settingRow{t.id, s.Key, s.Value})
		}
	case *events.TenantDeleted:
		t.deletedAt = &at
	}
	t.updatedAt, t.version = at, int64(env.Sequence)
	return true, nil
}

func (f *tenantsPatch) Queue(b *pgx.Batch) error {
	if rows := f.rows; len(rows) > 0 {
		tenants, keys, values := make([]pgtype.UUID, len(rows)), make([]string, len(rows)), make([]string, len(rows))
		for i, r := range rows {
			tenants[i], keys[i], values[i] = r.tenant, r.key, r.value
		}
		b.Queue(`INSERT INTO tenant_settings (tenant_id, key, value)
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
			ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value`, tenants, keys, values)
	}
	if ts := f.tenants.take(); len(ts) > 0 {
		n := len(ts)
		ids := make([]pgtype.UUID, n)
		email, apiSecret, idpConsentURL, idpSecret, publicName := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		deletedAt, updatedAt, version := make([]*time.Time, n), make([]time.Time, n), make([]int64, n)
		for i, t := range ts {
			ids[i] = t.id
			email[i], apiSecret[i], idpConsentURL[i], idpSecret[i], publicName[i] = t.email, t.apiSecret, t.idpConsentURL, t.idpSecret, t.publicName
			deletedAt[i], updatedAt[i], version[i] = t.deletedAt, t.updatedAt, t.version
		}
		b.Queue(`UPDATE tenants t SET
			email = COALESCE(u.email, t.email), api_secret = COALESCE(u.api_secret, t.api_secret),
			idp_consent_url = COALESCE(u.idp_consent_url, t.idp_consent_url), idp_secret = COALESCE(u.idp_secret, t.idp_secret),
			public_name = COALESCE(u.public_name, t.public_name), deleted_at = COALESCE(u.deleted_at, t.deleted_at),
			updated_at = u.updated_at, version = u.version
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::bigint[])
				AS u (id, email, api_secret, idp_consent_url, idp_secret, public_name, deleted_at, updated_at, version)
			WHERE t.id = u.id`,
			ids, email, apiSecret, idpConsentURL, idpSecret, publicName, deletedAt, updatedAt, version)
	}
	f.settings, f.rows = nil, nil
	return nil
}
