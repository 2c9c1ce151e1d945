package incomingpayment

import (
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideComplete completes a PENDING or PROCESSING payment, whatever it
// received.
func decideComplete(s State, c commands.CompleteIncomingPayment) ([]events.Event, error) {
	if err := visible(s, c.Actor); err != nil {
		return nil, err
	}
	if !s.Open() {
		return nil, errWrongState()
	}
	return []events.Event{&events.IncomingPaymentCompleted{}}, nil
}
