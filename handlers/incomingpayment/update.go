package incomingpayment

import (
	"bytes"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// visible is a live payment the actor may act on; anything else is
// unknown.
func visible(s State, actor commands.Actor) error {
	if !s.Live() || !actor.CanActFor(s.TenantID) {
		return errUnknownPayment()
	}
	return nil
}

// decideUpdate replaces the metadata, in any state as Rafiki does; the same
// metadata again changes nothing.
func decideUpdate(s State, c commands.UpdateIncomingPayment) ([]events.Event, error) {
	if err := visible(s, c.Actor); err != nil {
		return nil, err
	}
	if bytes.Equal(s.Metadata, c.Metadata) {
		return nil, nil
	}
	return []events.Event{&events.IncomingPaymentUpdated{Metadata: c.Metadata}}, nil
}
