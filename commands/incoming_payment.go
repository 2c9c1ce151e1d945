package commands

import (
	"encoding/json"
	"time"
)

// ExpireIncomingPaymentSubject carries an ExpireIncomingPayment, due when
// the payment expires.
const ExpireIncomingPaymentSubject = "commands.incoming_payment.expire"

// Amount is an amount in an asset, as the API gives it.
type Amount struct {
	Value      uint64
	AssetCode  string
	AssetScale uint8
}

// CreateIncomingPayment makes an incoming payment into a wallet address.
// ExpiresAt nil is the longest expiry allowed; Metadata is a JSON object or
// empty; InitiatedBy is one of events.InitiatedBy….
type CreateIncomingPayment struct {
	Meta
	WalletAddressID     string
	IncomingAmount      *Amount
	ExpiresAt           *time.Time
	Metadata            json.RawMessage
	Client              string
	ClientKey           string
	InitiatedBy         string
	SenderWalletAddress *string
}

// UpdateIncomingPayment replaces an incoming payment's metadata.
type UpdateIncomingPayment struct {
	Meta
	IncomingPaymentID string
	Metadata          json.RawMessage
}

// ApproveIncomingPayment approves a pending incoming payment.
type ApproveIncomingPayment struct {
	Meta
	IncomingPaymentID string
}

// CancelIncomingPayment cancels a pending incoming payment.
type CancelIncomingPayment struct {
	Meta
	IncomingPaymentID string
	Reason            *string
}

// CompleteIncomingPayment completes an incoming payment before its amount
// arrived.
type CompleteIncomingPayment struct {
	Meta
	IncomingPaymentID string
}

// ReceiveIncomingPaymentSubject carries a ReceiveIncomingPayment from the
// connector.
const ReceiveIncomingPaymentSubject = "commands.incoming_payment.receive"

// ReceiveIncomingPayment tells that Packets fulfilled packets brought
// Amount to an incoming payment since the connector last told it. The
// payment records what the ledger holds for it, which these lower bound:
// a message lost or repeated changes nothing the next one does not bring
// right.
type ReceiveIncomingPayment struct {
	TenantID          string `json:"tenantId"`
	IncomingPaymentID string `json:"incomingPaymentId"`
	Packets           uint64 `json:"packets"`
	Amount            uint64 `json:"amount"`
}

// ExpireIncomingPayment asks, once the payment's expiry has passed, to
// record that it expired.
type ExpireIncomingPayment struct {
	Meta
	IncomingPaymentID string
}

// ReceivePartialIncomingPayment records a packet that brought data from its
// sender into an open incoming payment, for the account servicing entity to
// decide before ExpiresAt, the packet's expiry.
type ReceivePartialIncomingPayment struct {
	Meta
	IncomingPaymentID        string
	PartialIncomingPaymentID string
	DataFromSender           []byte
	Amount                   uint64
	ExpiresAt                time.Time
}

// DecidePartialIncomingPayment is the entity's answer to a partial payment
// (confirmPartialIncomingPayment, rejectPartialIncomingPayment): Reason,
// for a refusal, is told to the sender.
type DecidePartialIncomingPayment struct {
	Meta
	IncomingPaymentID        string
	PartialIncomingPaymentID string
	Accept                   bool
	Reason                   *string
}
