package events

import (
	"encoding/json"
	"time"
)

// Outgoing payment events. An outgoing payment pays a quote: it is FUNDING
// until its debit amount is deposited, SENDING until its receiver got the
// quoted amount, and COMPLETED or FAILED in the end; one never funded may
// be CANCELLED. Its id is its quote's.

// OutgoingPaymentCreated is an outgoing payment from a wallet address, with
// its quote's terms.
type OutgoingPaymentCreated struct {
	WalletAddressID string `json:"walletAddressId"`
	AssetID         string `json:"assetId"`
	AssetCode       string `json:"assetCode"`
	AssetScale      uint8  `json:"assetScale"`
	// AssetLedger is the asset's ledger number, where the payment's
	// account is.
	AssetLedger uint32 `json:"assetLedger"`
	// Receiver is the URL of the incoming payment paid.
	Receiver             string `json:"receiver"`
	DebitAmount          uint64 `json:"debitAmount"`
	DebitAmountMinusFees uint64 `json:"debitAmountMinusFees"`
	ReceiveAmount        uint64 `json:"receiveAmount"`
	ReceiveAssetCode     string `json:"receiveAssetCode"`
	ReceiveAssetScale    uint8  `json:"receiveAssetScale"`
	// Method is the quote's: QuoteLocal or QuoteILP.
	Method string `json:"method"`
	// EstimatedExchangeRate and QuoteExpiresAt are the quote's.
	EstimatedExchangeRate float64   `json:"estimatedExchangeRate"`
	QuoteExpiresAt        time.Time `json:"quoteExpiresAt"`
	// Metadata is a JSON object, or empty for none.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Client is the GNAP client that made it through Open Payments, and
	// GrantID the grant it spent.
	Client      string `json:"client,omitempty"`
	GrantID     string `json:"grantId,omitempty"`
	InitiatedBy string `json:"initiatedBy"`
	// CardDetails are a card payment's, for the card service.
	CardDetails *OutgoingPaymentCardDetails `json:"cardDetails,omitempty"`
}

// OutgoingPaymentCardDetails is what a card payment carries.
type OutgoingPaymentCardDetails struct {
	RequestID   string          `json:"requestId"`
	Data        json.RawMessage `json:"data"`
	InitiatedAt time.Time       `json:"initiatedAt"`
}

// OutgoingPaymentFunded is the debit amount deposited into the payment's
// account: it is SENDING. DataToTransmit is for the receiver's application,
// sent with the payment; it may be personal data (for the receiver's
// checks), so it is sealed in the log (see Secretive).
type OutgoingPaymentFunded struct {
	Amount         uint64 `json:"amount"`
	DataToTransmit string `json:"dataToTransmit,omitempty"`
}

// OutgoingPaymentCancelled is a payment that will not be funded.
type OutgoingPaymentCancelled struct {
	Reason *string `json:"reason,omitempty"`
	// CardPaymentFailureReason says why a card payment failed.
	CardPaymentFailureReason *string `json:"cardPaymentFailureReason,omitempty"`
}

// OutgoingPaymentAttemptFailed is an attempt to send that failed and will
// be tried again; Sent and Delivered are what the payment moved in all so
// far, so that applying it twice changes nothing.
type OutgoingPaymentAttemptFailed struct {
	Error     string `json:"error"`
	Attempts  int    `json:"attempts"`
	Sent      uint64 `json:"sent"`
	Delivered uint64 `json:"delivered"`
}

// OutgoingPaymentCompleted is a payment whose receiver got what it was
// quoted; Sent is in the debit asset (fees not included), Delivered in the
// receiver's.
type OutgoingPaymentCompleted struct {
	Sent      uint64 `json:"sent"`
	Delivered uint64 `json:"delivered"`
}

// OutgoingPaymentFailed is a payment given up; what it had not sent stays in
// its account, for the account servicing entity to withdraw.
type OutgoingPaymentFailed struct {
	Error     string `json:"error"`
	Sent      uint64 `json:"sent"`
	Delivered uint64 `json:"delivered"`
}

// OutgoingPaymentGrantSpent is what an outgoing payment took of its grant's
// limits, in the interval it was made in when the limits repeat.
type OutgoingPaymentGrantSpent struct {
	OutgoingPaymentID string     `json:"outgoingPaymentId"`
	DebitAmount       uint64     `json:"debitAmount"`
	ReceiveAmount     uint64     `json:"receiveAmount"`
	IntervalStart     *time.Time `json:"intervalStart,omitempty"`
	IntervalEnd       *time.Time `json:"intervalEnd,omitempty"`
}

// OutgoingPaymentGrantReleased gives back to a grant what a failed or
// cancelled payment took and did not send.
type OutgoingPaymentGrantReleased struct {
	OutgoingPaymentID string `json:"outgoingPaymentId"`
	DebitAmount       uint64 `json:"debitAmount"`
	ReceiveAmount     uint64 `json:"receiveAmount"`
}

func (OutgoingPaymentCreated) EventType() string       { return "outgoing_payment.created" }
func (OutgoingPaymentFunded) EventType() string        { return "outgoing_payment.funded" }
func (OutgoingPaymentCancelled) EventType() string     { return "outgoing_payment.cancelled" }
func (OutgoingPaymentAttemptFailed) EventType() string { return "outgoing_payment.attempt_failed" }
func (OutgoingPaymentCompleted) EventType() string     { return "outgoing_payment.completed" }
func (OutgoingPaymentFailed) EventType() string        { return "outgoing_payment.failed" }
func (OutgoingPaymentGrantSpent) EventType() string    { return "outgoing_payment_grant.spent" }
func (OutgoingPaymentGrantReleased) EventType() string { return "outgoing_payment_grant.released" }

func (OutgoingPaymentCreated) SchemaVersion() int       { return 1 }
func (OutgoingPaymentFunded) SchemaVersion() int        { return SealedSecretsVersion }
func (OutgoingPaymentCancelled) SchemaVersion() int     { return 1 }
func (OutgoingPaymentAttemptFailed) SchemaVersion() int { return 1 }
func (OutgoingPaymentCompleted) SchemaVersion() int     { return 1 }
func (OutgoingPaymentFailed) SchemaVersion() int        { return 1 }
func (OutgoingPaymentGrantSpent) SchemaVersion() int    { return 1 }
func (OutgoingPaymentGrantReleased) SchemaVersion() int { return 1 }

func (e OutgoingPaymentFunded) MapSecrets(f func(field, value string) (string, error)) (Event, error) {
	if err := mapSecret(f, "dataToTransmit", &e.DataToTransmit); err != nil {
		return nil, err
	}
	return &e, nil
}

func init() {
	register(
		func() Event { return &OutgoingPaymentCreated{} },
		func() Event { return &OutgoingPaymentFunded{} },
		func() Event { return &OutgoingPaymentCancelled{} },
		func() Event { return &OutgoingPaymentAttemptFailed{} },
		func() Event { return &OutgoingPaymentCompleted{} },
		func() Event { return &OutgoingPaymentFailed{} },
		func() Event { return &OutgoingPaymentGrantSpent{} },
		func() Event { return &OutgoingPaymentGrantReleased{} },
	)
}
