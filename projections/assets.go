package projections

import (
	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/events"
)

// Assets is the read model of assets and their fees.
type Assets struct{}

func (Assets) Name() string { return "assets" }

func (Assets) Tables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS assets (
			id                   uuid PRIMARY KEY,
			tenant_id            uuid NOT NULL,
			code                 text NOT NULL,
			scale                smallint NOT NULL,
			ledger               integer NOT NULL UNIQUE,
			withdrawal_threshold numeric(20),
			liquidity_threshold  numeric(20),
			created_at           timestamptz NOT NULL,
			updated_at           timestamptz NOT NULL,
			deleted_at           timestamptz,
			version              bigint NOT NULL,
			UNIQUE (tenant_id, code, scale)
		)`,
		`CREATE INDEX IF NOT EXISTS assets_page ON assets (created_at, id)`,
		`CREATE TABLE IF NOT EXISTS fees (
			id           uuid PRIMARY KEY,
			asset_id     uuid NOT NULL,
			type         text NOT NULL,
			fixed        numeric(20) NOT NULL,
			basis_points integer NOT NULL,
			created_at   timestamptz NOT NULL,
			sequence     bigint NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS fees_latest ON fees (asset_id, type, sequence)`,
		`CREATE INDEX IF NOT EXISTS fees_page ON fees (asset_id, created_at, id)`,
	}
}

func (Assets) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	id, at, seq := env.AggregateID, env.Time, int64(env.Sequence)
	switch e := ev.(type) {
	case *events.AssetCreated:
		b.Queue(`INSERT INTO assets (id, tenant_id, code, scale, ledger, withdrawal_threshold, liquidity_threshold, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)`,
			id, env.TenantID, e.Code, int16(e.Scale), int32(e.Ledger), e.WithdrawalThreshold, e.LiquidityThreshold, at, seq)
	case *events.AssetThresholdsSet:
		b.Queue(`UPDATE assets SET withdrawal_threshold = $2, liquidity_threshold = $3, updated_at = $4, version = $5 WHERE id = $1`,
			id, e.WithdrawalThreshold, e.LiquidityThreshold, at, seq)
	case *events.AssetDeleted:
		b.Queue(`UPDATE assets SET deleted_at = $2, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	case *events.AssetReactivated:
		b.Queue(`UPDATE assets SET deleted_at = NULL, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	case *events.FeeSet:
		b.Queue(`INSERT INTO fees (id, asset_id, type, fixed, basis_points, created_at, sequence) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			e.FeeID, id, e.Type, e.Fixed, e.BasisPoints, at, seq)
	}
	return nil
}
