package readmodel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Asset is a row of the assets read model.
type Asset struct {
	ID                  string
	TenantID            string
	Code                string
	Scale               uint8
	Ledger              uint32
	WithdrawalThreshold *uint64
	LiquidityThreshold  *uint64
	CreatedAt           time.Time
}

// Fee is one fee set on an asset.
type Fee struct {
	ID          string
	AssetID     string
	Type        string
	Fixed       uint64
	BasisPoints int
	CreatedAt   time.Time
}

const assetColumns = `id::text, tenant_id::text, code, scale, ledger, withdrawal_threshold, liquidity_threshold, created_at`

func scanAsset(row pgx.Row) (Asset, string, error) {
	var a Asset
	var scale int16
	var ledger int32
	err := row.Scan(&a.ID, &a.TenantID, &a.Code, &scale, &ledger, &a.WithdrawalThreshold, &a.LiquidityThreshold, &a.CreatedAt)
	a.Scale, a.Ledger = uint8(scale), uint32(ledger)
	return a, a.ID, err
}

func (r *Reader) oneAsset(ctx context.Context, sql string, args ...any) (*Asset, error) {
	a, _, err := scanAsset(r.pool.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("asset: %w", err)
	}
	return &a, nil
}

// Asset finds a live asset by id; tenantID, when set, must own it.
func (r *Reader) Asset(ctx context.Context, id string, tenantID *string) (*Asset, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, nil
	}
	return r.oneAsset(ctx, `SELECT `+assetColumns+` FROM rm_assets.assets
		WHERE id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR tenant_id = $2::uuid)`, id, tenantID)
}

// AssetIncludingDeleted finds an asset by id even when it is deleted, for
// objects that still hold it.
func (r *Reader) AssetIncludingDeleted(ctx context.Context, id string) (*Asset, error) {
	return r.oneAsset(ctx, `SELECT `+assetColumns+` FROM rm_assets.assets WHERE id = $1`, id)
}

// AssetInUse tells whether a live peer or any wallet address holds an asset.
func (r *Reader) AssetInUse(ctx context.Context, id string) (bool, error) {
	var used bool
	err := r.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rm_peers.peers WHERE asset_id = $1 AND deleted_at IS NULL)
		OR EXISTS (SELECT 1 FROM rm_wallet_addresses.wallet_addresses WHERE asset_id = $1)`, id).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("asset %s in use: %w", id, err)
	}
	return used, nil
}

// AssetByCodeAndScale finds a tenant's live asset by code and scale.
func (r *Reader) AssetByCodeAndScale(ctx context.Context, tenantID, code string, scale uint8) (*Asset, error) {
	return r.oneAsset(ctx, `SELECT `+assetColumns+` FROM rm_assets.assets
		WHERE tenant_id = $1 AND code = $2 AND scale = $3 AND deleted_at IS NULL`, tenantID, code, int16(scale))
}

// Assets lists live assets, of one tenant when tenantID is set.
func (r *Reader) Assets(ctx context.Context, tenantID *string, p Page) ([]Asset, PageInfo, error) {
	q := listQuery{table: "rm_assets.assets", columns: assetColumns,
		where: "deleted_at IS NULL AND ($1::uuid IS NULL OR tenant_id = $1::uuid)", owner: "$1::uuid IS NULL OR tenant_id = $1::uuid",
		args: []any{tenantID}}
	return pageOf(ctx, r.pool, q, p, scanAsset)
}

const feeColumns = `id::text, asset_id::text, type, fixed, basis_points, created_at`

func scanFee(row pgx.Row) (Fee, string, error) {
	var f Fee
	err := row.Scan(&f.ID, &f.AssetID, &f.Type, &f.Fixed, &f.BasisPoints, &f.CreatedAt)
	return f, f.ID, err
}

// Fee finds a fee by id.
func (r *Reader) Fee(ctx context.Context, id string) (*Fee, error) {
	f, _, err := scanFee(r.pool.QueryRow(ctx, `SELECT `+feeColumns+` FROM rm_assets.fees WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fee %s: %w", id, err)
	}
	return &f, nil
}

// LatestFee is the fee of a type that applies to an asset now.
func (r *Reader) LatestFee(ctx context.Context, assetID, feeType string) (*Fee, error) {
	f, _, err := scanFee(r.pool.QueryRow(ctx, `SELECT `+feeColumns+` FROM rm_assets.fees
		WHERE asset_id = $1 AND type = $2 ORDER BY sequence DESC LIMIT 1`, assetID, feeType))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("latest fee of %s: %w", assetID, err)
	}
	return &f, nil
}

// Fees lists every fee set on an asset.
func (r *Reader) Fees(ctx context.Context, assetID string, p Page) ([]Fee, PageInfo, error) {
	q := listQuery{table: "rm_assets.fees", columns: feeColumns, where: "asset_id = $1", owner: "asset_id = $1", args: []any{assetID}}
	return pageOf(ctx, r.pool, q, p, scanFee)
}
