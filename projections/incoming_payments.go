package projections

import (
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rafiki-go/rafiki/events"
)

// IncomingPayments is the read model of incoming payments, with what they
// received as their events tell it.
type IncomingPayments struct{}

func (IncomingPayments) Name() string { return "incoming_payments" }

func (IncomingPayments) Tables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS incoming_payments (
			id                    uuid PRIMARY KEY,
			tenant_id             uuid NOT NULL,
			wallet_address_id     uuid NOT NULL,
			asset_id              uuid NOT NULL,
			asset_code            text NOT NULL,
			asset_scale           smallint NOT NULL,
			state                 text NOT NULL,
			incoming_amount       numeric(20),
			received_amount       numeric(20) NOT NULL,
			expires_at            timestamptz NOT NULL,
			metadata              jsonb,
			client                text,
			client_key            text,
			initiated_by          text NOT NULL,
			sender_wallet_address text,
			approved_at           timestamptz,
			cancelled_at          timestamptz,
			cancellation_reason   text,
			deleted_at            timestamptz,
			created_at            timestamptz NOT NULL,
			updated_at            timestamptz NOT NULL,
			version               bigint NOT NULL
		)`,
		// Read models made before payments recorded a keyed client's
		// thumbprint: their earlier payments have none until a replay.
		`ALTER TABLE incoming_payments ADD COLUMN IF NOT EXISTS client_key text`,
		`CREATE INDEX IF NOT EXISTS incoming_payments_page ON incoming_payments (created_at, id)`,
		`CREATE INDEX IF NOT EXISTS incoming_payments_wallet_address ON incoming_payments (wallet_address_id, created_at, id)`,
		`CREATE INDEX IF NOT EXISTS incoming_payments_tenant ON incoming_payments (tenant_id, created_at, id)`,
		// The open payments by expiry, which the expiry worker reads.
		`CREATE INDEX IF NOT EXISTS incoming_payments_due ON incoming_payments (expires_at, id)
			WHERE state IN ('PENDING', 'PROCESSING') AND deleted_at IS NULL`,
	}
}

// States the read model shows, as the aggregate's.
const (
	paymentPending    = "PENDING"
	paymentProcessing = "PROCESSING"
	paymentCompleted  = "COMPLETED"
	paymentExpired    = "EXPIRED"
)

func jsonText(m json.RawMessage) *string {
	if len(m) == 0 {
		return nil
	}
	s := string(m)
	return &s
}

func (IncomingPayments) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	id, at, seq := env.AggregateID, env.Time, int64(env.Sequence)
	switch e := ev.(type) {
	case *events.IncomingPaymentCreated:
		b.Queue(`INSERT INTO incoming_payments (id, tenant_id, wallet_address_id, asset_id, asset_code, asset_scale, state,
				incoming_amount, received_amount, expires_at, metadata, client, client_key, initiated_by, sender_wallet_address,
				created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10::jsonb, $11, $12, $13, $14, $15, $15, $16) ON CONFLICT (id) DO NOTHING`,
			id, env.TenantID, e.WalletAddressID, e.AssetID, e.AssetCode, int16(e.AssetScale), paymentPending,
			e.IncomingAmount, e.ExpiresAt, jsonText(e.Metadata), nullable(e.Client), nullable(e.ClientKey), e.InitiatedBy,
			e.SenderWalletAddress, at, seq)
	case *events.IncomingPaymentUpdated:
		b.Queue(`UPDATE incoming_payments SET metadata = $2::jsonb, updated_at = $3, version = $4 WHERE id = $1`,
			id, jsonText(e.Metadata), at, seq)
	case *events.IncomingPaymentApproved:
		b.Queue(`UPDATE incoming_payments SET approved_at = $2, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
	case *events.IncomingPaymentCancelled:
		b.Queue(`UPDATE incoming_payments SET cancelled_at = $2, cancellation_reason = $3, updated_at = $2, version = $4 WHERE id = $1`,
			id, at, e.Reason, seq)
	case *events.IncomingPaymentReceived:
		b.Queue(`UPDATE incoming_payments SET received_amount = $2,
				state = CASE WHEN state = $3 THEN $4 ELSE state END, updated_at = $5, version = $6 WHERE id = $1`,
			id, e.Total, paymentPending, paymentProcessing, at, seq)
	case *events.IncomingPaymentCompleted:
		b.Queue(`UPDATE incoming_payments SET state = $2, updated_at = $3, version = $4 WHERE id = $1`, id, paymentCompleted, at, seq)
	case *events.IncomingPaymentExpired:
		// One that never received money is deleted, as Rafiki's.
		b.Queue(`UPDATE incoming_payments SET state = $2,
				deleted_at = CASE WHEN received_amount = 0 THEN $3 ELSE deleted_at END, updated_at = $3, version = $4 WHERE id = $1`,
			id, paymentExpired, at, seq)
	}
	return nil
}

