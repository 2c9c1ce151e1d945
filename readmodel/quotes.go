package readmodel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Quote is a row of the quotes read model.
type Quote struct {
	ID                    string
	TenantID              string
	WalletAddressID       string
	AssetCode             string
	AssetScale            uint8
	Receiver              string
	DebitAmount           uint64
	ReceiveAmount         uint64
	ReceiveAssetCode      string
	ReceiveAssetScale     uint8
	EstimatedExchangeRate float64
	ExpiresAt             time.Time
	CreatedAt             time.Time
}

const quoteColumns = `id::text, tenant_id::text, wallet_address_id::text, asset_code, asset_scale, receiver, debit_amount,
	receive_amount, receive_asset_code, receive_asset_scale, estimated_exchange_rate, expires_at, created_at`

func scanQuote(row pgx.Row) (Quote, string, error) {
	var q Quote
	var scale, receiveScale int16
	err := row.Scan(&q.ID, &q.TenantID, &q.WalletAddressID, &q.AssetCode, &scale, &q.Receiver, &q.DebitAmount,
		&q.ReceiveAmount, &q.ReceiveAssetCode, &receiveScale, &q.EstimatedExchangeRate, &q.ExpiresAt, &q.CreatedAt)
	q.AssetScale, q.ReceiveAssetScale = uint8(scale), uint8(receiveScale)
	return q, q.ID, err
}

// Quote finds a quote by id; tenantScope, when set, must own it.
func (r *Reader) Quote(ctx context.Context, id string, tenantScope *string) (*Quote, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, nil
	}
	q, _, err := scanQuote(r.pool.QueryRow(ctx, `SELECT `+quoteColumns+` FROM rm_quotes.quotes
		WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2::uuid)`, id, tenantScope))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quote %s: %w", id, err)
	}
	return &q, nil
}

// Quotes lists a wallet address's quotes.
func (r *Reader) Quotes(ctx context.Context, walletAddressID string, p Page) ([]Quote, PageInfo, error) {
	if _, err := uuid.Parse(walletAddressID); err != nil {
		return nil, PageInfo{}, nil
	}
	q := listQuery{table: "rm_quotes.quotes", columns: quoteColumns, where: `wallet_address_id = $1::uuid`,
		owner: `wallet_address_id = $1::uuid`, args: []any{walletAddressID}}
	return pageOf(ctx, r.pool, q, p, scanQuote)
}
