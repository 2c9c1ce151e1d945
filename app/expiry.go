package app

import (
	"context"
	"sync"
	"time"

	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/readmodel"
)

const (
	// incomingPaymentExpiryInterval spaces the expiry worker's looks at
	// the payments due: a payment is expired within about that of its
	// expiry.
	incomingPaymentExpiryInterval = time.Second
	// incomingPaymentsDueMax bounds one look at the payments due; a round
	// looks again at once while it finds that many, up to
	// incomingPaymentExpiryBatchesMax looks.
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
			case <-time.After(incomingPaymentExpiryInterval):
			}
			if s := leader.Status(); !s.Leading || s.Rebuilding {
				continue
			}
			d.expireDue(ctx, payments, read)
		}
	})
	return &wg
}

// expireDue makes one round of expiries. Its looks go on from where the
// last one ended: the read model shows the expiries just made only once
// the projection applied them.
func (d *Deps) expireDue(ctx context.Context, payments *incomingpayment.Handler, read *readmodel.Reader) {
	now := time.Now()
	var after *readmodel.Due
	for range incomingPaymentExpiryBatchesMax {
		due, err := read.IncomingPaymentsDue(ctx, now, after, incomingPaymentsDueMax)
		if err != nil {
			if ctx.Err() == nil {
				d.Log.Warn("incoming payment expiry: reading the payments due failed; trying again later", "err", err)
			}
			return
		}
		// A payment whose expiry fails is tried again next round, and
		// does not hold back those due after it.
		for _, p := range due {
			if ctx.Err() != nil {
				return
			}
			if _, err := payments.ExpireDue(ctx, p.ID, ""); err != nil && ctx.Err() == nil {
				d.Log.Warn("incoming payment expiry failed; trying again next round", "incoming_payment", p.ID, "err", err)
			}
		}
		if len(due) < incomingPaymentsDueMax {
			return
		}
		after = &due[len(due)-1]
	}
}