// NewFold folds incoming payments in memory for a replay.
func (IncomingPayments) NewFold() Fold { return &incomingPaymentsFold{} }

type incomingPaymentRow struct {
	id, tenantID, walletAddressID, assetID pgtype.UUID
	assetCode                              string
	assetScale                             int16
	state                                  string
	incomingAmount                         *uint64
	receivedAmount                         uint64
	expiresAt                              time.Time
	metadata, client, clientKey            *string
	initiatedBy                            string
	senderWalletAddress                    *string
	approvedAt, cancelledAt, deletedAt     *time.Time
	cancellationReason                     *string
	createdAt, updatedAt                   time.Time
	version                                int64
}

type incomingPaymentsFold struct {
	payments held[incomingPaymentRow]
}

func (f *incomingPaymentsFold) Rows() int { return len(f.payments.order) }

func (f *incomingPaymentsFold) Add(env events.Envelope, ev events.Event) (bool, error) {
	at, seq := env.Time, int64(env.Sequence)
	if e, ok := ev.(*events.IncomingPaymentCreated); ok {
		p := &incomingPaymentRow{assetCode: e.AssetCode, assetScale: int16(e.AssetScale), state: paymentPending,
			incomingAmount: e.IncomingAmount, expiresAt: e.ExpiresAt, metadata: jsonText(e.Metadata), client: nullable(e.Client), clientKey: nullable(e.ClientKey),
			initiatedBy: e.InitiatedBy, senderWalletAddress: e.SenderWalletAddress, createdAt: at, updatedAt: at, version: seq}
		var err error
		if p.id, err = pgUUID(env.AggregateID); err != nil {
			return false, err
		}
		if p.tenantID, err = pgUUID(env.TenantID); err != nil {
			return false, err
		}
		if p.walletAddressID, err = pgUUID(e.WalletAddressID); err != nil {
			return false, err
		}
		if p.assetID, err = pgUUID(e.AssetID); err != nil {
			return false, err
		}
		f.payments.add(env.AggregateID, p)
		return true, nil
	}
	p, ok := f.payments.get(env.AggregateID)
	switch e := ev.(type) {
	case *events.IncomingPaymentUpdated:
		if !ok {
			return false, nil
		}
		p.metadata = jsonText(e.Metadata)
	case *events.IncomingPaymentApproved:
		if !ok {
			return false, nil
		}
		p.approvedAt = &at
	case *events.IncomingPaymentCancelled:
		if !ok {
			return false, nil
		}
		p.cancelledAt, p.cancellationReason = &at, e.Reason
	case *events.IncomingPaymentReceived:
		if !ok {
			return false, nil
		}
		p.receivedAmount = e.Total
		if p.state == paymentPending {
			p.state = paymentProcessing
		}
	case *events.IncomingPaymentCompleted:
		if !ok {
			return false, nil
		}
		p.state = paymentCompleted
	case *events.IncomingPaymentExpired:
		if !ok {
			return false, nil
		}
		p.state = paymentExpired
		if p.receivedAmount == 0 {
			p.deletedAt = &at
		}
	default:
		return true, nil
	}
	p.updatedAt, p.version = at, seq
	return true, nil
}

func (f *incomingPaymentsFold) Flush() []CopyRows {
	ps := f.payments.take()
	return []CopyRows{
		copyRows("incoming_payments", []string{"id", "tenant_id", "wallet_address_id", "asset_id", "asset_code", "asset_scale",
			"state", "incoming_amount", "received_amount", "expires_at", "metadata", "client", "client_key", "initiated_by",
			"sender_wallet_address", "approved_at", "cancelled_at", "cancellation_reason", "deleted_at",
			"created_at", "updated_at", "version"}, ps, func(p *incomingPaymentRow, v []any) {
			v[0], v[1], v[2], v[3], v[4], v[5] = &p.id, &p.tenantID, &p.walletAddressID, &p.assetID, &p.assetCode, &p.assetScale
			v[6], v[7], v[8], v[9], v[10], v[11], v[12] = &p.state, p.incomingAmount, &p.receivedAmount, &p.expiresAt, p.metadata, p.client, p.clientKey
			v[13], v[14], v[15], v[16], v[17], v[18] = &p.initiatedBy, p.senderWalletAddress, p.approvedAt, p.cancelledAt, p.cancellationReason, p.deletedAt
			v[19], v[20], v[21] = &p.createdAt, &p.updatedAt, &p.version
		}),
	}
}
