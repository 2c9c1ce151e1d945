package readmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/ledger"
)

// IncomingPayment is a row of the incoming payments read model.
type IncomingPayment struct {
	ID                  string
	TenantID            string
	WalletAddressID     string
	AssetID             string
	AssetCode           string
	AssetScale          uint8
	State               string
	IncomingAmount      *uint64
	ReceivedAmount      uint64
	ExpiresAt           time.Time
	Metadata            json.RawMessage
	Client              *string
	InitiatedBy         string
	SenderWalletAddress *string
	ApprovedAt          *time.Time
	CancelledAt         *time.Time
	CancellationReason  *string
	CreatedAt           time.Time
}

// IncomingPaymentFilter narrows a list of incoming payments; empty fields
// do not.
type IncomingPaymentFilter struct {
	TenantScope     *string
	WalletAddressID *string
	// InitiatedByIn and InitiatedByNotIn select by who made the payment.
	InitiatedByIn, InitiatedByNotIn []string
	// Client, when set, keeps the payments that Open Payments client made;
	// ClientKey those a client known by its key alone made (its thumbprint).
	Client    *string
	ClientKey *string
}

const incomingPaymentColumns = `id::text, tenant_id::text, wallet_address_id::text, asset_id::text, asset_code, asset_scale,
	state, incoming_amount, received_amount, expires_at, metadata, client, initiated_by, sender_wallet_address,
	approved_at, cancelled_at, cancellation_reason, created_at`

func scanIncomingPayment(row pgx.Row) (IncomingPayment, string, error) {
	var p IncomingPayment
	var scale int16
	var metadata []byte
	err := row.Scan(&p.ID, &p.TenantID, &p.WalletAddressID, &p.AssetID, &p.AssetCode, &scale,
		&p.State, &p.IncomingAmount, &p.ReceivedAmount, &p.ExpiresAt, &metadata, &p.Client, &p.InitiatedBy, &p.SenderWalletAddress,
		&p.ApprovedAt, &p.CancelledAt, &p.CancellationReason, &p.CreatedAt)
	p.AssetScale, p.Metadata = uint8(scale), metadata
	return p, p.ID, err
}

// Due is an open incoming payment past its expiry.
type Due struct {
	ID        string
	ExpiresAt time.Time
}

// IncomingPaymentsDue lists the open payments that expired before before,
// those that expired first first, after the one after when it is set, at
// most limit.
func (r *Reader) IncomingPaymentsDue(ctx context.Context, before time.Time, after *Due, limit int) ([]Due, error) {
	var afterAt *time.Time
	var afterID *string
	if after != nil {
		afterAt, afterID = &after.ExpiresAt, &after.ID
	}
	rows, err := r.pool.Query(ctx, `SELECT id::text, expires_at FROM rm_incoming_payments.incoming_payments
		WHERE state IN ('PENDING', 'PROCESSING') AND deleted_at IS NULL AND expires_at < $1
			AND ($3::timestamptz IS NULL OR (expires_at, id) > ($3, $4::uuid))
		ORDER BY expires_at, id LIMIT $2`, before, limit, afterAt, afterID)
	if err != nil {
		return nil, fmt.Errorf("incoming payments due: %w", err)
	}
	due, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Due])
	if err != nil {
		return nil, fmt.Errorf("incoming payments due: %w", err)
	}
	return due, nil
}

// IncomingPayment finds an incoming payment by id, but for one deleted
// (expired without money); tenantScope, when set, must own it.
func (r *Reader) IncomingPayment(ctx context.Context, id string, tenantScope *string) (*IncomingPayment, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, nil
	}
	p, _, err := scanIncomingPayment(r.pool.QueryRow(ctx, `SELECT `+incomingPaymentColumns+` FROM rm_incoming_payments.incoming_payments
		WHERE id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR tenant_id = $2::uuid)`, id, tenantScope))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("incoming payment %s: %w", id, err)
	}
	if p.ReceivedAmount, err = r.Received(ctx, p.ID, p.ReceivedAmount); err != nil {
		return nil, err
	}
	return &p, nil
}

// Received is what the ledger holds as received by an incoming payment, or
// recorded, the payment's own record when the ledger has no account for it
// or the reader no ledger.
func (r *Reader) Received(ctx context.Context, id string, recorded uint64) (uint64, error) {
	if r.ledger == nil {
		return recorded, nil
	}
	account, err := uuid.Parse(id)
	if err != nil {
		return 0, fmt.Errorf("incoming payment id %q: %w", id, err)
	}
	total, err := r.ledger.TotalReceived(ctx, account)
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return recorded, nil
	}
	if err != nil {
		return 0, fmt.Errorf("received by incoming payment %s: %w", id, err)
	}
	return total, nil
}

// received sets what each payment received from the ledger, in one request
// when every payment has an account there.
func (r *Reader) received(ctx context.Context, ps []IncomingPayment) error {
	if r.ledger == nil || len(ps) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(ps))
	for i, p := range ps {
		id, err := uuid.Parse(p.ID)
		if err != nil {
			return fmt.Errorf("incoming payment id %q: %w", p.ID, err)
		}
		ids[i] = id
	}
	totals, err := r.ledger.TotalsReceived(ctx, ids)
	if errors.Is(err, ledger.ErrUnknownAccount) {
		// Some were never paid: each is asked on its own.
		for i := range ps {
			if ps[i].ReceivedAmount, err = r.Received(ctx, ps[i].ID, ps[i].ReceivedAmount); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("received by incoming payments: %w", err)
	}
	for i := range ps {
		ps[i].ReceivedAmount = totals[i]
	}
	return nil
}

// IncomingPayments lists incoming payments but deleted ones, as f narrows
// them.
func (r *Reader) IncomingPayments(ctx context.Context, f IncomingPaymentFilter, p Page) ([]IncomingPayment, PageInfo, error) {
	if f.WalletAddressID != nil {
		if _, err := uuid.Parse(*f.WalletAddressID); err != nil {
			return nil, PageInfo{}, nil
		}
	}
	q := listQuery{table: "rm_incoming_payments.incoming_payments", columns: incomingPaymentColumns,
		where: `deleted_at IS NULL AND ($1::uuid IS NULL OR tenant_id = $1::uuid) AND ($2::uuid IS NULL OR wallet_address_id = $2::uuid)
			AND (cardinality($3::text[]) = 0 OR initiated_by = ANY($3::text[])) AND NOT (initiated_by = ANY($4::text[]))
			AND ($5::text IS NULL OR client = $5::text) AND ($6::text IS NULL OR client_key = $6::text)`,
		owner: `($1::uuid IS NULL OR tenant_id = $1::uuid) AND ($2::uuid IS NULL OR wallet_address_id = $2::uuid)
			AND ($5::text IS NULL OR client = $5::text) AND ($6::text IS NULL OR client_key = $6::text)`,
		args: []any{f.TenantScope, f.WalletAddressID, nonNil(f.InitiatedByIn), nonNil(f.InitiatedByNotIn), f.Client, f.ClientKey}}
	rows, info, err := pageOf(ctx, r.pool, q, p, scanIncomingPayment)
	if err != nil {
		return nil, PageInfo{}, err
	}
	if err := r.received(ctx, rows); err != nil {
		return nil, PageInfo{}, err
	}
	return rows, info, nil
}

// nonNil makes an absent list an empty array rather than NULL.
func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
