package incomingpayment

import (
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideCancel cancels a PENDING payment that was not approved; cancelling
// it again changes nothing (the first reason stays).
func decideCancel(s State, c commands.CancelIncomingPayment) ([]events.Event, error) {
	if err := visible(s, c.Actor); err != nil {
		return nil, err
	}
	if s.State != StatePending {
		return nil, errWrongState()
	}
	if s.ApprovedAt != nil {
		return nil, errAlreadyActioned()
	}
	if s.CancelledAt != nil {
		return nil, nil
	}
	return []events.Event{&events.IncomingPaymentCancelled{Reason: c.Reason}}, nil
}
