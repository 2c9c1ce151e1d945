package incomingpayment

import (
	"math"
	"time"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideReceive records money that arrived for a PENDING or PROCESSING
// payment not yet past its expiry, and completes it when it has received
// its incoming amount. The connector sends it; no tenant is checked.
func decideReceive(s State, c commands.ReceiveIncomingPayment, now time.Time) ([]events.Event, error) {
	if !s.Live() {
		return nil, errUnknownPayment()
	}
	if !s.Open() || !now.Before(s.ExpiresAt) {
		return nil, errWrongState()
	}
	if c.Amount == 0 || c.Amount > math.MaxUint64-s.Received {
		return nil, errInvalidAmount()
	}
	total := s.Received + c.Amount
	out := []events.Event{&events.IncomingPaymentReceived{Amount: c.Amount, Total: total}}
	if s.IncomingAmount != nil && total >= *s.IncomingAmount {
		out = append(out, &events.IncomingPaymentCompleted{})
	}
	return out, nil
}
