package commands

import (
	"encoding/json"

	"github.com/rafiki-go/rafiki/events"
)

// CreateOutgoingPayment pays a quote from the wallet address it was made
// for.
type CreateOutgoingPayment struct {
	Meta
	WalletAddressID string
	QuoteID         string
	// Metadata is a JSON object, or empty for none.
	Metadata json.RawMessage
	// Client is the GNAP client that asked through Open Payments; Grant
	// the grant whose limits the payment spends, when it has limits.
	Client      string
	Grant       *OutgoingPaymentGrant
	InitiatedBy string
	CardDetails *events.OutgoingPaymentCardDetails
}

// OutgoingPaymentGrant is a grant's outgoing payment access as a payment
// spends it.
type OutgoingPaymentGrant struct {
	ID string
	// Limits, each optional: the only receiver it may pay, the most it
	// may debit or deliver (in all, or per interval when Interval is set).
	Receiver      string
	DebitAmount   *Amount
	ReceiveAmount *Amount
	Interval      string
}

// FundOutgoingPayment deposits an outgoing payment's debit amount into its
// account, so that it is sent; DataToTransmit, when set, goes with it to the
// receiver's application (a receiver elsewhere, over STREAM).
type FundOutgoingPayment struct {
	Meta
	OutgoingPaymentID string
	DataToTransmit    string
}

// CancelOutgoingPayment gives up a payment not funded yet.
type CancelOutgoingPayment struct {
	Meta
	OutgoingPaymentID        string
	Reason                   *string
	CardPaymentFailureReason *string
}

// SendOutgoingPaymentSubject carries a SendOutgoingPayment, enqueued when a
// payment's attempt failed, due after the backoff (and, in an earlier
// version, as a check of each funding).
const SendOutgoingPaymentSubject = "commands.outgoing_payment.send"

// SendOutgoingPayment asks a worker to send a funded payment.
type SendOutgoingPayment struct {
	TenantID          string `json:"tenantId"`
	OutgoingPaymentID string `json:"outgoingPaymentId"`
}

// CreateOutgoingPaymentFromIncomingPayment pays an incoming payment a fixed
// debit amount: a quote for it, then a payment of the quote.
type CreateOutgoingPaymentFromIncomingPayment struct {
	Meta
	WalletAddressID string
	IncomingPayment string
	// DebitAmount, when nil, is what the incoming payment still expects.
	DebitAmount *Amount
	Metadata    json.RawMessage
	Client      string
	Grant       *OutgoingPaymentGrant
	InitiatedBy string
	CardDetails *events.OutgoingPaymentCardDetails
}
