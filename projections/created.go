package projections

import (
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/readmodel"
)

// The rows below are what the reader reads back right after a projection
// applied a create event, made from the event alone: a create's answer is
// made of them instead of a read of the row it waited for. Times are kept to
// the microsecond, as Postgres keeps them. An event with metadata makes
// none (false): Postgres rewrites a JSON object it stores (keys ordered,
// numbers normalized), and the answer must be the text a read gives.

// CreatedIncomingPayment is the incoming payments row of e, received
// nothing yet.
func CreatedIncomingPayment(env events.Envelope, e *events.IncomingPaymentCreated) (readmodel.IncomingPayment, bool) {
	ids, ok := canonicalIDs(env.AggregateID, env.TenantID, e.WalletAddressID, e.AssetID)
	if !ok || len(e.Metadata) != 0 {
		return readmodel.IncomingPayment{}, false
	}
	return readmodel.IncomingPayment{ID: ids[0], TenantID: ids[1], WalletAddressID: ids[2], AssetID: ids[3],
		AssetCode: e.AssetCode, AssetScale: e.AssetScale, State: paymentPending, IncomingAmount: e.IncomingAmount,
		ExpiresAt: stored(e.ExpiresAt), Client: nullable(e.Client), InitiatedBy: e.InitiatedBy,
		SenderWalletAddress: e.SenderWalletAddress, CreatedAt: stored(env.Time)}, true
}

// CreatedQuote is the quotes row of e.
func CreatedQuote(env events.Envelope, e *events.QuoteCreated) (readmodel.Quote, bool) {
	ids, ok := canonicalIDs(env.AggregateID, env.TenantID, e.WalletAddressID)
	if !ok {
		return readmodel.Quote{}, false
	}
	return readmodel.Quote{ID: ids[0], TenantID: ids[1], WalletAddressID: ids[2], AssetCode: e.AssetCode,
		AssetScale: e.AssetScale, Receiver: e.Receiver, DebitAmount: e.DebitAmount, ReceiveAmount: e.ReceiveAmount,
		ReceiveAssetCode: e.ReceiveAssetCode, ReceiveAssetScale: e.ReceiveAssetScale,
		EstimatedExchangeRate: e.EstimatedExchangeRate, ExpiresAt: stored(e.ExpiresAt), CreatedAt: stored(env.Time)}, true
}

// CreatedOutgoingPayment is the outgoing payments row of e, funding,
// nothing sent.
func CreatedOutgoingPayment(env events.Envelope, e *events.OutgoingPaymentCreated) (readmodel.OutgoingPayment, bool) {
	ids, ok := canonicalIDs(env.AggregateID, env.TenantID, e.WalletAddressID, e.AssetID)
	if !ok || len(e.Metadata) != 0 {
		return readmodel.OutgoingPayment{}, false
	}
	p := readmodel.OutgoingPayment{ID: ids[0], TenantID: ids[1], WalletAddressID: ids[2], AssetID: ids[3],
		AssetCode: e.AssetCode, AssetScale: e.AssetScale, State: outgoingFunding, Receiver: e.Receiver,
		DebitAmount: e.DebitAmount, DebitAmountMinusFees: e.DebitAmountMinusFees, ReceiveAmount: e.ReceiveAmount,
		ReceiveAssetCode: e.ReceiveAssetCode, ReceiveAssetScale: e.ReceiveAssetScale, Client: nullable(e.Client),
		InitiatedBy: e.InitiatedBy, CreatedAt: stored(env.Time)}
	if e.GrantID != "" {
		grant, ok := canonicalIDs(e.GrantID)
		if !ok {
			return readmodel.OutgoingPayment{}, false
		}
		p.GrantID = &grant[0]
	}
	return p, true
}

// stored is t as a timestamptz column gives it back: microseconds, which
// the driver cuts t to.
func stored(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// canonicalIDs are ids as a uuid column gives them back as text; false when
// one is no UUID.
func canonicalIDs(ids ...string) ([]string, bool) {
	out := make([]string, len(ids))
	for i, id := range ids {
		u, err := uuid.Parse(id)
		if err != nil {
			return nil, false
		}
		out[i] = u.String()
	}
	return out, true
}
