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

// ReceiveIncomingPayment records money that arrived for an incoming
// payment.
type ReceiveIncomingPayment struct {
	Meta
	IncomingPaymentID string
	Amount            uint64
}

// ExpireIncomingPayment asks, once the payment's expiry has passed, to
// record that it expired.
type ExpireIncomingPayment struct {
	Meta
	IncomingPaymentID string
}
