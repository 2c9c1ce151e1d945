package quote

import (
	"math"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/rates"
)

// Receiver is an incoming payment as a quote sees it.
type Receiver struct {
	URL string
	// LocalPaymentID is the id of a payment of this instance, paid by a
	// ledger transfer; empty for a payment elsewhere. LocalTenantID and
	// LocalAssetID are its tenant and asset.
	LocalPaymentID string
	LocalTenantID  string
	LocalAssetID   string
	AssetCode      string
	AssetScale     uint8
	IncomingAmount *uint64
	ReceivedAmount uint64
	ExpiresAt      *time.Time
	// Active is a payment that can still receive: neither completed nor
	// expired.
	Active bool
	// ILPAddress and SharedSecret are its STREAM credentials, which a
	// receiver elsewhere is probed and paid with.
	ILPAddress   string
	SharedSecret []byte
}

// Local tells whether it is a payment of this instance.
func (r Receiver) Local() bool { return r.LocalPaymentID != "" }

// remaining is what the receiver still expects, when it expects an
// amount.
func (r Receiver) remaining() (uint64, bool) {
	if r.IncomingAmount == nil {
		return 0, false
	}
	if r.ReceivedAmount >= *r.IncomingAmount {
		return 0, true
	}
	return *r.IncomingAmount - r.ReceivedAmount, true
}

// amountMax is the most a quote debits or delivers: Rafiki keeps quote
// amounts in bigint columns, and no ledger here moves more in a transfer,
// so a payment quoted past it could be funded but never sent.
const amountMax = math.MaxInt64

// Rafiki's quote errors.
func errUnknownWalletAddress() error { return apperr.E(apperr.NotFound, "unknown wallet address") }
func errInvalidAmount() error        { return apperr.E(apperr.InvalidInput, "invalid amount") }
func errInvalidReceiver() error      { return apperr.E(apperr.InvalidInput, "invalid receiver") }
func errInactive() error             { return apperr.E(apperr.Inactive, "inactive wallet address") }
func errNonPositiveReceive() error {
	return apperr.E(apperr.InvalidInput, "non-positive receive amount")
}

// ask is what a quote request needs converted once its inputs are checked.
type ask struct {
	// fixedSend converts amount, the debit amount less the sending fee,
	// from the sender's asset; otherwise amount is what the receiver gets,
	// converted back to the sender's.
	fixedSend bool
	amount    uint64
	from      rates.Asset
	to        rates.Asset
}

// checkCreate checks a quote request against the wallet address paying,
// its asset and the receiver (found or not), and says what to convert, as
// Rafiki's quote service checks it.
func checkCreate(wa walletaddress.State, a asset.State, r Receiver, found bool, c commands.CreateQuote) (ask, error) {
	if c.DebitAmount != nil && c.ReceiveAmount != nil {
		return ask{}, errInvalidAmount()
	}
	if !wa.Exists || !c.Actor.CanActFor(wa.TenantID) {
		return ask{}, errUnknownWalletAddress()
	}
	if !wa.Active() {
		return ask{}, errInactive()
	}
	if !a.Exists {
		return ask{}, errUnknownWalletAddress()
	}
	from := rates.Asset{Code: a.Code, Scale: a.Scale}
	if d := c.DebitAmount; d != nil && (d.Value == 0 || d.AssetCode != a.Code || d.AssetScale != a.Scale) {
		return ask{}, errInvalidAmount()
	}
	if c.ReceiveAmount != nil && c.ReceiveAmount.Value == 0 {
		return ask{}, errInvalidAmount()
	}
	if !found || !r.Active {
		return ask{}, errInvalidReceiver()
	}
	if !r.Local() && (r.ILPAddress == "" || len(r.SharedSecret) == 0) {
		return ask{}, errInvalidReceiver()
	}
	to := rates.Asset{Code: r.AssetCode, Scale: r.AssetScale}
	remaining, expects := r.remaining()
	switch {
	case c.DebitAmount != nil:
		fee := a.SendingFee.Calculate(c.DebitAmount.Value)
		return ask{fixedSend: true, amount: c.DebitAmount.Value - min(fee, c.DebitAmount.Value), from: from, to: to}, nil
	case c.ReceiveAmount != nil:
		if c.ReceiveAmount.AssetCode != r.AssetCode || c.ReceiveAmount.AssetScale != r.AssetScale {
			return ask{}, errInvalidAmount()
		}
		if expects && remaining < c.ReceiveAmount.Value {
			return ask{}, errInvalidAmount()
		}
		return ask{amount: c.ReceiveAmount.Value, from: from, to: to}, nil
	case expects && remaining > 0:
		return ask{amount: remaining, from: from, to: to}, nil
	}
	return ask{}, errInvalidAmount()
}

// priced is what a quote's amount came to, converted at the rates for a
// receiver of this instance or probed on the path to one elsewhere: for a
// fixed debit what the receiver gets, otherwise the debit it takes, fees
// not included; and the rate estimated.
type priced struct {
	amount uint64
	rate   float64
}

// decideCreate makes the quote from what was asked and what its amount
// came to: sending fees added to the debit, the receive amount within what
// the receiver still expects, the expiry a lifespan from now but not past
// the receiver's.
func decideCreate(wa walletaddress.State, a asset.State, r Receiver, c commands.CreateQuote, q ask, converted priced,
	now time.Time, lifespan time.Duration) ([]events.Event, error) {
	e := &events.QuoteCreated{WalletAddressID: wa.ID, AssetID: a.ID, AssetCode: a.Code, AssetScale: a.Scale, Receiver: r.URL,
		ReceiveAssetCode: r.AssetCode, ReceiveAssetScale: r.AssetScale, EstimatedExchangeRate: converted.rate,
		Method: events.QuoteILP, ExpiresAt: now.Add(lifespan), Client: c.Client, ClientKey: c.ClientKey}
	if r.Local() {
		e.Method = events.QuoteLocal
	}
	if r.ExpiresAt != nil && r.ExpiresAt.Before(e.ExpiresAt) {
		e.ExpiresAt = *r.ExpiresAt
	}
	if a.SendingFee != nil {
		e.FeeID = &a.SendingFee.ID
	}
	if q.fixedSend {
		e.ReceiveAmount = converted.amount
		if e.ReceiveAmount == 0 {
			return nil, errNonPositiveReceive()
		}
		if e.ReceiveAmount > amountMax || c.DebitAmount.Value > amountMax {
			return nil, errInvalidAmount()
		}
		if remaining, expects := r.remaining(); expects && e.ReceiveAmount > remaining {
			return nil, errInvalidAmount()
		}
		e.DebitAmountMinusFees = q.amount
		e.DebitAmount = c.DebitAmount.Value
		return []events.Event{e}, nil
	}
	e.ReceiveAmount = q.amount
	e.DebitAmountMinusFees = converted.amount
	fee := a.SendingFee.Calculate(converted.amount)
	if converted.amount == 0 || fee > ^uint64(0)-converted.amount {
		return nil, errInvalidAmount()
	}
	e.DebitAmount = converted.amount + fee
	if e.DebitAmount > amountMax || e.ReceiveAmount > amountMax {
		return nil, errInvalidAmount()
	}
	return []events.Event{e}, nil
}
