package app

import (
	"context"
	"strings"
	"time"

	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/readmodel"
)

// localReceivers finds the incoming payments of this instance that quotes
// pay, by their Open Payments URL (<OPEN_PAYMENTS_URL>/<tenant id>/
// incoming-payments/<id>): their state from their events, what they
// received from the ledger.
type localReceivers struct {
	base     string
	payments *incomingpayment.Handler
	read     *readmodel.Reader
}

func (l localReceivers) Receiver(ctx context.Context, url string) (quote.Receiver, bool, error) {
	rest, ok := strings.CutPrefix(url, l.base+"/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 || parts[1] != "incoming-payments" {
		return quote.Receiver{}, false, nil
	}
	p, found, err := l.payments.Load(ctx, parts[2])
	if err != nil || !found || !p.Live() || p.TenantID != parts[0] {
		return quote.Receiver{}, false, err
	}
	received, err := l.read.Received(ctx, p.ID, p.Received)
	if err != nil {
		return quote.Receiver{}, false, err
	}
	expiresAt := p.ExpiresAt
	return quote.Receiver{URL: url, Local: true, AssetCode: p.AssetCode, AssetScale: p.AssetScale, IncomingAmount: p.IncomingAmount,
		ReceivedAmount: received, ExpiresAt: &expiresAt, Active: p.Open() && time.Now().Before(p.ExpiresAt)}, true, nil
}
