package events

import (
	"encoding/json"
	"time"
)

// Incoming payment events. An incoming payment is PENDING when created,
// PROCESSING once money arrived, and COMPLETED or EXPIRED in the end.

// Who made an incoming payment (Rafiki's IncomingPaymentInitiationReason).
const (
	InitiatedByAdmin        = "ADMIN"
	InitiatedByOpenPayments = "OPEN_PAYMENTS"
	InitiatedByCard         = "CARD"
)

// IncomingPaymentCreated is an incoming payment into a wallet address, in
// the wallet address's asset as it was then.
type IncomingPaymentCreated struct {
	WalletAddressID string `json:"walletAddressId"`
	AssetID         string `json:"assetId"`
	AssetCode       string `json:"assetCode"`
	AssetScale      uint8  `json:"assetScale"`
	// IncomingAmount is the amount that completes it; nil for none.
	IncomingAmount *uint64   `json:"incomingAmount,omitempty"`
	ExpiresAt      time.Time `json:"expiresAt"`
	// Metadata is a JSON object, or empty for none.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Client is the GNAP client that made it through Open Payments: its
	// wallet address, or, for a client known by its key alone, the key's
	// RFC 7638 thumbprint in ClientKey.
	Client              string  `json:"client,omitempty"`
	ClientKey           string  `json:"clientKey,omitempty"`
	InitiatedBy         string  `json:"initiatedBy"`
	SenderWalletAddress *string `json:"senderWalletAddress,omitempty"`
}

// IncomingPaymentUpdated replaces the metadata.
type IncomingPaymentUpdated struct {
	Metadata json.RawMessage `json:"metadata"`
}

type IncomingPaymentApproved struct{}

type IncomingPaymentCancelled struct {
	Reason *string `json:"reason,omitempty"`
}

// IncomingPaymentReceived is money that arrived; Total is what was received
// in all, this included, so that applying it twice changes nothing.
type IncomingPaymentReceived struct {
	Amount uint64 `json:"amount"`
	Total  uint64 `json:"total"`
}

type IncomingPaymentCompleted struct{}

type IncomingPaymentExpired struct{}

// IncomingPaymentPartialReceived is a packet of Amount that arrived with
// data from its sender (ENABLE_PARTIAL_PAYMENT_DECISION): the account
// servicing entity decides it before the packet expires at ExpiresAt. The
// data may be personal (it exists for checks of who pays), so it is a
// secret.
type IncomingPaymentPartialReceived struct {
	PartialIncomingPaymentID string    `json:"partialIncomingPaymentId"`
	DataFromSender           string    `json:"dataFromSender"`
	Amount                   uint64    `json:"amount"`
	ExpiresAt                time.Time `json:"expiresAt"`
}

// IncomingPaymentPartialDecided is the entity's answer to a partial
// payment: its packet is accepted, or declined with Reason told to the
// sender.
type IncomingPaymentPartialDecided struct {
	PartialIncomingPaymentID string  `json:"partialIncomingPaymentId"`
	Accepted                 bool    `json:"accepted"`
	Reason                   *string `json:"reason,omitempty"`
}

func (e IncomingPaymentPartialReceived) MapSecrets(f func(field, value string) (string, error)) (Event, error) {
	if err := mapSecret(f, "dataFromSender", &e.DataFromSender); err != nil {
		return nil, err
	}
	return &e, nil
}

func (IncomingPaymentCreated) EventType() string   { return "incoming_payment.created" }
func (IncomingPaymentUpdated) EventType() string   { return "incoming_payment.updated" }
func (IncomingPaymentApproved) EventType() string  { return "incoming_payment.approved" }
func (IncomingPaymentCancelled) EventType() string { return "incoming_payment.cancelled" }
func (IncomingPaymentReceived) EventType() string  { return "incoming_payment.received" }
func (IncomingPaymentCompleted) EventType() string { return "incoming_payment.completed" }
func (IncomingPaymentExpired) EventType() string   { return "incoming_payment.expired" }
func (IncomingPaymentPartialReceived) EventType() string {
	return "incoming_payment.partial_payment_received"
}
func (IncomingPaymentPartialDecided) EventType() string {
	return "incoming_payment.partial_payment_decided"
}

func (IncomingPaymentCreated) SchemaVersion() int   { return 1 }
func (IncomingPaymentUpdated) SchemaVersion() int   { return 1 }
func (IncomingPaymentApproved) SchemaVersion() int  { return 1 }
func (IncomingPaymentCancelled) SchemaVersion() int { return 1 }
func (IncomingPaymentReceived) SchemaVersion() int  { return 1 }
func (IncomingPaymentCompleted) SchemaVersion() int { return 1 }
func (IncomingPaymentExpired) SchemaVersion() int   { return 1 }

// The data of a partial payment was sealed from its first version.
func (IncomingPaymentPartialReceived) SchemaVersion() int { return SealedSecretsVersion }
func (IncomingPaymentPartialDecided) SchemaVersion() int  { return 1 }

func init() {
	register(
		func() Event { return &IncomingPaymentCreated{} },
		func() Event { return &IncomingPaymentUpdated{} },
		func() Event { return &IncomingPaymentApproved{} },
		func() Event { return &IncomingPaymentCancelled{} },
		func() Event { return &IncomingPaymentReceived{} },
		func() Event { return &IncomingPaymentCompleted{} },
		func() Event { return &IncomingPaymentExpired{} },
		func() Event { return &IncomingPaymentPartialReceived{} },
		func() Event { return &IncomingPaymentPartialDecided{} },
	)
}
