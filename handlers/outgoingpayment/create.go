package outgoingpayment

import (
	"context"
	"fmt"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/valid"
)

func validInitiator(v string) bool {
	return v == events.InitiatedByAdmin || v == events.InitiatedByOpenPayments || v == events.InitiatedByCard
}

// checkCreate checks a create command's input before anything is loaded.
func checkCreate(c commands.CreateOutgoingPayment) (commands.CreateOutgoingPayment, error) {
	id, ok := valid.ID(c.WalletAddressID)
	if !ok {
		return c, errUnknownWalletAddress()
	}
	c.WalletAddressID = id
	if c.QuoteID, ok = valid.ID(c.QuoteID); !ok {
		return c, errUnknownQuote()
	}
	if !validInitiator(c.InitiatedBy) {
		return c, apperr.E(apperr.InvalidInput, "initiatedBy must be ADMIN, OPEN_PAYMENTS or CARD")
	}
	if !valid.Text(c.Client, valid.TextLengthMax) {
		return c, apperr.E(apperr.InvalidInput, "client must be at most %d characters, without control characters", valid.TextLengthMax)
	}
	if g := c.Grant; g != nil {
		if g.ID, ok = valid.ID(g.ID); !ok {
			return c, apperr.E(apperr.InvalidInput, "invalid grant id")
		}
	}
	if d := c.CardDetails; d != nil {
		if !valid.Text(d.RequestID, valid.TextLengthMax) {
			return c, apperr.E(apperr.InvalidInput, "cardDetails.requestId must be at most %d characters, without control characters", valid.TextLengthMax)
		}
		data, err := incomingpayment.CheckMetadata(d.Data, true)
		if err != nil {
			return c, apperr.E(apperr.InvalidInput, "cardDetails.data must be a JSON object of at most 16 KiB")
		}
		c.CardDetails = &events.OutgoingPaymentCardDetails{RequestID: d.RequestID, Data: data, InitiatedAt: d.InitiatedAt}
	}
	var err error
	c.Metadata, err = incomingpayment.CheckMetadata(c.Metadata, false)
	return c, err
}

// decideCreate makes a payment of a quote from the wallet address it was
// made for, while the quote holds and its receiver can still be paid.
func decideCreate(wa walletaddress.State, a asset.State, q quote.State, receiverActive bool, c commands.CreateOutgoingPayment,
	now time.Time) (*events.OutgoingPaymentCreated, error) {
	if !wa.Exists || !c.Actor.CanActFor(wa.TenantID) {
		return nil, errUnknownWalletAddress()
	}
	if !q.Exists || q.TenantID != wa.TenantID {
		return nil, errUnknownQuote()
	}
	if q.WalletAddressID != wa.ID || !now.Before(q.ExpiresAt) {
		return nil, errInvalidQuote()
	}
	if !wa.Active() {
		return nil, errInactiveWalletAddress()
	}
	if !a.Exists || a.ID != q.AssetID {
		return nil, errInvalidQuote()
	}
	if !receiverActive {
		return nil, errInvalidReceiver()
	}
	return &events.OutgoingPaymentCreated{WalletAddressID: wa.ID, AssetID: q.AssetID, AssetCode: q.AssetCode, AssetScale: q.AssetScale,
		AssetLedger: a.Ledger, Receiver: q.Receiver, DebitAmount: q.DebitAmount, DebitAmountMinusFees: q.DebitAmountMinusFees,
		ReceiveAmount: q.ReceiveAmount, ReceiveAssetCode: q.ReceiveAssetCode, ReceiveAssetScale: q.ReceiveAssetScale,
		Method: q.Method, EstimatedExchangeRate: q.EstimatedExchangeRate, QuoteExpiresAt: q.ExpiresAt,
		Metadata: c.Metadata, Client: c.Client, InitiatedBy: c.InitiatedBy, CardDetails: c.CardDetails}, nil
}

