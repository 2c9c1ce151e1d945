// Package outgoingpayment handles outgoing payments: a quote paid from a
// wallet address, within the limits of the grant that asked for it, funded
// by the account servicing entity, then sent by whichever worker takes it,
// locally by a ledger transfer or over Interledger with STREAM.
package outgoingpayment

import (
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
)

// AggregateType names outgoing payments in subjects and envelopes; their
// grants' spending is GrantAggregateType.
const (
	AggregateType      = "outgoing_payment"
	GrantAggregateType = "outgoing_payment_grant"
)

// Subject is where an outgoing payment's events live.
func Subject(tenantID, id string) (string, error) {
	return handlers.Subject(tenantID, AggregateType, id)
}

// States, as Rafiki names them.
const (
	Funding   = "FUNDING"
	Sending   = "SENDING"
	Completed = "COMPLETED"
	Failed    = "FAILED"
	Cancelled = "CANCELLED"
)

// State is an outgoing payment as its events leave it.
type State struct {
	Exists bool
	ID     string
	events.OutgoingPaymentCreated
	TenantID  string
	CreatedAt time.Time
	// CreatedBy is the id of the payment's first event, which its
	// funding deposit takes as its transfer id, as Rafiki's takes the id of
	// its outgoing_payment.created webhook event.
	CreatedBy     uuid.UUID
	State         string
	Error         string
	StateAttempts int
	Sent          uint64
	Delivered     uint64
	// DataToTransmit is what its funding gave to send to the receiver;
	// HasData tells that there was some, also in the states a handler
	// keeps in memory, which leave the data out (see Handler.Load).
	DataToTransmit string
	HasData        bool
}

// Finished tells whether the payment moves no more money.
func (s State) Finished() bool {
	return s.State == Completed || s.State == Failed || s.State == Cancelled
}

// evolveKept is Evolve for the states a handler keeps in memory: without
// the data to transmit, personal data kept sealed in the events, which a
// shredded key must make unreadable everywhere.
func evolveKept(s State, env events.Envelope, ev events.Event) State {
	s = Evolve(s, env, ev)
	s.DataToTransmit = ""
	return s
}

// Evolve applies one event to the state.
func Evolve(s State, env events.Envelope, ev events.Event) State {
	switch e := ev.(type) {
	case *events.OutgoingPaymentCreated:
		s = State{Exists: true, ID: env.AggregateID, OutgoingPaymentCreated: *e, TenantID: env.TenantID,
			CreatedAt: env.Time, CreatedBy: env.ID, State: Funding}
	case *events.OutgoingPaymentFunded:
		s.State, s.DataToTransmit, s.HasData = Sending, e.DataToTransmit, e.DataToTransmit != ""
	case *events.OutgoingPaymentCancelled:
		s.State = Cancelled
	case *events.OutgoingPaymentAttemptFailed:
		s.Error, s.StateAttempts, s.Sent, s.Delivered = e.Error, e.Attempts, e.Sent, e.Delivered
	case *events.OutgoingPaymentCompleted:
		s.State, s.Error, s.Sent, s.Delivered = Completed, "", e.Sent, e.Delivered
	case *events.OutgoingPaymentFailed:
		s.State, s.Error, s.Sent, s.Delivered = Failed, e.Error, e.Sent, e.Delivered
	}
	return s
}
