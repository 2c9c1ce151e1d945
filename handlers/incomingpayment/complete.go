package incomingpayment

import (
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideComplete completes a PENDING or PROCESSING payment, whatever it
// received, after recording what the ledger holds for it (total).
func decideComplete(s State, c commands.CompleteIncomingPayment, total uint64) ([]events.Event, error) {
	if err := visible(s, c.Actor); err != nil {
		return nil, err
	}
	if !s.Open() {
		return nil, errWrongState()
	}
	out := caughtUp(s, total)
	if completes(out) {
		return out, nil
	}
	return append(out, &events.IncomingPaymentCompleted{}), nil
}