// Create makes an outgoing payment of a quote; its id is the quote's. A
// payment under a grant with limits takes its amounts from the grant in the
// same atomic append as its creation, expecting the grant's spending as it
// was read: payments racing for one grant are decided one after another,
// and none overspends it.
func (h *Handler) Create(ctx context.Context, c commands.CreateOutgoingPayment) (string, handlers.Result, error) {
	c, err := checkCreate(c)
	if err != nil {
		return "", handlers.Result{}, err
	}
	tenantID, found, err := h.locator.Locate(ctx, walletaddress.AggregateType, c.WalletAddressID)
	if err != nil {
		return "", handlers.Result{}, err
	}
	if !found {
		return "", handlers.Result{}, errUnknownWalletAddress()
	}
	t, err := handlers.NewTarget(tenantID, AggregateType, c.QuoteID)
	if err != nil {
		return "", handlers.Result{}, err
	}
	wa, a, q, err := h.paymentInputs(ctx, tenantID, c)
	if err != nil {
		return "", handlers.Result{}, err
	}
	active := false
	if q.Exists {
		if active, err = h.receivers.Active(ctx, q.Receiver); err != nil {
			return "", handlers.Result{}, err
		}
	}
	if c.Grant != nil {
		lock := h.grantLock(c.Grant.ID)
		lock.Lock()
		defer lock.Unlock()
	}
	// One payment per quote: its id is the quote's.
	res, err := handlers.CreateNew(ctx, h.store, t.Subject, c.ID, Evolve, func(s State) bool { return s.Exists }, errInvalidQuote(),
		func(version uint64) (handlers.Result, error) {
			now := time.Now()
			created, err := decideCreate(wa, a, q, active, c, now)
			if err != nil {
				return handlers.Result{}, err
			}
			if g := c.Grant; g != nil {
				created.GrantID = g.ID
			}
			msgs, appended, err := handlers.Seal(t.Subject, version, handlers.Meta(t, info(c.Meta)), c.ID, 0, created)
			if err != nil {
				return handlers.Result{}, err
			}
			var grantMsgs []eventstore.Message
			if c.Grant != nil {
				if grantMsgs, err = h.spendGrant(ctx, tenantID, *c.Grant, *created, c, now); err != nil {
					return handlers.Result{}, err
				}
			}
			seqs, err := h.store.Append(ctx, append(grantMsgs, msgs...))
			if err != nil {
				return handlers.Result{}, err
			}
			res := handlers.Stored(appended, seqs[len(grantMsgs):])
			h.payments.Appended(t.Subject, version, res)
			return res, nil
		})
	if err != nil {
		return "", handlers.Result{}, err
	}
	// Its funding comes next, by its id alone.
	h.locator.Remember(AggregateType, c.QuoteID, tenantID)
	return c.QuoteID, res, nil
}

// spendGrant decides what a payment takes of its grant, as messages that
// expect the grant's spending as it was read.
func (h *Handler) spendGrant(ctx context.Context, tenantID string, g commands.OutgoingPaymentGrant, created events.OutgoingPaymentCreated,
	c commands.CreateOutgoingPayment, now time.Time) ([]eventstore.Message, error) {
	gt, err := handlers.NewTarget(tenantID, GrantAggregateType, g.ID)
	if err != nil {
		return nil, err
	}
	spending, version, err := handlers.Load(ctx, h.store, gt.Subject, EvolveGrant)
	if err != nil {
		return nil, err
	}
	spent, err := decideGrantSpend(spending, g, created, c.QuoteID, now)
	if err != nil || spent == nil {
		return nil, err
	}
	return handlers.Messages(gt.Subject, version, handlers.Meta(gt, info(c.Meta)), c.ID, 1, spent)
}

// paymentInputs reads the wallet address paying, its asset and the quote.
func (h *Handler) paymentInputs(ctx context.Context, tenantID string, c commands.CreateOutgoingPayment) (walletaddress.State, asset.State, quote.State, error) {
	var q quote.State
	wa, a, err := h.walletAddresses.Load(ctx, tenantID, c.WalletAddressID)
	if err != nil || !wa.Exists {
		return wa, a, q, err
	}
	q, err = h.quotes.LoadIn(ctx, tenantID, c.QuoteID)
	if err != nil {
		return walletaddress.State{}, asset.State{}, q, fmt.Errorf("load quote %s: %w", c.QuoteID, err)
	}
	return wa, a, q, nil
}
