package incomingpayment

import (
	"fmt"
	"time"

	"github.com/rafiki-go/rafiki/events"
)

// checkTransitions asserts that decided events only take the payment along
// its legal transitions: it is created once, PENDING; it completes or
// expires only while PENDING or PROCESSING; money arrives in any state, as
// the ledger tells it, moving it from PENDING to PROCESSING; it is approved or cancelled only while
// PENDING and neither yet; a partial payment arrives while the payment is
// open, and is decided once, while it waits; a deleted payment changes no
// more. A decision
// that breaks them is a bug: the handler refuses to append it.
func checkTransitions(s State, evs []events.Event) error {
	for _, ev := range evs {
		if err := legal(s, ev); err != nil {
			return fmt.Errorf("illegal %s on incoming payment %s: %w", ev.EventType(), s.ID, err)
		}
		s = Evolve(s, events.Envelope{AggregateID: s.ID, TenantID: s.TenantID, Time: time.Now()}, ev)
	}
	return nil
}

func legal(s State, ev events.Event) error {
	if _, created := ev.(*events.IncomingPaymentCreated); created != !s.Exists {
		return fmt.Errorf("payment exists: %t", s.Exists)
	}
	if s.Exists && !s.Live() {
		return fmt.Errorf("payment deleted")
	}
	pendingUnactioned := s.State == StatePending && s.ApprovedAt == nil && s.CancelledAt == nil
	var ok bool
	switch e := ev.(type) {
	case *events.IncomingPaymentCreated:
		ok = validInitiator(e.InitiatedBy) && (e.IncomingAmount == nil || *e.IncomingAmount > 0)
	case *events.IncomingPaymentUpdated:
		ok = true
	case *events.IncomingPaymentApproved, *events.IncomingPaymentCancelled:
		ok = pendingUnactioned
	case *events.IncomingPaymentReceived:
		ok = e.Amount > 0 && e.Total == s.Received+e.Amount && e.Total > s.Received
	case *events.IncomingPaymentCompleted, *events.IncomingPaymentExpired:
		ok = s.Open()
	case *events.IncomingPaymentPartialReceived:
		_, waits := s.partial(e.PartialIncomingPaymentID)
		ok = s.Open() && e.Amount > 0 && !waits
	case *events.IncomingPaymentPartialDecided:
		_, ok = s.partial(e.PartialIncomingPaymentID)
		ok = ok && s.State != StateCompleted && s.State != StateExpired
	default:
		return fmt.Errorf("not an incoming payment event")
	}
	if !ok {
		return fmt.Errorf("from state %s (approved %t, cancelled %t)", s.State, s.ApprovedAt != nil, s.CancelledAt != nil)
	}
	return nil
}
