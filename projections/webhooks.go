package projections

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rafiki-go/rafiki/events"
)

// Webhook event types, as Rafiki names them.
const (
	WebhookIncomingPaymentCreated       = "incoming_payment.created"
	WebhookIncomingPaymentCompleted     = "incoming_payment.completed"
	WebhookIncomingPaymentExpired       = "incoming_payment.expired"
	WebhookIncomingPaymentPartial       = "incoming_payment.partial_payment_received"
	WebhookOutgoingPaymentCreated       = "outgoing_payment.created"
	WebhookOutgoingPaymentCompleted     = "outgoing_payment.completed"
	WebhookOutgoingPaymentFailed        = "outgoing_payment.failed"
	WebhookAssetLiquidityLow            = "asset.liquidity_low"
	WebhookPeerLiquidityLow             = "peer.liquidity_low"
	WebhookWalletAddressNotFound        = "wallet_address.not_found"
	WebhookWalletAddressWebMonetization = "wallet_address.web_monetization"
)

// Webhooks is the read model of webhook events: what Rafiki would have told
// the account servicing entity, derived from the domain events. A webhook
// event's id is the id of the domain event it tells of, so that a replay
// gives every webhook event the id it had, and receivers can tell a
// delivery they had already from a new event. For a completed or expired
// payment that id is also the transfer id of the payment's withdrawal, as
// Rafiki's withdrawal takes the id of its webhook event.
//
// Its data is the aggregate as of the domain event, in Rafiki's webhook
// shape: the projection keeps each incoming payment's webhook document
// (incoming_payment_data), changed by every event, and copies it into the
// webhook event when one is due. An incoming payment tells of its creation,
// and of its completion or expiry when it received money (with the
// withdrawal of what it received), as Rafiki's does; an asset or a peer of
// a liquidity movement that left its balance at or below its threshold.
type Webhooks struct{}

func (Webhooks) Name() string { return "webhooks" }

// Quiet: most events make no webhook, and no request waits for this
// projection.
func (Webhooks) Quiet() {}

