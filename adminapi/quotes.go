package adminapi

import (
	"context"

	"github.com/rafiki-go/rafiki/adminapi/scalars"
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/readmodel"
)

func (r *Resolver) quoteAfter(ctx context.Context, id string, res handlers.Result) (*Quote, error) {
	if err := r.seen(ctx, projections.Quotes{}.Name(), res); err != nil {
		return nil, err
	}
	if env, e, ok := created[*events.QuoteCreated](res); ok {
		if row, ok := projections.CreatedQuote(env, e); ok {
			return quoteOut(&row), nil
		}
	}
	row, err := r.Read.Quote(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, apperr.E(apperr.NotFound, "quote does not exist")
	}
	return quoteOut(row), nil
}

func quoteOut(q *readmodel.Quote) *Quote {
	rate := q.EstimatedExchangeRate
	return &Quote{ID: q.ID, TenantID: q.TenantID, WalletAddressID: q.WalletAddressID, Receiver: q.Receiver,
		DebitAmount:   &Amount{Value: scalars.BigInt(q.DebitAmount), AssetCode: q.AssetCode, AssetScale: scalars.UInt8(q.AssetScale)},
		ReceiveAmount: &Amount{Value: scalars.BigInt(q.ReceiveAmount), AssetCode: q.ReceiveAssetCode, AssetScale: scalars.UInt8(q.ReceiveAssetScale)},
		CreatedAt:     Timestamp(q.CreatedAt), ExpiresAt: Timestamp(q.ExpiresAt), EstimatedExchangeRate: &rate}
}
