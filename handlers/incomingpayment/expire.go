package incomingpayment

import (
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/events"
)

// decideExpire records that an open payment passed its expiry, after what
// the ledger holds for it (total): money that reached its amount completes
// it instead, and one that received nothing is deleted. One that completed
// or expired already has nothing to expire, and one not yet due is refused,
// so that a command run early does not end a payment that may still
// receive money.
func decideExpire(s State, total uint64, now time.Time) ([]events.Event, error) {
	if !s.Live() {
		return nil, errUnknownPayment()
	}
	if !s.Open() {
		return nil, nil
	}
	if now.Before(s.ExpiresAt) {
		return nil, apperr.E(apperr.Conflict, "incoming payment expires at %s", s.ExpiresAt.UTC().Format(time.RFC3339Nano))
	}
	out := caughtUp(s, total)
	if completes(out) {
		return out, nil
	}
	return append(out, &events.IncomingPaymentExpired{}), nil
}

func completes(evs []events.Event) bool {
	for _, ev := range evs {
		if _, ok := ev.(*events.IncomingPaymentCompleted); ok {
			return true
		}
	}
	return false
}
