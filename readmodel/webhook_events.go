package readmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// WebhookEvent is a webhook event as the webhooks read model holds it.
type WebhookEvent struct {
	ID        string
	TenantID  string
	Type      string
	Data      json.RawMessage
	CreatedAt time.Time
}

// WebhookEventFilter narrows the list of webhook events; empty fields do
// not.
type WebhookEventFilter struct {
	TenantScope       *string
	TypeIn, TypeNotIn []string
}

const webhookEventColumns = `id::text, tenant_id::text, type, data, created_at`

func scanWebhookEvent(row pgx.Row) (WebhookEvent, string, error) {
	var e WebhookEvent
	var data []byte
	err := row.Scan(&e.ID, &e.TenantID, &e.Type, &data, &e.CreatedAt)
	e.Data = data
	return e, e.ID, err
}

// WebhookEvents lists webhook events as f narrows them.
func (r *Reader) WebhookEvents(ctx context.Context, f WebhookEventFilter, p Page) ([]WebhookEvent, PageInfo, error) {
	q := listQuery{table: "rm_webhooks.webhook_events", columns: webhookEventColumns,
		where: `($1::uuid IS NULL OR tenant_id = $1::uuid) AND (cardinality($2::text[]) = 0 OR type = ANY($2::text[]))
			AND NOT (type = ANY($3::text[]))`,
		owner: `$1::uuid IS NULL OR tenant_id = $1::uuid`,
		args:  []any{f.TenantScope, nonNil(f.TypeIn), nonNil(f.TypeNotIn)}}
	return pageOf(ctx, r.pool, q, p, scanWebhookEvent)
}

// WebhookWithdrawal is the money a webhook event tells the account
// servicing entity to withdraw: an incoming payment's when it completed or
// expired.
type WebhookWithdrawal struct {
	EventID, Type      string
	AccountID, AssetID string
	Amount             uint64
	IncomingPaymentID  *string
}

// WebhookWithdrawal finds the withdrawal of a webhook event in scope (any
// tenant's when scope is nil); nil when there is no such event or it tells
// of no withdrawal.
func (r *Reader) WebhookWithdrawal(ctx context.Context, eventID string, scope *string) (*WebhookWithdrawal, error) {
	var w WebhookWithdrawal
	err := r.pool.QueryRow(ctx, `SELECT id::text, type, withdrawal_account_id::text, withdrawal_asset_id::text, withdrawal_amount,
			incoming_payment_id::text
		FROM rm_webhooks.webhook_events WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2::uuid) AND withdrawal_account_id IS NOT NULL`,
		eventID, scope).Scan(&w.EventID, &w.Type, &w.AccountID, &w.AssetID, &w.Amount, &w.IncomingPaymentID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("webhook event %s: %w", eventID, err)
	}
	return &w, nil
}

// WebhookEventOf is the type of a webhook event in scope (any tenant's when
// scope is nil) and the id of the object it tells of; found is false when
// there is no such event.
func (r *Reader) WebhookEventOf(ctx context.Context, eventID string, scope *string) (typ, objectID string, found bool, err error) {
	err = r.pool.QueryRow(ctx, `SELECT type, coalesce(data->>'id', '') FROM rm_webhooks.webhook_events
		WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2::uuid)`, eventID, scope).Scan(&typ, &objectID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("webhook event %s: %w", eventID, err)
	}
	return typ, objectID, true, nil
}

// WalletAddressTold is a wallet address and the money received outside
// incoming payments that its wallet_address.web_monetization webhook
// events told of.
type WalletAddressTold struct {
	ID   string
	Told uint64
}

// WalletAddressesTold lists up to n wallet addresses in scope (every
// tenant's when nil) by id, from the one after after (any when ""), with
// what their webhook events told.
func (r *Reader) WalletAddressesTold(ctx context.Context, scope *string, after string, n int) ([]WalletAddressTold, error) {
	var from *string
	if after != "" {
		from = &after
	}
	rows, err := r.pool.Query(ctx, `SELECT w.id::text, coalesce((SELECT sum(e.withdrawal_amount) FROM rm_webhooks.webhook_events e
			WHERE e.withdrawal_account_id = w.id AND e.type = 'wallet_address.web_monetization'), 0)
		FROM rm_wallet_addresses.wallet_addresses w
		WHERE ($1::uuid IS NULL OR w.tenant_id = $1::uuid) AND ($2::uuid IS NULL OR w.id > $2::uuid)
		ORDER BY w.id LIMIT $3`, scope, from, n)
	if err != nil {
		return nil, fmt.Errorf("wallet addresses told: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (WalletAddressTold, error) {
		var w WalletAddressTold
		err := row.Scan(&w.ID, &w.Told)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("wallet addresses told: %w", err)
	}
	return out, nil
}
