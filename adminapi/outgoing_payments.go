package adminapi

import (
	"context"
	"fmt"
	"time"

	"github.com/rafiki-go/rafiki/adminapi/scalars"
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/readmodel"
)

// outgoingPaymentAfter reads an outgoing payment once the read model shows
// the effect of a command on it, for the mutations' answers.
func (r *Resolver) outgoingPaymentAfter(ctx context.Context, id string, res handlers.Result) (*OutgoingPayment, error) {
	if err := r.seen(ctx, projections.OutgoingPayments{}.Name(), res); err != nil {
		return nil, err
	}
	if env, e, ok := created[*events.OutgoingPaymentCreated](res); ok {
		if row, ok := projections.CreatedOutgoingPayment(env, e); ok {
			return outgoingPaymentOut(&row)
		}
	}
	row, err := r.Read.OutgoingPayment(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, apperr.E(apperr.NotFound, "outgoing payment does not exist")
	}
	return outgoingPaymentOut(row)
}

// outgoingPaymentAndQuoteAfter is outgoingPaymentAfter for a payment made
// with its quote: its quote is read with it, and may be asked for next, so
// it waits for the quote too.
func (r *Resolver) outgoingPaymentAndQuoteAfter(ctx context.Context, id string, quote, payment handlers.Result) (*OutgoingPayment, error) {
	if err := r.seen(ctx, projections.Quotes{}.Name(), quote); err != nil {
		return nil, err
	}
	return r.outgoingPaymentAfter(ctx, id, payment)
}

func outgoingPaymentOut(p *readmodel.OutgoingPayment) (*OutgoingPayment, error) {
	metadata, err := metadataOut(p.Metadata)
	if err != nil {
		return nil, fmt.Errorf("metadata of outgoing payment %s: %w", p.ID, err)
	}
	debit := func(v uint64) *Amount {
		return &Amount{Value: scalars.BigInt(v), AssetCode: p.AssetCode, AssetScale: scalars.UInt8(p.AssetScale)}
	}
	return &OutgoingPayment{ID: p.ID, WalletAddressID: p.WalletAddressID, Client: p.Client, State: OutgoingPaymentState(p.State),
		Error: p.Error, StateAttempts: p.StateAttempts, DebitAmount: debit(p.DebitAmount),
		ReceiveAmount: &Amount{Value: scalars.BigInt(p.ReceiveAmount), AssetCode: p.ReceiveAssetCode, AssetScale: scalars.UInt8(p.ReceiveAssetScale)},
		Receiver:      p.Receiver, Metadata: metadata, SentAmount: debit(p.Sent), CreatedAt: Timestamp(p.CreatedAt), GrantID: p.GrantID,
		TenantID: p.TenantID}, nil
}

// outgoingPaymentFilter reads an OutgoingPaymentFilter: of each list only
// in, as Rafiki reads it.
func outgoingPaymentFilter(f readmodel.OutgoingPaymentFilter, filter *OutgoingPaymentFilter) readmodel.OutgoingPaymentFilter {
	if filter == nil {
		return f
	}
	if filter.Receiver != nil {
		f.ReceiverIn = filter.Receiver.In
	}
	if filter.WalletAddressID != nil {
		f.WalletAddressIDIn = filter.WalletAddressID.In
	}
	if filter.State != nil {
		f.StateIn = filter.State.In
	}
	return f
}

func (r *Resolver) outgoingPaymentConnection(ctx context.Context, f readmodel.OutgoingPaymentFilter, pg readmodel.Page) (*OutgoingPaymentConnection, error) {
	rows, info, err := r.Read.OutgoingPayments(ctx, f, pg)
	if err != nil {
		return nil, err
	}
	edges := make([]OutgoingPaymentEdge, len(rows))
	for i := range rows {
		node, err := outgoingPaymentOut(&rows[i])
		if err != nil {
			return nil, err
		}
		edges[i] = OutgoingPaymentEdge{Node: node, Cursor: rows[i].ID}
	}
	return &OutgoingPaymentConnection{PageInfo: pageInfo(info), Edges: edges}, nil
}

// cardDetailsIn reads a card payment's details.
func cardDetailsIn(d *CardDetailsInput) (*events.OutgoingPaymentCardDetails, error) {
	data, err := metadataIn(d.Data)
	if err != nil {
		return nil, apperr.E(apperr.InvalidInput, "cardDetails.data must be a JSON object")
	}
	at, err := time.Parse(time.RFC3339Nano, d.InitiatedAt)
	if err != nil {
		return nil, apperr.E(apperr.InvalidInput, "cardDetails.initiatedAt must be an ISO 8601 date and time")
	}
	return &events.OutgoingPaymentCardDetails{RequestID: d.RequestID, Data: data, InitiatedAt: at}, nil
}
