package readmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// OutgoingPayment is a row of the outgoing payments read model. Its id is
// its quote's. Amounts are in the wallet address's asset (AssetCode,
// AssetScale) but ReceiveAmount and Delivered, in the receiver's.
type OutgoingPayment struct {
	ID                   string
	TenantID             string
	WalletAddressID      string
	AssetID              string
	AssetCode            string
	AssetScale           uint8
	State                string
	Error                *string
	StateAttempts        int
	Receiver             string
	DebitAmount          uint64
	DebitAmountMinusFees uint64
	ReceiveAmount        uint64
	ReceiveAssetCode     string
	ReceiveAssetScale    uint8
	Metadata             json.RawMessage
	Client               *string
	GrantID              *string
	InitiatedBy          string
	Sent                 uint64
	Delivered            uint64
	CreatedAt            time.Time
}

// OutgoingPaymentFilter narrows a list of outgoing payments; empty fields
// do not.
type OutgoingPaymentFilter struct {
	TenantScope     *string
	WalletAddressID *string
	// ReceiverIn, WalletAddressIDIn and StateIn keep the payments to these
	// receivers, from these wallet addresses, in these states.
	ReceiverIn, WalletAddressIDIn, StateIn []string
	// Client, when set, keeps the payments that Open Payments client made.
	Client *string
}

const outgoingPaymentColumns = `id::text, tenant_id::text, wallet_address_id::text, asset_id::text, asset_code, asset_scale, state,
	error, state_attempts, receiver, debit_amount, debit_amount_minus_fees, receive_amount, receive_asset_code, receive_asset_scale,
	metadata, client, grant_id, initiated_by, sent, delivered, created_at`

func scanOutgoingPayment(row pgx.Row) (OutgoingPayment, string, error) {
	var p OutgoingPayment
	var scale, receiveScale int16
	var attempts int32
	var metadata []byte
	err := row.Scan(&p.ID, &p.TenantID, &p.WalletAddressID, &p.AssetID, &p.AssetCode, &scale, &p.State,
		&p.Error, &attempts, &p.Receiver, &p.DebitAmount, &p.DebitAmountMinusFees, &p.ReceiveAmount, &p.ReceiveAssetCode, &receiveScale,
		&metadata, &p.Client, &p.GrantID, &p.InitiatedBy, &p.Sent, &p.Delivered, &p.CreatedAt)
	p.AssetScale, p.ReceiveAssetScale, p.StateAttempts, p.Metadata = uint8(scale), uint8(receiveScale), int(attempts), metadata
	return p, p.ID, err
}

// OutgoingPayment finds an outgoing payment by id; tenantScope, when set,
// must own it.
func (r *Reader) OutgoingPayment(ctx context.Context, id string, tenantScope *string) (*OutgoingPayment, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, nil
	}
	p, _, err := scanOutgoingPayment(r.pool.QueryRow(ctx, `SELECT `+outgoingPaymentColumns+` FROM rm_outgoing_payments.outgoing_payments
		WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2::uuid)`, id, tenantScope))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outgoing payment %s: %w", id, err)
	}
	return &p, nil
}

// OutgoingPayments lists outgoing payments as f narrows them. Ids that are
// no UUIDs match no payment.
func (r *Reader) OutgoingPayments(ctx context.Context, f OutgoingPaymentFilter, p Page) ([]OutgoingPayment, PageInfo, error) {
	if f.WalletAddressID != nil {
		if _, err := uuid.Parse(*f.WalletAddressID); err != nil {
			return nil, PageInfo{}, nil
		}
	}
	var walletAddressIDs []string
	for _, v := range f.WalletAddressIDIn {
		if id, err := uuid.Parse(v); err == nil {
			walletAddressIDs = append(walletAddressIDs, id.String())
		}
	}
	q := listQuery{table: "rm_outgoing_payments.outgoing_payments", columns: outgoingPaymentColumns,
		where: `($1::uuid IS NULL OR tenant_id = $1::uuid) AND ($2::uuid IS NULL OR wallet_address_id = $2::uuid)
			AND (cardinality($3::text[]) = 0 OR receiver = ANY($3::text[]))
			AND (NOT $4::boolean OR wallet_address_id = ANY($5::text[]::uuid[]))
			AND (cardinality($6::text[]) = 0 OR state = ANY($6::text[])) AND ($7::text IS NULL OR client = $7::text)`,
		owner: `($1::uuid IS NULL OR tenant_id = $1::uuid) AND ($2::uuid IS NULL OR wallet_address_id = $2::uuid)
			AND (NOT $4::boolean OR wallet_address_id = ANY($5::text[]::uuid[])) AND ($7::text IS NULL OR client = $7::text)`,
		args: []any{f.TenantScope, f.WalletAddressID, nonNil(f.ReceiverIn), len(f.WalletAddressIDIn) > 0, nonNil(walletAddressIDs),
			nonNil(f.StateIn), f.Client}}
	return pageOf(ctx, r.pool, q, p, scanOutgoingPayment)
}

// GrantSpent is what the payments of a grant hold of its limits: what they
// took less what they gave back, in the assets of its latest payment.
type GrantSpent struct {
	DebitAmount       uint64
	DebitAssetCode    string
	DebitAssetScale   uint8
	ReceiveAmount     uint64
	ReceiveAssetCode  string
	ReceiveAssetScale uint8
}

// GrantSpent is what a grant's payments spent, as Rafiki answers it: nil
// when none spent anything; when the grant's limits repeat, what the
// payments of the current interval spent (the interval of its latest
// payment, when it holds at), nothing when no payment was made in it;
// otherwise what all of them spent.
func (r *Reader) GrantSpent(ctx context.Context, grantID string, repeating bool, at time.Time) (*GrantSpent, error) {
	var out GrantSpent
	var start, end *time.Time
	var scale, receiveScale int16
	err := r.pool.QueryRow(ctx, `SELECT s.interval_start, s.interval_end, p.asset_code, p.asset_scale, p.receive_asset_code,
			p.receive_asset_scale
		FROM rm_outgoing_payment_grants.grant_spends s JOIN rm_outgoing_payments.outgoing_payments p ON p.id = s.outgoing_payment_id
		WHERE s.grant_id = $1 ORDER BY s.created_version DESC LIMIT 1`, grantID).
		Scan(&start, &end, &out.DebitAssetCode, &scale, &out.ReceiveAssetCode, &receiveScale)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spending of grant %s: %w", grantID, err)
	}
	out.DebitAssetScale, out.ReceiveAssetScale = uint8(scale), uint8(receiveScale)
	if repeating && (start == nil || end == nil || at.Before(*start) || !at.Before(*end)) {
		return &out, nil
	}
	err = r.pool.QueryRow(ctx, `SELECT coalesce(sum(debit_amount), 0), coalesce(sum(receive_amount), 0)
		FROM rm_outgoing_payment_grants.grant_spends
		WHERE grant_id = $1 AND (NOT $2::boolean OR (interval_start = $3 AND interval_end = $4))`,
		grantID, repeating, start, end).Scan(&out.DebitAmount, &out.ReceiveAmount)
	if err != nil {
		return nil, fmt.Errorf("spending of grant %s: %w", grantID, err)
	}
	return &out, nil
}
