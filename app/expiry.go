package app

import (
	"context"
	"sync"
	"time"

	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/readmodel"
)

// IncomingPaymentExpiryInterval spaces the expiry worker's looks at the
// payments due: a payment is expired within about that of its expiry.
var IncomingPaymentExpiryInterval = time.Second

// incomingPaymentsDueMax bounds one look at the payments due; a round
// looks again at once while it finds that many, up to
// incomingPaymentExpiryBatchesMax looks.
const (
	incomingPaymentsDueMax          = 1000
	incomingPaymentExpiryBatchesMax = 10
)

// RunIncomingPaymentExpiry expires the open incoming payments past their
// expiry until ctx ends, from the read model's index of the open payments
// by expiry: a payment's creation stores nothing more than its events.
// Every worker runs it, and the one whose runner leads the incoming
// payments projection does the work, so that one worker at a time expires
// (an expiry run twice is recognised by its events, as when the lease moves
// during a round).
func (d *Deps) RunIncomingPaymentExpiry(ctx context.Context, payments *incomingpayment.Handler, read *readmodel.Reader,
	runners []*projections.Runner) *sync.WaitGroup {
	var leader *projections.Runner
	for _, r := range runners {
		if r.Status().Projection == (projections.IncomingPayments{}).Name() {
			leader = r
		}
	}
	var wg sync.WaitGroup
	if leader == nil {
		return &wg
	}
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(IncomingPaymentExpiryInterval):
			}
			if s := leader.Status(); !s.Leading || s.Rebuilding {
				continue
			}
			d.expireDue(ctx, payments, read)
		}
	})
	return &wg
}

// expireDue makes one round of expiries.
func (d *Deps) expireDue(ctx context.Context, payments *incomingpayment.Handler, read *readmodel.Reader) {
	for range incomingPaymentExpiryBatchesMax {
		ids, err := read.IncomingPaymentsDue(ctx, time.Now(), incomingPaymentsDueMax)
		if err != nil {
			if ctx.Err() == nil {
				d.Log.Warn("incoming payment expiry: reading the payments due failed; trying again later", "err", err)
			}
			return
		}
		for _, id := range ids {
			if _, err := payments.ExpireDue(ctx, id, ""); err != nil {
				if ctx.Err() == nil {
					d.Log.Warn("incoming payment expiry failed; trying again later", "incoming_payment", id, "err", err)
				}
				return
			}
		}
		if len(ids) < incomingPaymentsDueMax {
			return
		}
	}
}
