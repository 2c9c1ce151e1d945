package projections

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) ON CONFLICT (id) DO NOTHING`,
			id, env.TenantID, e.Code, int16(e.Scale), int32(e.Ledger), e.WithdrawalThreshold, e.LiquidityThreshold, at, seq)
	case *events.AssetThresholdsSet:
		b.Queue(`UPDATE assets SET withdrawal_threshold = $2, liquidity_threshold = $3, updated_at = $4, version = $5 WHERE id = $1`,
			id, e.WithdrawalThreshold, e.LiquidityThreshold, at, seq)
	case *events.AssetDeleted:
		b.Queue(`UPDATE assets SET deleted_at = $2, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	case *events.AssetReactivated:
		b.Queue(`UPDATE assets SET deleted_at = NULL, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	case *events.FeeSet:
		b.Queue(`INSERT INTO fees (id, asset_id, type, fixed, basis_points, created_at, sequence) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO NOTHING`,
			e.FeeID, id, e.Type, e.Fixed, e.BasisPoints, at, seq)
	}
	return nil
}

// NewFold folds assets and their fees in memory for a replay.
func (Assets) NewFold() Fold { return &assetsFold{} }

type assetRow struct {
	id, tenantID                            pgtype.UUID
	code                                    string
	scale                                   int16
	ledger                                  int32
	withdrawalThreshold, liquidityThreshold *uint64
	createdAt, updatedAt                    time.Time
	deletedAt                               *time.Time
	version                                 int64
	fees                                    []feeRow
}

type feeRow struct {
	id          pgtype.UUID
	typ         string
	fixed       uint64
	basisPoints int
	createdAt   time.Time
	sequence    int64
}

type assetsFold struct {
	assets held[assetRow]
	rows   int
}

func (f *assetsFold) Rows() int { return f.rows }

func (f *assetsFold) Add(env events.Envelope, ev events.Event) (bool, error) {
	at, seq := env.Time, int64(env.Sequence)
	if e, ok := ev.(*events.AssetCreated); ok {
		id, err := pgUUID(env.AggregateID)
		if err != nil {
			return false, err
		}
		tenantID, err := pgUUID(env.TenantID)
		if err != nil {
			return false, err
		}
		a := &assetRow{id: id, tenantID: tenantID, code: e.Code, scale: int16(e.Scale), ledger: int32(e.Ledger),
			withdrawalThreshold: e.WithdrawalThreshold, liquidityThreshold: e.LiquidityThreshold,
			createdAt: at, updatedAt: at, version: seq}
		if !f.assets.add(env.AggregateID, a) {
			return true, nil
		}
		f.rows++
		return true, nil
	}
	a, ok := f.assets.get(env.AggregateID)
	switch e := ev.(type) {
	case *events.AssetThresholdsSet:
		if !ok {
			return false, nil
		}
		a.withdrawalThreshold, a.liquidityThreshold = e.WithdrawalThreshold, e.LiquidityThreshold
	case *events.AssetDeleted:
		if !ok {
			return false, nil
		}
		a.deletedAt = &at
	case *events.AssetReactivated:
		if !ok {
			return false, nil
		}
		a.deletedAt = nil
	case *events.FeeSet:
		if !ok {
			return false, nil
		}
		// A fee is a row of its own; the asset's row does not change.
		feeID, err := pgUUID(e.FeeID)
		if err != nil {
			return false, err
		}
		for _, fee := range a.fees {
			if fee.id == feeID {
				return true, nil // stored twice: the first stays, as with ON CONFLICT DO NOTHING
			}
		}
		a.fees = append(a.fees, feeRow{id: feeID, typ: e.Type, fixed: e.Fixed, basisPoints: e.BasisPoints, createdAt: at, sequence: seq})
		f.rows++
		return true, nil
	default:
		return true, nil
	}
	a.updatedAt, a.version = at, seq
	return true, nil
}

func (f *assetsFold) Flush() []CopyRows {
	as := f.assets.take()
	f.rows = 0
	return []CopyRows{
		copyRows("assets", []string{"id", "tenant_id", "code", "scale", "ledger", "withdrawal_threshold", "liquidity_threshold",
			"created_at", "updated_at", "deleted_at", "version"}, as, func(a *assetRow, v []any) {
			v[0], v[1], v[2], v[3], v[4], v[5], v[6] = &a.id, &a.tenantID, &a.code, &a.scale, &a.ledger, a.withdrawalThreshold, a.liquidityThreshold
			v[7], v[8], v[9], v[10] = &a.createdAt, &a.updatedAt, a.deletedAt, &a.version
		}),
		copyChildren("fees", []string{"id", "asset_id", "type", "fixed", "basis_points", "created_at", "sequence"}, as,
			func(a *assetRow) []feeRow { return a.fees },
			func(a *assetRow, fee *feeRow, _ int, v []any) {
				v[0], v[1], v[2], v[3], v[4], v[5], v[6] = &fee.id, &a.id, &fee.typ, &fee.fixed, &fee.basisPoints, &fee.createdAt, &fee.sequence
			}),
	}
}