func (Webhooks) Tables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS incoming_payment_data (
			id        uuid PRIMARY KEY,
			tenant_id uuid NOT NULL,
			asset_id  uuid NOT NULL,
			received  numeric(20) NOT NULL,
			data      jsonb NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS outgoing_payment_data (
			id        uuid PRIMARY KEY,
			tenant_id uuid NOT NULL,
			asset_id  uuid NOT NULL,
			funded    numeric(20) NOT NULL,
			sent      numeric(20) NOT NULL,
			data      jsonb NOT NULL
		)`,
		`CREATE TABLE IF NOT EXISTS webhook_events (
			id                    uuid PRIMARY KEY,
			tenant_id             uuid NOT NULL,
			type                  text NOT NULL,
			data                  jsonb NOT NULL,
			incoming_payment_id   uuid,
			withdrawal_account_id uuid,
			withdrawal_asset_id   uuid,
			withdrawal_amount     numeric(20),
			created_at            timestamptz NOT NULL,
			sequence              bigint NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS webhook_events_page ON webhook_events (created_at, id)`,
		`CREATE INDEX IF NOT EXISTS webhook_events_tenant ON webhook_events (tenant_id, created_at, id)`,
		`CREATE INDEX IF NOT EXISTS webhook_events_sequence ON webhook_events (sequence)`,
		`CREATE INDEX IF NOT EXISTS webhook_events_withdrawal ON webhook_events (withdrawal_account_id) WHERE withdrawal_account_id IS NOT NULL`,
	}
}

// webhookTime is how Rafiki writes times in webhooks (JavaScript's
// toISOString: UTC, milliseconds).
func webhookTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// metadataOf is the metadata a payment's webhook data shows: none for
// none, or JSON null, as Rafiki leaves it out.
func metadataOf(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || string(m) == "null" {
		return nil
	}
	return m
}

// incomingPaymentData is an incoming payment's webhook data when it is
// created: Rafiki's IncomingPayment.toData with nothing received.
func incomingPaymentData(env events.Envelope, e *events.IncomingPaymentCreated) map[string]any {
	amount := func(v uint64) map[string]any {
		return map[string]any{"value": strconv.FormatUint(v, 10), "assetCode": e.AssetCode, "assetScale": e.AssetScale}
	}
	d := map[string]any{
		"id": env.AggregateID, "walletAddressId": e.WalletAddressID, "createdAt": webhookTime(env.Time),
		"expiresAt": webhookTime(e.ExpiresAt), "receivedAmount": amount(0), "completed": false,
	}
	if e.Client != "" {
		d["client"] = e.Client
	}
	if e.IncomingAmount != nil {
		d["incomingAmount"] = amount(*e.IncomingAmount)
	}
	if m := metadataOf(e.Metadata); m != nil {
		d["metadata"] = m
	}
	return d
}

// outgoingPaymentData is an outgoing payment's webhook data when it is
// created: Rafiki's OutgoingPayment.toData, waiting for its funding.
func outgoingPaymentData(env events.Envelope, e *events.OutgoingPaymentCreated) map[string]any {
	debit := func(v uint64) map[string]any {
		return map[string]any{"value": strconv.FormatUint(v, 10), "assetCode": e.AssetCode, "assetScale": e.AssetScale}
	}
	d := map[string]any{
		"id": env.AggregateID, "walletAddressId": e.WalletAddressID, "state": "FUNDING", "receiver": e.Receiver,
		"debitAmount": debit(e.DebitAmount), "sentAmount": debit(0), "stateAttempts": 0, "createdAt": webhookTime(env.Time),
		"balance":       "0",
		"receiveAmount": map[string]any{"value": strconv.FormatUint(e.ReceiveAmount, 10), "assetCode": e.ReceiveAssetCode, "assetScale": e.ReceiveAssetScale},
	}
	if e.Client != "" {
		d["client"] = e.Client
	}
	if e.GrantID != "" {
		d["grantId"] = e.GrantID
	}
	if m := metadataOf(e.Metadata); m != nil {
		d["metadata"] = m
	}
	return d
}

// outgoingPaymentEnd is what an outgoing payment's last event changes in
// its webhook data: its state, error and what it sent; and the balance
// left in its account, funded less sent, which its webhook offers to
// withdraw.
func outgoingPaymentEnd(ev events.Event) (state, errText string, sent uint64, ok bool) {
	switch e := ev.(type) {
	case *events.OutgoingPaymentCompleted:
		return "COMPLETED", "", e.Sent, true
	case *events.OutgoingPaymentFailed:
		return "FAILED", e.Error, e.Sent, true
	}
	return "", "", 0, false
}

// liquidityLow is the webhook of a low-liquidity event, as Rafiki's
// asset.liquidity_low and peer.liquidity_low; none for an event that does
// not tell its asset, or of another object.
func liquidityLow(env events.Envelope, e *events.LiquidityLow) (typ string, data []byte, err error) {
	switch {
	case e.AssetCode == "":
		return "", nil, nil
	case env.AggregateType == "asset":
		typ = WebhookAssetLiquidityLow
	case env.AggregateType == "peer":
		typ = WebhookPeerLiquidityLow
	default:
		return "", nil, nil
	}
	data, err = json.Marshal(map[string]any{"id": env.AggregateID,
		"asset":              map[string]any{"id": e.AssetID, "code": e.AssetCode, "scale": e.AssetScale},
		"liquidityThreshold": strconv.FormatUint(e.Threshold, 10), "balance": strconv.FormatUint(e.Balance, 10)})
	if err != nil {
		return "", nil, fmt.Errorf("webhook data of %s %s: %w", env.AggregateType, env.AggregateID, err)
	}
	return typ, data, nil
}

// standalone is the webhook of a domain event that tells all it needs
// itself: a low liquidity, a missed wallet address lookup; no type for
// another event, or one that tells nothing.
func standalone(env events.Envelope, ev events.Event) (typ string, data []byte, err error) {
	switch e := ev.(type) {
	case *events.LiquidityLow:
		return liquidityLow(env, e)
	case *events.WalletAddressNotFound:
		data, err = json.Marshal(map[string]any{"walletAddressUrl": e.WalletAddressURL})
		if err != nil {
			return "", nil, fmt.Errorf("webhook data of a lookup of %s: %w", e.WalletAddressURL, err)
		}
		return WebhookWalletAddressNotFound, data, nil
	case *events.WalletAddressWebMonetization:
		data, err = json.Marshal(map[string]any{"walletAddress": map[string]any{"id": env.AggregateID, "createdAt": webhookTime(e.CreatedAt),
			"receivedAmount": map[string]any{"value": strconv.FormatUint(e.Amount, 10), "assetCode": e.AssetCode, "assetScale": e.AssetScale}}})
		if err != nil {
			return "", nil, fmt.Errorf("webhook data of wallet address %s: %w", env.AggregateID, err)
		}
		return WebhookWalletAddressWebMonetization, data, nil
	}
	return "", nil, nil
}

// standaloneWithdrawal is the money a standalone webhook event tells the
// entity to withdraw: a wallet address's web monetization, from its
// account; none for others.
func standaloneWithdrawal(env events.Envelope, ev events.Event) (account, asset string, amount uint64, ok bool) {
	if e, is := ev.(*events.WalletAddressWebMonetization); is {
		return env.AggregateID, e.AssetID, e.Amount, true
	}
	return "", "", 0, false
}

func (Webhooks) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	id, at, seq := env.AggregateID, env.Time, int64(env.Sequence)
	switch e := ev.(type) {
	case *events.LiquidityLow, *events.WalletAddressNotFound, *events.WalletAddressWebMonetization:
		typ, data, err := standalone(env, e)
		if err != nil || typ == "" {
			return err
		}
		var account, asset *string
		var amount *uint64
		if a, as, n, ok := standaloneWithdrawal(env, e); ok {
			account, asset, amount = &a, &as, &n
		}
		b.Queue(`INSERT INTO webhook_events (id, tenant_id, type, data, withdrawal_account_id, withdrawal_asset_id, withdrawal_amount,
				created_at, sequence)
			VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
			env.ID.String(), env.TenantID, typ, string(data), account, asset, amount, at, seq)
	case *events.OutgoingPaymentCreated:
		data, err := json.Marshal(outgoingPaymentData(env, e))
		if err != nil {
			return fmt.Errorf("webhook data of outgoing payment %s: %w", id, err)
		}
		b.Queue(`INSERT INTO outgoing_payment_data (id, tenant_id, asset_id, funded, sent, data) VALUES ($1, $2, $3, 0, 0, $4::jsonb)
			ON CONFLICT (id) DO NOTHING`, id, env.TenantID, e.AssetID, string(data))
		b.Queue(`INSERT INTO webhook_events (id, tenant_id, type, data, created_at, sequence)
			VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT (id) DO NOTHING`,
			env.ID.String(), env.TenantID, WebhookOutgoingPaymentCreated, string(data), at, seq)
	case *events.OutgoingPaymentFunded:
		b.Queue(`UPDATE outgoing_payment_data SET funded = $2, data = data || jsonb_build_object('state', 'SENDING', 'balance', greatest($2 - sent, 0)::text)
			WHERE id = $1`, id, e.Amount)
	case *events.OutgoingPaymentCancelled:
		b.Queue(`UPDATE outgoing_payment_data SET data = data || '{"state":"CANCELLED"}'::jsonb WHERE id = $1`, id)
	case *events.OutgoingPaymentAttemptFailed:
		b.Queue(`UPDATE outgoing_payment_data SET sent = $2, data = jsonb_set(data || jsonb_build_object('stateAttempts', $3::int,
				'error', $4::text, 'balance', greatest(funded - $2, 0)::text), '{sentAmount,value}', to_jsonb($5::text)) WHERE id = $1`,
			id, e.Sent, e.Attempts, e.Error, strconv.FormatUint(e.Sent, 10))
	case *events.OutgoingPaymentCompleted, *events.OutgoingPaymentFailed:
		state, errText, sent, _ := outgoingPaymentEnd(ev)
		b.Queue(`UPDATE outgoing_payment_data SET sent = $2, data = jsonb_set(data || jsonb_build_object('state', $3::text,
				'balance', greatest(funded - $2, 0)::text) || CASE WHEN $4::text = '' THEN '{}'::jsonb ELSE jsonb_build_object('error', $4::text) END,
				'{sentAmount,value}', to_jsonb($5::text)) WHERE id = $1`, id, sent, state, errText, strconv.FormatUint(sent, 10))
		typ := WebhookOutgoingPaymentCompleted
		if state == "FAILED" {
			typ = WebhookOutgoingPaymentFailed
		}
		b.Queue(`INSERT INTO webhook_events (id, tenant_id, type, data, withdrawal_account_id, withdrawal_asset_id, withdrawal_amount,
				created_at, sequence)
			SELECT $1, tenant_id, $2, data, CASE WHEN funded > sent THEN id END, CASE WHEN funded > sent THEN asset_id END,
				CASE WHEN funded > sent THEN funded - sent END, $3, $4 FROM outgoing_payment_data WHERE id = $5
			ON CONFLICT (id) DO NOTHING`, env.ID.String(), typ, at, seq, id)
	case *events.IncomingPaymentCreated:
		data, err := json.Marshal(incomingPaymentData(env, e))
		if err != nil {
			return fmt.Errorf("webhook data of incoming payment %s: %w", id, err)
		}
		b.Queue(`INSERT INTO incoming_payment_data (id, tenant_id, asset_id, received, data) VALUES ($1, $2, $3, 0, $4::jsonb)
			ON CONFLICT (id) DO NOTHING`, id, env.TenantID, e.AssetID, string(data))
		b.Queue(`INSERT INTO webhook_events (id, tenant_id, type, data, incoming_payment_id, created_at, sequence)
			VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
			env.ID.String(), env.TenantID, WebhookIncomingPaymentCreated, string(data), id, at, seq)
	case *events.IncomingPaymentUpdated:
		b.Queue(`UPDATE incoming_payment_data SET data = CASE WHEN $2::jsonb IS NULL THEN data - 'metadata'
				ELSE data || jsonb_build_object('metadata', $2::jsonb) END WHERE id = $1`, id, jsonText(metadataOf(e.Metadata)))
	case *events.IncomingPaymentApproved:
		b.Queue(`UPDATE incoming_payment_data SET data = data || jsonb_build_object('approvedAt', $2::text) WHERE id = $1`,
			id, webhookTime(at))
	case *events.IncomingPaymentCancelled:
		b.Queue(`UPDATE incoming_payment_data SET data = data || jsonb_build_object('cancelledAt', $2::text) WHERE id = $1`,
			id, webhookTime(at))
	case *events.IncomingPaymentReceived:
		b.Queue(`UPDATE incoming_payment_data SET received = $2, data = jsonb_set(data, '{receivedAmount,value}', to_jsonb($3::text))
			WHERE id = $1`, id, e.Total, strconv.FormatUint(e.Total, 10))
	case *events.IncomingPaymentCompleted:
		b.Queue(`UPDATE incoming_payment_data SET data = data || '{"completed":true}'::jsonb WHERE id = $1`, id)
		queueWithdrawalEvent(b, env, WebhookIncomingPaymentCompleted)
	case *events.IncomingPaymentExpired:
		queueWithdrawalEvent(b, env, WebhookIncomingPaymentExpired)
	case *events.IncomingPaymentPartialReceived:
		b.Queue(`INSERT INTO webhook_events (id, tenant_id, type, data, incoming_payment_id, created_at, sequence)
			SELECT $1, tenant_id, $2, data || $3::jsonb, id, $4, $5 FROM incoming_payment_data WHERE id = $6
			ON CONFLICT (id) DO NOTHING`, env.ID.String(), WebhookIncomingPaymentPartial, string(partialData(e)), at, seq, id)
	}
	return nil
}

// partialData is what a partial payment's webhook adds to its payment's
// data: which packet, and the sender's data, sealed as the event holds it
// (the dispatcher opens it for the delivery only, as Rafiki stores it
// encrypted and decrypts it to send).
func partialData(e *events.IncomingPaymentPartialReceived) []byte {
	b, _ := json.Marshal(map[string]string{"partialIncomingPaymentId": e.PartialIncomingPaymentID, "dataFromSender": e.DataFromSender})
	return b
}

// queueWithdrawalEvent records the webhook event of a payment that ended
// with money, which the account servicing entity withdraws.
func queueWithdrawalEvent(b *pgx.Batch, env events.Envelope, typ string) {
	b.Queue(`INSERT INTO webhook_events (id, tenant_id, type, data, incoming_payment_id, withdrawal_account_id, withdrawal_asset_id,
			withdrawal_amount, created_at, sequence)
		SELECT $1, tenant_id, $2, data, id, id, asset_id, received, $3, $4 FROM incoming_payment_data WHERE id = $5 AND received > 0
		ON CONFLICT (id) DO NOTHING`, env.ID.String(), typ, env.Time, int64(env.Sequence), env.AggregateID)
}

// NewFold folds the webhook events of the incoming payments a replay
// creates in memory.
func (Webhooks) NewFold() Fold { return &webhooksFold{} }

type paymentDataRow struct {
	id, tenantID, assetID pgtype.UUID
	received              uint64
	data                  map[string]any
}

type webhookEventRow struct {
	id, tenantID pgtype.UUID
	paymentID    *pgtype.UUID // nil: of no payment
	typ          string
	data         []byte
	// The withdrawal's account and asset, nil for none, and amount.
	account, asset *pgtype.UUID
	amount         uint64
	createdAt      time.Time
	sequence       int64
}

// outgoingDataRow is an outgoing payment's webhook data, as the fold holds
// it.
type outgoingDataRow struct {
	id, tenantID, assetID pgtype.UUID
	funded, sent          uint64
	data                  map[string]any
}

type webhooksFold struct {
	payments held[paymentDataRow]
	outgoing held[outgoingDataRow]
	events   held[webhookEventRow]
}

func (f *webhooksFold) Rows() int {
	return len(f.payments.order) + len(f.outgoing.order) + len(f.events.order)
}

// addOutgoing folds an outgoing payment's event; handled is false for one
// whose payment the fold does not hold.
func (f *webhooksFold) addOutgoing(env events.Envelope, ev events.Event) (handled bool, err error) {
	if e, ok := ev.(*events.OutgoingPaymentCreated); ok {
		p := &outgoingDataRow{data: outgoingPaymentData(env, e)}
		if p.id, err = pgUUID(env.AggregateID); err != nil {
			return false, err
		}
		if p.tenantID, err = pgUUID(env.TenantID); err != nil {
			return false, err
		}
		if p.assetID, err = pgUUID(e.AssetID); err != nil {
			return false, err
		}
		if !f.outgoing.add(env.AggregateID, p) {
			return true, nil
		}
		return true, f.outgoingEvent(env, p, WebhookOutgoingPaymentCreated, false)
	}
	p, ok := f.outgoing.get(env.AggregateID)
	if !ok {
		return false, nil
	}
	sentTo := func(sent uint64) {
		p.sent = sent
		p.data["balance"] = strconv.FormatUint(p.funded-min(p.funded, sent), 10)
		amount := p.data["sentAmount"].(map[string]any)
		p.data["sentAmount"] = map[string]any{"value": strconv.FormatUint(sent, 10), "assetCode": amount["assetCode"], "assetScale": amount["assetScale"]}
	}
	switch e := ev.(type) {
	case *events.OutgoingPaymentFunded:
		p.funded = e.Amount
		p.data["state"] = "SENDING"
		p.data["balance"] = strconv.FormatUint(e.Amount-min(e.Amount, p.sent), 10)
	case *events.OutgoingPaymentCancelled:
		p.data["state"] = "CANCELLED"
	case *events.OutgoingPaymentAttemptFailed:
		p.data["stateAttempts"], p.data["error"] = e.Attempts, e.Error
		sentTo(e.Sent)
	case *events.OutgoingPaymentCompleted, *events.OutgoingPaymentFailed:
		state, errText, sent, _ := outgoingPaymentEnd(ev)
		p.data["state"] = state
		if errText != "" {
			p.data["error"] = errText
		}
		sentTo(sent)
		typ := WebhookOutgoingPaymentCompleted
		if state == "FAILED" {
			typ = WebhookOutgoingPaymentFailed
		}
		return true, f.outgoingEvent(env, p, typ, p.funded > p.sent)
	}
	return true, nil
}

// outgoingEvent holds a webhook event with the outgoing payment's data as
// it is now, and what is left in its account to withdraw.
func (f *webhooksFold) outgoingEvent(env events.Envelope, p *outgoingDataRow, typ string, withdrawal bool) error {
	data, err := json.Marshal(p.data)
	if err != nil {
		return fmt.Errorf("webhook data of outgoing payment %s: %w", env.AggregateID, err)
	}
	id, err := pgUUID(env.ID.String())
	if err != nil {
		return err
	}
	w := &webhookEventRow{id: id, tenantID: p.tenantID, typ: typ, data: data, createdAt: env.Time, sequence: int64(env.Sequence)}
	if withdrawal {
		account, asset := p.id, p.assetID
		w.account, w.asset, w.amount = &account, &asset, p.funded-p.sent
	}
	f.events.add(env.ID.String(), w)
	return nil
}

// event holds a webhook event with the payment's data as it is now.
func (f *webhooksFold) event(env events.Envelope, p *paymentDataRow, typ string, withdrawal bool) error {
	data, err := json.Marshal(p.data)
	if err != nil {
		return fmt.Errorf("webhook data of incoming payment %s: %w", env.AggregateID, err)
	}
	id, err := pgUUID(env.ID.String())
	if err != nil {
		return err
	}
	w := &webhookEventRow{id: id, tenantID: p.tenantID, paymentID: &p.id, typ: typ, data: data, createdAt: env.Time,
		sequence: int64(env.Sequence)}
	if withdrawal {
		w.account, w.asset, w.amount = &p.id, &p.assetID, p.received
	}
	f.events.add(env.ID.String(), w)
	return nil
}

func (f *webhooksFold) Add(env events.Envelope, ev events.Event) (bool, error) {
	switch ev.(type) {
	case *events.LiquidityLow, *events.WalletAddressNotFound, *events.WalletAddressWebMonetization:
		typ, data, err := standalone(env, ev)
		if err != nil || typ == "" {
			return err == nil, err
		}
		w := &webhookEventRow{typ: typ, data: data, createdAt: env.Time, sequence: int64(env.Sequence)}
		if w.id, err = pgUUID(env.ID.String()); err != nil {
			return false, err
		}
		if w.tenantID, err = pgUUID(env.TenantID); err != nil {
			return false, err
		}
		if account, asset, amount, ok := standaloneWithdrawal(env, ev); ok {
			a, err := pgUUID(account)
			if err != nil {
				return false, err
			}
			as, err := pgUUID(asset)
			if err != nil {
				return false, err
			}
			w.account, w.asset, w.amount = &a, &as, amount
		}
		f.events.add(env.ID.String(), w)
		return true, nil
	}
	if env.AggregateType == "outgoing_payment" {
		return f.addOutgoing(env, ev)
	}
	if e, ok := ev.(*events.IncomingPaymentCreated); ok {
		p := &paymentDataRow{data: incomingPaymentData(env, e)}
		var err error
		if p.id, err = pgUUID(env.AggregateID); err != nil {
			return false, err
		}
		if p.tenantID, err = pgUUID(env.TenantID); err != nil {
			return false, err
		}
		if p.assetID, err = pgUUID(e.AssetID); err != nil {
			return false, err
		}
		if !f.payments.add(env.AggregateID, p) {
			return true, nil
		}
		return true, f.event(env, p, WebhookIncomingPaymentCreated, false)
	}
	p, ok := f.payments.get(env.AggregateID)
	switch e := ev.(type) {
	case *events.IncomingPaymentUpdated:
		if !ok {
			return false, nil
		}
		if m := metadataOf(e.Metadata); m == nil {
			delete(p.data, "metadata")
		} else {
			p.data["metadata"] = m
		}
	case *events.IncomingPaymentApproved:
		if !ok {
			return false, nil
		}
		p.data["approvedAt"] = webhookTime(env.Time)
	case *events.IncomingPaymentCancelled:
		if !ok {
			return false, nil
		}
		p.data["cancelledAt"] = webhookTime(env.Time)
	case *events.IncomingPaymentReceived:
		if !ok {
			return false, nil
		}
		p.received = e.Total
		received := p.data["receivedAmount"].(map[string]any)
		p.data["receivedAmount"] = map[string]any{"value": strconv.FormatUint(e.Total, 10),
			"assetCode": received["assetCode"], "assetScale": received["assetScale"]}
	case *events.IncomingPaymentCompleted:
		if !ok {
			return false, nil
		}
		p.data["completed"] = true
		if p.received > 0 {
			return true, f.event(env, p, WebhookIncomingPaymentCompleted, true)
		}
	case *events.IncomingPaymentExpired:
		if !ok {
			return false, nil
		}
		if p.received > 0 {
			return true, f.event(env, p, WebhookIncomingPaymentExpired, true)
		}
	case *events.IncomingPaymentPartialReceived:
		if !ok {
			return false, nil
		}
		data := maps.Clone(p.data)
		data["partialIncomingPaymentId"], data["dataFromSender"] = e.PartialIncomingPaymentID, e.DataFromSender
		return true, f.event(env, &paymentDataRow{id: p.id, tenantID: p.tenantID, assetID: p.assetID, received: p.received, data: data},
			WebhookIncomingPaymentPartial, false)
	}
	return true, nil
}

func (f *webhooksFold) Flush() []CopyRows {
	ps, os, ws := f.payments.take(), f.outgoing.take(), f.events.take()
	return []CopyRows{
		copyRows("outgoing_payment_data", []string{"id", "tenant_id", "asset_id", "funded", "sent", "data"}, os,
			func(p *outgoingDataRow, v []any) {
				var data *string
				if b, err := json.Marshal(p.data); err == nil {
					s := string(b)
					data = &s
				}
				v[0], v[1], v[2], v[3], v[4], v[5] = &p.id, &p.tenantID, &p.assetID, &p.funded, &p.sent, data
			}),
		copyRows("incoming_payment_data", []string{"id", "tenant_id", "asset_id", "received", "data"}, ps,
			func(p *paymentDataRow, v []any) {
				// Data that does not encode is copied as NULL, which the
				// column refuses: the batch is applied again with
				// statements, which set the event aside.
				var data *string
				if b, err := json.Marshal(p.data); err == nil {
					s := string(b)
					data = &s
				}
				v[0], v[1], v[2], v[3], v[4] = &p.id, &p.tenantID, &p.assetID, &p.received, data
			}),
		copyRows("webhook_events", []string{"id", "tenant_id", "type", "data", "incoming_payment_id", "withdrawal_account_id",
			"withdrawal_asset_id", "withdrawal_amount", "created_at", "sequence"}, ws, func(w *webhookEventRow, v []any) {
			v[0], v[1], v[2], v[3], v[4] = &w.id, &w.tenantID, &w.typ, string(w.data), w.paymentID
			v[5], v[6], v[7] = nil, nil, nil
			if w.account != nil {
				v[5], v[6], v[7] = w.account, w.asset, &w.amount
			}
			v[8], v[9] = &w.createdAt, &w.sequence
		}),
	}
}
