package incomingpayment

import (
	"github.com/rafiki-go/rafiki/events"
)

// decideReceive brings what a payment received up to the ledger's total for
// it, completing an open payment that reached its incoming amount. Money
// that arrived is recorded whatever the payment's state: a packet in flight
// when it completed or expired still brought it.
func decideReceive(s State, total uint64) ([]events.Event, error) {
	if !s.Live() {
		return nil, errUnknownPayment()
	}
	return caughtUp(s, total), nil
}

// caughtUp is what brings the payment to the ledger's total: nothing when
// its events hold that much already.
func caughtUp(s State, total uint64) []events.Event {
	if total <= s.Received {
		return nil
	}
	out := []events.Event{&events.IncomingPaymentReceived{Amount: total - s.Received, Total: total}}
	if s.Open() && s.IncomingAmount != nil && total >= *s.IncomingAmount {
		out = append(out, &events.IncomingPaymentCompleted{})
	}
	return out
}
