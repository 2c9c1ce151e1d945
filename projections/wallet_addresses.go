package projections

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rafiki-go/rafiki/events"
)

// WalletAddresses is the read model of wallet addresses and their
// additional properties.
type WalletAddresses struct{}

func (WalletAddresses) Name() string { return "wallet_addresses" }

func (WalletAddresses) Tables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS wallet_addresses (
			id             uuid PRIMARY KEY,
			tenant_id      uuid NOT NULL,
			asset_id       uuid NOT NULL,
			address        text NOT NULL UNIQUE,
			public_name    text,
			created_at     timestamptz NOT NULL,
			updated_at     timestamptz NOT NULL,
			deactivated_at timestamptz,
			version        bigint NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS wallet_addresses_page ON wallet_addresses (created_at, id)`,
		`CREATE INDEX IF NOT EXISTS wallet_addresses_asset ON wallet_addresses (asset_id)`,
		`CREATE TABLE IF NOT EXISTS wallet_address_properties (
			wallet_address_id uuid NOT NULL,
			position          integer NOT NULL,
			key               text NOT NULL,
			value             text NOT NULL,
			visible           boolean NOT NULL,
			PRIMARY KEY (wallet_address_id, position)
		)`,
	}
}

func (WalletAddresses) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	id, at, seq := env.AggregateID, env.Time, int64(env.Sequence)
	switch e := ev.(type) {
	case *events.WalletAddressCreated:
		b.Queue(`INSERT INTO wallet_addresses (id, tenant_id, asset_id, address, public_name, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT (id) DO NOTHING`,
			id, env.TenantID, e.AssetID, e.Address, nullable(e.PublicName), at, seq)
		queueProperties(b, id, seq, e.AdditionalProperties)
	case *events.WalletAddressUpdated:
		b.Queue(`UPDATE wallet_addresses SET public_name = COALESCE($2, public_name), updated_at = $3, version = $4 WHERE id = $1`,
			id, e.PublicName, at, seq)
		if e.ReplaceProperties {
			b.Queue(`DELETE FROM wallet_address_properties WHERE wallet_address_id = $1`, id)
			queueProperties(b, id, seq, e.AdditionalProperties)
		}
	case *events.WalletAddressDeactivated:
		b.Queue(`UPDATE wallet_addresses SET deactivated_at = $2, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	case *events.WalletAddressActivated:
		b.Queue(`UPDATE wallet_addresses SET deactivated_at = NULL, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	case *events.WalletAddressWebMonetization:
		// Nothing the read model shows changes, but every event of a wallet
		// address is a version: the document cache takes a document only at
		// the version of the address's last event.
		b.Queue(`UPDATE wallet_addresses SET version = $2 WHERE id = $1`, id, seq)
	}
	return nil
}

// queueProperties queues a wallet address's properties, written by its
// event at seq: only when that event changed the row, so that a creation
// stored twice changes nothing.
func queueProperties(b *pgx.Batch, walletAddressID string, seq int64, props []events.Property) {
	for i, p := range props {
		b.Queue(`INSERT INTO wallet_address_properties (wallet_address_id, position, key, value, visible)
			SELECT $1::uuid, $2::integer, $3::text, $4::text, $5::boolean
			WHERE EXISTS (SELECT FROM wallet_addresses WHERE id = $1::uuid AND version = $6)`,
			walletAddressID, i, p.Key, p.Value, p.Visible, seq)
	}
}

// WalletAddressKeys is the read model of wallet address keys.
type WalletAddressKeys struct{}

func (WalletAddressKeys) Name() string { return "wallet_address_keys" }

func (WalletAddressKeys) Tables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS wallet_address_keys (
			id                uuid PRIMARY KEY,
			tenant_id         uuid NOT NULL,
			wallet_address_id uuid NOT NULL,
			kid               text NOT NULL,
			x                 text NOT NULL,
			alg               text NOT NULL,
			kty               text NOT NULL,
			crv               text NOT NULL,
			revoked           boolean NOT NULL DEFAULT false,
			created_at        timestamptz NOT NULL,
			updated_at        timestamptz NOT NULL,
			version           bigint NOT NULL,
			UNIQUE (wallet_address_id, kid)
		)`,
		`CREATE INDEX IF NOT EXISTS wallet_address_keys_page ON wallet_address_keys (wallet_address_id, created_at, id)`,
	}
}

func (WalletAddressKeys) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	id, at, seq := env.AggregateID, env.Time, int64(env.Sequence)
	switch e := ev.(type) {
	case *events.WalletAddressKeyAdded:
		b.Queue(`INSERT INTO wallet_address_keys (id, tenant_id, wallet_address_id, kid, x, alg, kty, crv, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) ON CONFLICT (id) DO NOTHING`,
			id, env.TenantID, e.WalletAddressID, e.Kid, e.X, e.Alg, e.Kty, e.Crv, at, seq)
	case *events.WalletAddressKeyRevoked:
		b.Queue(`UPDATE wallet_address_keys SET revoked = true, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	}
	return nil
}

// NewFold folds wallet addresses and their properties in memory for a
// replay.
func (WalletAddresses) NewFold() Fold { return &walletAddressesFold{} }

type walletAddressRow struct {
	id, tenantID, assetID pgtype.UUID
	address               string
	publicName            *string
	createdAt, updatedAt  time.Time
	deactivatedAt         *time.Time
	version               int64
	properties            []events.Property
}

type walletAddressesFold struct {
	addresses held[walletAddressRow]
	rows      int
}

func (f *walletAddressesFold) Rows() int { return f.rows }

func (f *walletAddressesFold) Add(env events.Envelope, ev events.Event) (bool, error) {
	at, seq := env.Time, int64(env.Sequence)
	if e, ok := ev.(*events.WalletAddressCreated); ok {
		w := &walletAddressRow{address: e.Address, publicName: nullable(e.PublicName), createdAt: at, updatedAt: at, version: seq,
			properties: e.AdditionalProperties}
		var err error
		if w.id, err = pgUUID(env.AggregateID); err != nil {
			return false, err
		}
		if w.tenantID, err = pgUUID(env.TenantID); err != nil {
			return false, err
		}
		if w.assetID, err = pgUUID(e.AssetID); err != nil {
			return false, err
		}
		if !f.addresses.add(env.AggregateID, w) {
			return true, nil
		}
		f.rows += 1 + len(w.properties)
		return true, nil
	}
	w, ok := f.addresses.get(env.AggregateID)
	switch e := ev.(type) {
	case *events.WalletAddressUpdated:
		if !ok {
			return false, nil
		}
		w.publicName = coalesce(e.PublicName, w.publicName)
		if e.ReplaceProperties {
			f.rows += len(e.AdditionalProperties) - len(w.properties)
			w.properties = e.AdditionalProperties
		}
	case *events.WalletAddressDeactivated:
		if !ok {
			return false, nil
		}
		w.deactivatedAt = &at
	case *events.WalletAddressActivated:
		if !ok {
			return false, nil
		}
		w.deactivatedAt = nil
	case *events.WalletAddressWebMonetization:
		if !ok {
			return false, nil
		}
		w.version = seq
		return true, nil
	default:
		return true, nil
	}
	w.updatedAt, w.version = at, seq
	return true, nil
}

func (f *walletAddressesFold) Flush() []CopyRows {
	ws := f.addresses.take()
	f.rows = 0
	return []CopyRows{
		copyRows("wallet_addresses", []string{"id", "tenant_id", "asset_id", "address", "public_name",
			"created_at", "updated_at", "deactivated_at", "version"}, ws, func(w *walletAddressRow, v []any) {
			v[0], v[1], v[2], v[3], v[4] = &w.id, &w.tenantID, &w.assetID, &w.address, w.publicName
			v[5], v[6], v[7], v[8] = &w.createdAt, &w.updatedAt, w.deactivatedAt, &w.version
		}),
		copyChildren("wallet_address_properties", []string{"wallet_address_id", "position", "key", "value", "visible"}, ws,
			func(w *walletAddressRow) []events.Property { return w.properties },
			func(w *walletAddressRow, p *events.Property, i int, v []any) {
				v[0], v[1], v[2], v[3], v[4] = &w.id, int32(i), &p.Key, &p.Value, &p.Visible
			}),
	}
}

// NewFold folds wallet address keys in memory for a replay.
func (WalletAddressKeys) NewFold() Fold { return &walletAddressKeysFold{} }

type walletAddressKeyRow struct {
	id, tenantID, walletAddressID pgtype.UUID
	kid, x, alg, kty, crv         string
	revoked                       bool
	createdAt, updatedAt          time.Time
	version                       int64
}

type walletAddressKeysFold struct {
	keys held[walletAddressKeyRow]
}

func (f *walletAddressKeysFold) Rows() int { return len(f.keys.order) }

func (f *walletAddressKeysFold) Add(env events.Envelope, ev events.Event) (bool, error) {
	at, seq := env.Time, int64(env.Sequence)
	switch e := ev.(type) {
	case *events.WalletAddressKeyAdded:
		k := &walletAddressKeyRow{kid: e.Kid, x: e.X, alg: e.Alg, kty: e.Kty, crv: e.Crv, createdAt: at, updatedAt: at, version: seq}
		var err error
		if k.id, err = pgUUID(env.AggregateID); err != nil {
			return false, err
		}
		if k.tenantID, err = pgUUID(env.TenantID); err != nil {
			return false, err
		}
		if k.walletAddressID, err = pgUUID(e.WalletAddressID); err != nil {
			return false, err
		}
		f.keys.add(env.AggregateID, k)
	case *events.WalletAddressKeyRevoked:
		k, ok := f.keys.get(env.AggregateID)
		if !ok {
			return false, nil
		}
		k.revoked, k.updatedAt, k.version = true, at, seq
	}
	return true, nil
}

func (f *walletAddressKeysFold) Flush() []CopyRows {
	return []CopyRows{
		copyRows("wallet_address_keys", []string{"id", "tenant_id", "wallet_address_id", "kid", "x", "alg", "kty", "crv",
			"revoked", "created_at", "updated_at", "version"}, f.keys.take(), func(k *walletAddressKeyRow, v []any) {
			v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7] = &k.id, &k.tenantID, &k.walletAddressID, &k.kid, &k.x, &k.alg, &k.kty, &k.crv
			v[8], v[9], v[10], v[11] = &k.revoked, &k.createdAt, &k.updatedAt, &k.version
		}),
	}
}

// NewPatch patches the keys a large batch revokes but does not add.
func (WalletAddressKeys) NewPatch() Patch { return &walletAddressKeysPatch{} }

// keyRevocation is a key's last revocation in a batch.
type keyRevocation struct {
	id        pgtype.UUID
	updatedAt time.Time
	version   int64
}

type walletAddressKeysPatch struct {
	keys held[keyRevocation]
}

func (f *walletAddressKeysPatch) Add(env events.Envelope, ev events.Event) (bool, error) {
	switch ev.(type) {
	case *events.WalletAddressKeyRevoked:
	case *events.WalletAddressKeyAdded:
		// The batch's fold takes additions.
		return false, nil
	default:
		return true, nil
	}
	k, ok := f.keys.get(env.AggregateID)
	if !ok {
		id, err := pgUUID(env.AggregateID)
		if err != nil {
			return false, err
		}
		k = &keyRevocation{id: id}
		f.keys.add(env.AggregateID, k)
	}
	k.updatedAt, k.version = env.Time, int64(env.Sequence)
	return true, nil
}

func (f *walletAddressKeysPatch) Queue(b *pgx.Batch) error {
	ks := f.keys.take()
	if len(ks) == 0 {
		return nil
	}
	ids, updatedAt, version := make([]pgtype.UUID, len(ks)), make([]time.Time, len(ks)), make([]int64, len(ks))
	for i, k := range ks {
		ids[i], updatedAt[i], version[i] = k.id, k.updatedAt, k.version
	}
	b.Queue(`UPDATE wallet_address_keys k SET revoked = true, updated_at = u.updated_at, version = u.version
		FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[]) AS u (id, updated_at, version)
		WHERE k.id = u.id`, ids, updatedAt, version)
	return nil
}
