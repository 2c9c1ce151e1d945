package app

import (
	"context"
	"time"

	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/receiver"
)

// quoteReceivers are the receivers quotes pay, resolved as the receiver
// service resolves them.
type quoteReceivers struct{ receivers *receiver.Service }

func (q quoteReceivers) Receiver(ctx context.Context, url string) (quote.Receiver, bool, error) {
	r, err := q.receivers.Get(ctx, url)
	if err != nil || r == nil {
		return quote.Receiver{}, false, err
	}
	out := quote.Receiver{URL: r.ID, Local: r.Local, AssetCode: r.ReceivedAmount.AssetCode, AssetScale: r.ReceivedAmount.AssetScale,
		ReceivedAmount: r.ReceivedAmount.Value, ExpiresAt: r.ExpiresAt, Active: r.Active(time.Now())}
	if r.IncomingAmount != nil {
		incoming := r.IncomingAmount.Value
		out.IncomingAmount = &incoming
	}
	return out, true, nil
}
