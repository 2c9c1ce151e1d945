package incomingpayment

import (
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideApprove approves a PENDING payment that was not cancelled;
// approving it again changes nothing.
func decideApprove(s State, c commands.ApproveIncomingPayment) ([]events.Event, error) {
	if err := visible(s, c.Actor); err != nil {
		return nil, err
	}
	if s.State != StatePending {
		return nil, errWrongState()
	}
	if s.CancelledAt != nil {
		return nil, errAlreadyActioned()
	}
	if s.ApprovedAt != nil {
		return nil, nil
	}
	return []events.Event{&events.IncomingPaymentApproved{}}, nil
}
