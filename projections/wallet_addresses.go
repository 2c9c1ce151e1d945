package projections

import (
	"github.com/jackc/pgx/v5"

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
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7)`, id, env.TenantID, e.AssetID, e.Address, nullable(e.PublicName), at, seq)
		queueProperties(b, id, e.AdditionalProperties)
	case *events.WalletAddressUpdated:
		b.Queue(`UPDATE wallet_addresses SET public_name = COALESCE($2, public_name), updated_at = $3, version = $4 WHERE id = $1`,
			id, e.PublicName, at, seq)
		if e.ReplaceProperties {
			b.Queue(`DELETE FROM wallet_address_properties WHERE wallet_address_id = $1`, id)
			queueProperties(b, id, e.AdditionalProperties)
		}
	case *events.WalletAddressDeactivated:
		b.Queue(`UPDATE wallet_addresses SET deactivated_at = $2, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	case *events.WalletAddressActivated:
		b.Queue(`UPDATE wallet_addresses SET deactivated_at = NULL, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	}
	return nil
}

func queueProperties(b *pgx.Batch, walletAddressID string, props []events.Property) {
	for i, p := range props {
		b.Queue(`INSERT INTO wallet_address_properties (wallet_address_id, position, key, value, visible) VALUES ($1, $2, $3, $4, $5)`,
			walletAddressID, i, p.Key, p.Value, p.Visible)
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
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)`,
			id, env.TenantID, e.WalletAddressID, e.Kid, e.X, e.Alg, e.Kty, e.Crv, at, seq)
	case *events.WalletAddressKeyRevoked:
		b.Queue(`UPDATE wallet_address_keys SET revoked = true, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	}
	return nil
}
