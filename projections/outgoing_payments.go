package projections

import (
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rafiki-go/rafiki/events"
)

// OutgoingPayments is the read model of outgoing payments: their quotes'
// terms, where they are in their lives and what they sent.
type OutgoingPayments struct{}

func (OutgoingPayments) Name() string { return "outgoing_payments" }

func (OutgoingPayments) Tables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS outgoing_payments (
			id                      uuid PRIMARY KEY,
			tenant_id               uuid NOT NULL,
			wallet_address_id       uuid NOT NULL,
			asset_id                uuid NOT NULL,
			asset_code              text NOT NULL,
			asset_scale             smallint NOT NULL,
			state                   text NOT NULL,
			error                   text,
			state_attempts          integer NOT NULL,
			receiver                text NOT NULL,
			debit_amount            numeric(20) NOT NULL,
			debit_amount_minus_fees numeric(20) NOT NULL,
			receive_amount          numeric(20) NOT NULL,
			receive_asset_code      text NOT NULL,
			receive_asset_scale     smallint NOT NULL,
			method                  text NOT NULL,
			metadata                jsonb,
			client                  text,
			grant_id                text,
			initiated_by            text NOT NULL,
			sent                    numeric(20) NOT NULL,
			delivered               numeric(20) NOT NULL,
			created_at              timestamptz NOT NULL,
			updated_at              timestamptz NOT NULL,
			version                 bigint NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS outgoing_payments_page ON outgoing_payments (created_at, id)`,
		`CREATE INDEX IF NOT EXISTS outgoing_payments_wallet_address ON outgoing_payments (wallet_address_id, created_at, id)`,
		`CREATE INDEX IF NOT EXISTS outgoing_payments_tenant ON outgoing_payments (tenant_id, created_at, id)`,
	}
}

// States of outgoing payments, as the aggregate's.
const (
	outgoingFunding   = "FUNDING"
	outgoingSending   = "SENDING"
	outgoingCompleted = "COMPLETED"
	outgoingFailed    = "FAILED"
	outgoingCancelled = "CANCELLED"
)

// cancellationReason is the key under which a cancelled payment's reason
// joins its metadata, as Rafiki records it.
const cancellationReason = "cancellationReason"

func (OutgoingPayments) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	id, at, seq := env.AggregateID, env.Time, int64(env.Sequence)
	switch e := ev.(type) {
	case *events.OutgoingPaymentCreated:
		b.Queue(`INSERT INTO outgoing_payments (id, tenant_id, wallet_address_id, asset_id, asset_code, asset_scale, state, state_attempts,
				receiver, debit_amount, debit_amount_minus_fees, receive_amount, receive_asset_code, receive_asset_scale, method,
				metadata, client, grant_id, initiated_by, sent, delivered, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16, $17, $18, 0, 0, $19, $19, $20)
			ON CONFLICT (id) DO NOTHING`,
			id, env.TenantID, e.WalletAddressID, e.AssetID, e.AssetCode, int16(e.AssetScale), outgoingFunding,
			e.Receiver, e.DebitAmount, e.DebitAmountMinusFees, e.ReceiveAmount, e.ReceiveAssetCode, int16(e.ReceiveAssetScale), e.Method,
			jsonText(e.Metadata), nullable(e.Client), nullable(e.GrantID), e.InitiatedBy, at, seq)
	case *events.OutgoingPaymentFunded:
		b.Queue(`UPDATE outgoing_payments SET state = $2, updated_at = $3, version = $4 WHERE id = $1`, id, outgoingSending, at, seq)
	case *events.OutgoingPaymentCancelled:
		// The reason joins an object's metadata (or makes one), as
		// Rafiki's cancellation records it.
		b.Queue(`UPDATE outgoing_payments SET state = $2,
				metadata = CASE WHEN $3::text IS NULL THEN metadata
					WHEN metadata IS NULL THEN jsonb_build_object($4::text, $3::text)
					WHEN jsonb_typeof(metadata) = 'object' THEN metadata || jsonb_build_object($4::text, $3::text)
					ELSE metadata END,
				updated_at = $5, version = $6 WHERE id = $1`,
			id, outgoingCancelled, reasonOf(e), cancellationReason, at, seq)
	case *events.OutgoingPaymentAttemptFailed:
		b.Queue(`UPDATE outgoing_payments SET error = $2, state_attempts = $3, sent = $4, delivered = $5, updated_at = $6, version = $7
			WHERE id = $1`, id, nullable(e.Error), e.Attempts, e.Sent, e.Delivered, at, seq)
	case *events.OutgoingPaymentCompleted:
		b.Queue(`UPDATE outgoing_payments SET state = $2, error = NULL, sent = $3, delivered = $4, updated_at = $5, version = $6
			WHERE id = $1`, id, outgoingCompleted, e.Sent, e.Delivered, at, seq)
	case *events.OutgoingPaymentFailed:
		b.Queue(`UPDATE outgoing_payments SET state = $2, error = $3, sent = $4, delivered = $5, updated_at = $6, version = $7
			WHERE id = $1`, id, outgoingFailed, nullable(e.Error), e.Sent, e.Delivered, at, seq)
	}
	return nil
}

// reasonOf is a cancellation's reason; nil for none, an empty one
// included, as Rafiki records only a reason given.
func reasonOf(e *events.OutgoingPaymentCancelled) *string {
	if e.Reason == nil {
		return nil
	}
	return nullable(*e.Reason)
}

// withReason is metadata with a cancellation's reason set, as the
// statement sets it: metadata that is no object keeps as it is.
func withReason(metadata *string, reason *string) *string {
	if reason == nil {
		return metadata
	}
	fields := map[string]json.RawMessage{}
	if metadata != nil {
		// JSON null leaves fields nil: it is no object either.
		fields = nil
		if err := json.Unmarshal([]byte(*metadata), &fields); err != nil || fields == nil {
			return metadata
		}
	}
	value, err := json.Marshal(*reason)
	if err != nil {
		return metadata
	}
	fields[cancellationReason] = value
	out, err := json.Marshal(fields)
	if err != nil {
		return metadata
	}
	s := string(out)
	return &s
}

// NewFold folds outgoing payments in memory for a replay.
func (OutgoingPayments) NewFold() Fold { return &outgoingPaymentsFold{} }

type outgoingPaymentRow struct {
	id, tenantID, walletAddressID, assetID pgtype.UUID
	assetCode                              string
	assetScale                             int16
	state                                  string
	errorText                              *string
	stateAttempts                          int32
	receiver                               string
	debitAmount, debitAmountMinusFees      uint64
	receiveAmount                          uint64
	receiveAssetCode                       string
	receiveAssetScale                      int16
	method                                 string
	metadata, client, grantID              *string
	initiatedBy                            string
	sent, delivered                        uint64
	createdAt, updatedAt                   time.Time
	version                                int64
}

type outgoingPaymentsFold struct {
	payments held[outgoingPaymentRow]
}

func (f *outgoingPaymentsFold) Rows() int { return len(f.payments.order) }

func (f *outgoingPaymentsFold) Add(env events.Envelope, ev events.Event) (bool, error) {
	at, seq := env.Time, int64(env.Sequence)
	if e, ok := ev.(*events.OutgoingPaymentCreated); ok {
		p := &outgoingPaymentRow{assetCode: e.AssetCode, assetScale: int16(e.AssetScale), state: outgoingFunding, receiver: e.Receiver,
			debitAmount: e.DebitAmount, debitAmountMinusFees: e.DebitAmountMinusFees, receiveAmount: e.ReceiveAmount,
			receiveAssetCode: e.ReceiveAssetCode, receiveAssetScale: int16(e.ReceiveAssetScale), method: e.Method,
			metadata: jsonText(e.Metadata), client: nullable(e.Client), grantID: nullable(e.GrantID), initiatedBy: e.InitiatedBy,
			createdAt: at, updatedAt: at, version: seq}
		var err error
		for _, u := range []struct {
			to   *pgtype.UUID
			from string
		}{{&p.id, env.AggregateID}, {&p.tenantID, env.TenantID}, {&p.walletAddressID, e.WalletAddressID}, {&p.assetID, e.AssetID}} {
			if *u.to, err = pgUUID(u.from); err != nil {
				return false, err
			}
		}
		f.payments.add(env.AggregateID, p)
		return true, nil
	}
	p, ok := f.payments.get(env.AggregateID)
	switch e := ev.(type) {
	case *events.OutgoingPaymentFunded:
		if !ok {
			return false, nil
		}
		p.state = outgoingSending
	case *events.OutgoingPaymentCancelled:
		if !ok {
			return false, nil
		}
		p.state, p.metadata = outgoingCancelled, withReason(p.metadata, reasonOf(e))
	case *events.OutgoingPaymentAttemptFailed:
		if !ok {
			return false, nil
		}
		p.errorText, p.stateAttempts, p.sent, p.delivered = nullable(e.Error), int32(e.Attempts), e.Sent, e.Delivered
	case *events.OutgoingPaymentCompleted:
		if !ok {
			return false, nil
		}
		p.state, p.errorText, p.sent, p.delivered = outgoingCompleted, nil, e.Sent, e.Delivered
	case *events.OutgoingPaymentFailed:
		if !ok {
			return false, nil
		}
		p.state, p.errorText, p.sent, p.delivered = outgoingFailed, nullable(e.Error), e.Sent, e.Delivered
	default:
		return true, nil
	}
	p.updatedAt, p.version = at, seq
	return true, nil
}

func (f *outgoingPaymentsFold) Flush() []CopyRows {
	ps := f.payments.take()
	return []CopyRows{
		copyRows("outgoing_payments", []string{"id", "tenant_id", "wallet_address_id", "asset_id", "asset_code", "asset_scale",
			"state", "error", "state_attempts", "receiver", "debit_amount", "debit_amount_minus_fees", "receive_amount",
			"receive_asset_code", "receive_asset_scale", "method", "metadata", "client", "grant_id", "initiated_by",
			"sent", "delivered", "created_at", "updated_at", "version"}, ps, func(p *outgoingPaymentRow, v []any) {
			v[0], v[1], v[2], v[3], v[4], v[5] = &p.id, &p.tenantID, &p.walletAddressID, &p.assetID, &p.assetCode, &p.assetScale
			v[6], v[7], v[8], v[9], v[10], v[11], v[12] = &p.state, p.errorText, &p.stateAttempts, &p.receiver, &p.debitAmount,
				&p.debitAmountMinusFees, &p.receiveAmount
			v[13], v[14], v[15], v[16], v[17], v[18], v[19] = &p.receiveAssetCode, &p.receiveAssetScale, &p.method, p.metadata,
				p.client, p.grantID, &p.initiatedBy
			v[20], v[21], v[22], v[23], v[24] = &p.sent, &p.delivered, &p.createdAt, &p.updatedAt, &p.version
		}),
	}
}
