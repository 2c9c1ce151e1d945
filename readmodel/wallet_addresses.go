package readmodel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// WalletAddress is a row of the wallet addresses read model, with its
// asset (deleted or not), read in the same query.
type WalletAddress struct {
	ID            string
	TenantID      string
	AssetID       string
	Asset         Asset
	Address       string
	PublicName    *string
	CreatedAt     time.Time
	DeactivatedAt *time.Time
	// Version is the sequence of the last event applied to the row.
	Version uint64
}

// Active tells whether the wallet address is not deactivated.
func (w WalletAddress) Active() bool { return w.DeactivatedAt == nil }

// Property is an additional property of a wallet address.
type Property struct {
	Key, Value string
	Visible    bool
}

// Key is a wallet address's public key.
type Key struct {
	ID              string
	WalletAddressID string
	Kid, X, Alg     string
	Kty, Crv        string
	Revoked         bool
	CreatedAt       time.Time
}

const walletAddressColumns = `w.id::text, w.tenant_id::text, w.asset_id::text, w.address, w.public_name,
	w.created_at, w.deactivated_at, w.version,
	a.tenant_id::text, a.code, a.scale, a.ledger, a.withdrawal_threshold, a.liquidity_threshold, a.created_at`

const walletAddressFrom = `rm_wallet_addresses.wallet_addresses w JOIN rm_assets.assets a ON a.id = w.asset_id`

func scanWalletAddress(row pgx.Row) (WalletAddress, string, error) {
	var w WalletAddress
	var version int64
	var scale int16
	var ledger int32
	a := &w.Asset
	err := row.Scan(&w.ID, &w.TenantID, &w.AssetID, &w.Address, &w.PublicName, &w.CreatedAt, &w.DeactivatedAt, &version,
		&a.TenantID, &a.Code, &scale, &ledger, &a.WithdrawalThreshold, &a.LiquidityThreshold, &a.CreatedAt)
	w.Version = uint64(version)
	a.ID, a.Scale, a.Ledger = w.AssetID, uint8(scale), uint32(ledger)
	return w, w.ID, err
}

func (r *Reader) oneWalletAddress(ctx context.Context, where string, args ...any) (*WalletAddress, error) {
	w, _, err := scanWalletAddress(r.pool.QueryRow(ctx, `SELECT `+walletAddressColumns+` FROM `+walletAddressFrom+` WHERE `+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wallet address: %w", err)
	}
	return &w, nil
}

// WalletAddress finds a wallet address by id; tenantID, when set, must own it.
func (r *Reader) WalletAddress(ctx context.Context, id string, tenantID *string) (*WalletAddress, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, nil
	}
	return r.oneWalletAddress(ctx, `w.id = $1 AND ($2::uuid IS NULL OR w.tenant_id = $2::uuid)`, id, tenantID)
}

// WalletAddressByURL finds a wallet address by its URL, compared in lower case.
func (r *Reader) WalletAddressByURL(ctx context.Context, url string, tenantID *string) (*WalletAddress, error) {
	if !utf8.ValidString(url) || strings.IndexByte(url, 0) >= 0 {
		// No row holds it, and Postgres refuses to be asked.
		return nil, nil
	}
	return r.oneWalletAddress(ctx, `w.address = $1 AND ($2::uuid IS NULL OR w.tenant_id = $2::uuid)`, strings.ToLower(url), tenantID)
}

// WalletAddresses lists wallet addresses, of one tenant when tenantID is set.
func (r *Reader) WalletAddresses(ctx context.Context, tenantID *string, p Page) ([]WalletAddress, PageInfo, error) {
	q := listQuery{table: "rm_wallet_addresses.wallet_addresses", columns: "id::text",
		where: "($1::uuid IS NULL OR tenant_id = $1::uuid)", owner: "$1::uuid IS NULL OR tenant_id = $1::uuid", args: []any{tenantID}}
	ids, info, err := pageOf(ctx, r.pool, q, p, func(row pgx.Row) (string, string, error) {
		var id string
		err := row.Scan(&id)
		return id, id, err
	})
	if err != nil || len(ids) == 0 {
		return nil, info, err
	}
	rows, err := r.pool.Query(ctx, `SELECT `+walletAddressColumns+` FROM `+walletAddressFrom+` WHERE w.id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, info, fmt.Errorf("wallet addresses: %w", err)
	}
	byID := map[string]WalletAddress{}
	for rows.Next() {
		w, _, err := scanWalletAddress(rows)
		if err != nil {
			rows.Close()
			return nil, info, err
		}
		byID[w.ID] = w
	}
	rows.Close()
	out := make([]WalletAddress, 0, len(ids))
	for _, id := range ids {
		if w, ok := byID[id]; ok {
			out = append(out, w)
		}
	}
	return out, info, rows.Err()
}

// Properties lists a wallet address's additional properties in order;
// visibleOnly keeps those shown in Open Payments.
func (r *Reader) Properties(ctx context.Context, walletAddressID string, visibleOnly bool) ([]Property, error) {
	rows, err := r.pool.Query(ctx, `SELECT key, value, visible FROM rm_wallet_addresses.wallet_address_properties
		WHERE wallet_address_id = $1 AND (visible OR NOT $2) ORDER BY position`, walletAddressID, visibleOnly)
	if err != nil {
		return nil, fmt.Errorf("wallet address properties: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Property, error) {
		var p Property
		err := row.Scan(&p.Key, &p.Value, &p.Visible)
		return p, err
	})
}

const keyColumns = `id::text, wallet_address_id::text, kid, x, alg, kty, crv, revoked, created_at`

func scanKey(row pgx.Row) (Key, string, error) {
	var k Key
	err := row.Scan(&k.ID, &k.WalletAddressID, &k.Kid, &k.X, &k.Alg, &k.Kty, &k.Crv, &k.Revoked, &k.CreatedAt)
	return k, k.ID, err
}

// ActiveKeys lists a wallet address's keys that are not revoked.
func (r *Reader) ActiveKeys(ctx context.Context, walletAddressID string) ([]Key, error) {
	rows, err := r.pool.Query(ctx, `SELECT `+keyColumns+` FROM rm_wallet_address_keys.wallet_address_keys
		WHERE wallet_address_id = $1 AND NOT revoked ORDER BY created_at, id`, walletAddressID)
	if err != nil {
		return nil, fmt.Errorf("wallet address keys: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Key, error) {
		k, _, err := scanKey(row)
		return k, err
	})
}

// Keys lists a wallet address's keys, revoked ones included.
func (r *Reader) Keys(ctx context.Context, walletAddressID string, p Page) ([]Key, PageInfo, error) {
	q := listQuery{table: "rm_wallet_address_keys.wallet_address_keys", columns: keyColumns,
		where: "wallet_address_id = $1", owner: "wallet_address_id = $1", args: []any{walletAddressID}}
	return pageOf(ctx, r.pool, q, p, scanKey)
}

// Key finds a key by id.
func (r *Reader) Key(ctx context.Context, id string) (*Key, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, nil
	}
	k, _, err := scanKey(r.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM rm_wallet_address_keys.wallet_address_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wallet address key %s: %w", id, err)
	}
	return &k, nil
}
