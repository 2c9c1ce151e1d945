package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rafiki-go/rafiki/adminapi/scalars"
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/readmodel"
)

func (r *Resolver) incomingPaymentAfter(ctx context.Context, id string, res handlers.Result) (*IncomingPayment, error) {
	if err := r.seen(ctx, projections.IncomingPayments{}.Name(), res); err != nil {
		return nil, err
	}
	if env, e, ok := created[*events.IncomingPaymentCreated](res); ok {
		if row, ok := projections.CreatedIncomingPayment(env, e); ok {
			return r.incomingPaymentOut(&row)
		}
	}
	row, err := r.Read.IncomingPayment(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, apperr.E(apperr.NotFound, "unknown payment")
	}
	return r.incomingPaymentOut(row)
}

// decidePartial records the entity's answer to a partial payment. The
// packet waiting for it reads it from the payment's events: there is no
// read model to wait for.
func (r *Resolver) decidePartial(ctx context.Context, paymentID, partialID string, accept bool, reason *string) error {
	m, err := meta(ctx)
	if err != nil {
		return err
	}
	_, err = r.IncomingPayments.DecidePartial(ctx, commands.DecidePartialIncomingPayment{Meta: m, IncomingPaymentID: paymentID,
		PartialIncomingPaymentID: partialID, Accept: accept, Reason: reason})
	return err
}

func (r *Resolver) incomingPaymentOut(p *readmodel.IncomingPayment) (*IncomingPayment, error) {
	out := &IncomingPayment{
		ID: p.ID, URL: strings.TrimRight(r.OpenPaymentsURL, "/") + "/" + p.TenantID + "/incoming-payments/" + p.ID,
		WalletAddressID: p.WalletAddressID, Client: p.Client, State: IncomingPaymentState(p.State),
		ExpiresAt: Timestamp(p.ExpiresAt), ReceivedAmount: amountOut(p.ReceivedAmount, p),
		CreatedAt: Timestamp(p.CreatedAt), SenderWalletAddress: p.SenderWalletAddress,
		CancellationReason: p.CancellationReason, CancelledAt: optionalTimestamp(p.CancelledAt), TenantID: p.TenantID,
	}
	if p.IncomingAmount != nil {
		out.IncomingAmount = amountOut(*p.IncomingAmount, p)
	}
	metadata, err := metadataOut(p.Metadata)
	if err != nil {
		return nil, fmt.Errorf("metadata of incoming payment %s: %w", p.ID, err)
	}
	out.Metadata = metadata
	return out, nil
}

// metadataOut is stored metadata as a JSONObject; nil for none.
func metadataOut(m json.RawMessage) (map[string]any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	// Numbers stay as written: a float64 would round large ones.
	d := json.NewDecoder(bytes.NewReader(m))
	d.UseNumber()
	var out map[string]any
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

func amountOut(value uint64, p *readmodel.IncomingPayment) *Amount {
	return &Amount{Value: scalars.BigInt(value), AssetCode: p.AssetCode, AssetScale: scalars.UInt8(p.AssetScale)}
}

func (r *Resolver) incomingPaymentConnection(ctx context.Context, f readmodel.IncomingPaymentFilter, filter *IncomingPaymentFilter, pg readmodel.Page) (*IncomingPaymentConnection, error) {
	if filter != nil && filter.InitiatedBy != nil {
		f.InitiatedByIn, f.InitiatedByNotIn = filter.InitiatedBy.In, filter.InitiatedBy.NotIn
	}
	rows, info, err := r.Read.IncomingPayments(ctx, f, pg)
	if err != nil {
		return nil, err
	}
	edges := make([]IncomingPaymentEdge, len(rows))
	for i := range rows {
		node, err := r.incomingPaymentOut(&rows[i])
		if err != nil {
			return nil, err
		}
		edges[i] = IncomingPaymentEdge{Node: node, Cursor: rows[i].ID}
	}
	return &IncomingPaymentConnection{PageInfo: pageInfo(info), Edges: edges}, nil
}

// metadataIn is a JSONObject argument as the command takes it; nil for
// none.
func metadataIn(m map[string]any) (json.RawMessage, error) {
	if m == nil {
		return nil, nil
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, apperr.E(apperr.InvalidInput, "metadata must be a JSON object")
	}
	return data, nil
}

// expiresAtIn reads an ISO 8601 date and time.
func expiresAtIn(v *string) (*time.Time, error) {
	if v == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		return nil, apperr.E(apperr.InvalidInput, "invalid expiresAt")
	}
	return &t, nil
}
