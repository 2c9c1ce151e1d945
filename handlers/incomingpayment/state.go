// Package incomingpayment handles incoming payments: payments a wallet
// address expects, approved or cancelled by its account servicing entity,
// filled by the money that arrives for them, and completed or expired.
package incomingpayment

import (
	"encoding/json"
	"time"

	"github.com/rafiki-go/rafiki/events"
)

// AggregateType names incoming payments in subjects and envelopes.
const AggregateType = "incoming_payment"

// States, as Rafiki's IncomingPaymentState.
const (
	StatePending    = "PENDING"
	StateProcessing = "PROCESSING"
	StateCompleted  = "COMPLETED"
	StateExpired    = "EXPIRED"
)

// State is an incoming payment as its events leave it.
type State struct {
	Exists              bool
	ID                  string
	TenantID            string
	WalletAddressID     string
	AssetID             string
	AssetCode           string
	AssetScale          uint8
	IncomingAmount      *uint64
	Received            uint64
	ExpiresAt           time.Time
	Metadata            json.RawMessage
	Client              string
	ClientKey           string
	InitiatedBy         string
	SenderWalletAddress *string
	State               string
	ApprovedAt          *time.Time
	CancelledAt         *time.Time
	CancellationReason  *string
	// DeletedAt is set when the payment expired without money: Rafiki
	// then deletes it, and it is unknown from then on.
	DeletedAt *time.Time
	CreatedAt time.Time
	// Partials wait for the entity's decision on packets that brought
	// data from their senders.
	Partials []Partial
}

// Live is a payment that exists and is not deleted.
func (s State) Live() bool { return s.Exists && s.DeletedAt == nil }

// Open is a payment that can still receive money, complete or expire.
func (s State) Open() bool {
	return s.Live() && (s.State == StatePending || s.State == StateProcessing)
}

// Evolve applies one event to the state.
func Evolve(s State, env events.Envelope, ev events.Event) State {
	at := env.Time
	switch e := ev.(type) {
	case *events.IncomingPaymentCreated:
		s = State{
			Exists: true, ID: env.AggregateID, TenantID: env.TenantID, WalletAddressID: e.WalletAddressID,
			AssetID: e.AssetID, AssetCode: e.AssetCode, AssetScale: e.AssetScale, IncomingAmount: e.IncomingAmount,
			ExpiresAt: e.ExpiresAt, Metadata: e.Metadata, Client: e.Client, ClientKey: e.ClientKey, InitiatedBy: e.InitiatedBy,
			SenderWalletAddress: e.SenderWalletAddress, State: StatePending, CreatedAt: at,
		}
	case *events.IncomingPaymentUpdated:
		s.Metadata = e.Metadata
	case *events.IncomingPaymentApproved:
		s.ApprovedAt = &at
	case *events.IncomingPaymentCancelled:
		s.CancelledAt, s.CancellationReason = &at, e.Reason
	case *events.IncomingPaymentReceived:
		s.Received = e.Total
		if s.State == StatePending {
			s.State = StateProcessing
		}
	case *events.IncomingPaymentCompleted:
		s.State = StateCompleted
	case *events.IncomingPaymentExpired:
		s.State = StateExpired
		if s.Received == 0 {
			s.DeletedAt = &at
		}
	case *events.IncomingPaymentPartialReceived:
		s.Partials = append(waiting(s.Partials, at, e.PartialIncomingPaymentID),
			Partial{ID: e.PartialIncomingPaymentID, ExpiresAt: e.ExpiresAt})
	case *events.IncomingPaymentPartialDecided:
		s.Partials = waiting(s.Partials, at, e.PartialIncomingPaymentID)
	}
	return s
}
