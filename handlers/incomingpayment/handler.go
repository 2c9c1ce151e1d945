package incomingpayment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/ledger"
)

// Totals reads what the ledger received for an incoming payment, whose
// account has its id: the ledger, not the events, holds the money, and
// every payment's record of it catches up with the ledger.
type Totals interface {
	TotalReceived(ctx context.Context, id uuid.UUID) (uint64, error)
}

// Handler runs incoming payment commands against the event store.
type Handler struct {
	store     handlers.Store
	locator   *handlers.Locator
	totals    Totals
	expiryMax time.Duration
	// The wallet address and asset a payment is made in, read as wallet
	// address creation reads its tenant and asset.
	walletAddresses *walletaddress.WithAsset
	// Payments as money reaching them leaves them (RecordReceived).
	payments *handlers.StateCache[State]
}

// NewHandler builds a handler; totals is the ledger, expiryMax
// INCOMING_PAYMENT_EXPIRY_MAX_MS.
func NewHandler(store handlers.Store, totals Totals, expiryMax time.Duration) *Handler {
	if store == nil || totals == nil || expiryMax <= 0 {
		panic("incomingpayment: NewHandler needs a store, the ledger and a maximum expiry")
	}
	return &Handler{store: store, locator: handlers.NewLocator(store), totals: totals, expiryMax: expiryMax,
		walletAddresses: walletaddress.NewWithAsset(store),
		payments:        handlers.NewStateCache(Evolve)}
}

// Subject is where an incoming payment's events live.
func Subject(tenantID, id string) (string, error) {
	return handlers.Subject(tenantID, AggregateType, id)
}

func info(m commands.Meta) handlers.CommandInfo {
	return handlers.Info(m)
}

// PaymentID is the id of the payment a create command makes, so that a
// retried command finds the payment it made the first time.
func PaymentID(commandID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("rafiki:incoming_payment:"+commandID)).String()
}

// Create makes an incoming payment and returns its id. Its expiry is
// scheduled before it is stored, so that a payment stored always expires
// in the end; the expiry finds nothing to do for one never stored.
func (h *Handler) Create(ctx context.Context, c commands.CreateIncomingPayment) (string, handlers.Result, error) {
	c, err := checkCreate(c)
	if err != nil {
		return "", handlers.Result{}, err
	}
	tenantID, found, err := h.locator.Locate(ctx, walletaddress.AggregateType, c.WalletAddressID)
	if err != nil {
		return "", handlers.Result{}, err
	}
	if !found {
		// Decided on no wallet address: the expiry and amount checks,
		// then unknown wallet address.
		_, err := decideCreate(walletaddress.State{}, asset.State{}, c, time.Now(), h.expiryMax)
		return "", handlers.Result{}, err
	}
	id := PaymentID(c.ID)
	t, err := handlers.NewTarget(tenantID, AggregateType, id)
	if err != nil {
		return "", handlers.Result{}, err
	}
	res, err := handlers.CreateNew(ctx, h.store, t.Subject, c.ID, Evolve, func(s State) bool { return s.Exists },
		fmt.Errorf("incoming payment %s exists but command %s did not make it", id, c.ID), func(version uint64) (handlers.Result, error) {
			wa, a, err := h.walletAddresses.Load(ctx, tenantID, c.WalletAddressID)
			if err != nil {
				return handlers.Result{}, err
			}
			evs, err := decideCreate(wa, a, c, time.Now(), h.expiryMax)
			if err != nil {
				return handlers.Result{}, err
			}
			if err := checkTransitions(State{}, evs); err != nil {
				return handlers.Result{}, err
			}
			res, err := handlers.AppendEvents(ctx, h.store, t.Subject, version, handlers.Meta(t, info(c.Meta)), c.ID, evs...)
			if err == nil {
				h.payments.Appended(t.Subject, version, res)
			}
			return res, err
		})
	if err != nil {
		return "", handlers.Result{}, err
	}
	// A quote for it comes next, from its URL.
	h.locator.Remember(AggregateType, id, tenantID)
	return id, res, nil
}

// Update replaces an incoming payment's metadata.
func (h *Handler) Update(ctx context.Context, c commands.UpdateIncomingPayment) (handlers.Result, error) {
	c, err := checkUpdate(c)
	if err != nil {
		return handlers.Result{}, err
	}
	return h.execute(ctx, c.Meta, c.IncomingPaymentID, func(s State) ([]events.Event, error) { return decideUpdate(s, c) })
}

// Approve approves a pending incoming payment.
func (h *Handler) Approve(ctx context.Context, c commands.ApproveIncomingPayment) (handlers.Result, error) {
	var err error
	if c.IncomingPaymentID, err = paymentID(c.IncomingPaymentID); err != nil {
		return handlers.Result{}, err
	}
	return h.execute(ctx, c.Meta, c.IncomingPaymentID, func(s State) ([]events.Event, error) { return decideApprove(s, c) })
}

// Cancel cancels a pending incoming payment.
func (h *Handler) Cancel(ctx context.Context, c commands.CancelIncomingPayment) (handlers.Result, error) {
	c, err := checkCancel(c)
	if err != nil {
		return handlers.Result{}, err
	}
	return h.execute(ctx, c.Meta, c.IncomingPaymentID, func(s State) ([]events.Event, error) { return decideCancel(s, c) })
}

// Complete completes an incoming payment.
func (h *Handler) Complete(ctx context.Context, c commands.CompleteIncomingPayment) (handlers.Result, error) {
	var err error
	if c.IncomingPaymentID, err = paymentID(c.IncomingPaymentID); err != nil {
		return handlers.Result{}, err
	}
	total, err := h.received(ctx, c.IncomingPaymentID)
	if err != nil {
		return handlers.Result{}, err
	}
	return h.execute(ctx, c.Meta, c.IncomingPaymentID, func(s State) ([]events.Event, error) { return decideComplete(s, c, total) })
}

// Receive runs a ReceiveIncomingPayment from the command queue: the
// payment records what the ledger holds for it. A payment unknown or
// deleted has nothing to record: the command is unprocessable, and kept
// aside with the money it tells of, which stays in the ledger.
func (h *Handler) Receive(ctx context.Context, data []byte) (retryAfter time.Duration, err error) {
	var c commands.ReceiveIncomingPayment
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, fmt.Errorf("%w: receive incoming payment %q: %w", commands.ErrUnprocessable, data, err)
	}
	_, err = h.RecordReceived(ctx, c.TenantID, c.IncomingPaymentID)
	if kind := apperr.KindOf(err); kind == apperr.NotFound || kind == apperr.InvalidInput {
		return 0, fmt.Errorf("%w: receive incoming payment %q: %w", commands.ErrUnprocessable, data, err)
	}
	return 0, err
}

// RecordReceived brings what an incoming payment of the tenant received up
// to what the ledger holds for it, completing it when that reaches its
// amount. Money arrives in many small steps, each recorded by one of these:
// the payment's state is kept folded (a payment paid by many packets has
// many events), and a record that finds the total recorded already, having
// run before or lost a race to a later total, records nothing.
func (h *Handler) RecordReceived(ctx context.Context, tenantID, id string) (handlers.Result, error) {
	id, err := paymentID(id)
	if err != nil {
		return handlers.Result{}, err
	}
	t, err := handlers.NewTarget(tenantID, AggregateType, id)
	if err != nil {
		return handlers.Result{}, apperr.E(apperr.InvalidInput, "invalid tenant id")
	}
	total, err := h.received(ctx, id)
	if err != nil {
		return handlers.Result{}, err
	}
	command := handlers.CommandInfo{ID: fmt.Sprintf("receive_incoming_payment:%s:%d", id, total)}
	command.CorrelationID = command.ID
	// The first try decides on the state this process last knew, unread:
	// when that records something, a payment that moved on since fails the
	// append, and the tries after read it; when it records nothing, it is
	// read and decided again.
	s, version, known := h.payments.CachedAt(t.Subject)
	return handlers.Retry(ctx, func() (handlers.Result, error) {
		var evs []events.Event
		var err error
		if known {
			evs, err = decideReceive(s, total)
		}
		if !known || err != nil || len(evs) == 0 {
			if s, version, err = h.payments.Load(ctx, h.store, t.Subject); err != nil {
				return handlers.Result{}, err
			}
			evs, err = decideReceive(s, total)
		}
		known = false
		if err != nil || len(evs) == 0 {
			return handlers.Result{Sequence: version}, err
		}
		if err := checkTransitions(s, evs); err != nil {
			return handlers.Result{}, err
		}
		res, err := handlers.AppendEvents(ctx, h.store, t.Subject, version, handlers.Meta(t, command), command.ID, evs...)
		if err == nil {
			h.payments.Appended(t.Subject, version, res)
		}
		return res, err
	})
}

// received is what the ledger holds for a payment: nothing when its
// account was never opened (no packet reached it).
func (h *Handler) received(ctx context.Context, id string) (uint64, error) {
	account, err := uuid.Parse(id)
	if err != nil {
		return 0, fmt.Errorf("incoming payment id %q: %w", id, err)
	}
	total, err := h.totals.TotalReceived(ctx, account)
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("received by incoming payment %s: %w", id, err)
	}
	return total, nil
}

// Load reads an incoming payment; found is false when it has no events. A
// payment this handler folded or appended to before costs one request for
// its last sequence, and the events stored since: receivers read payments
// this process made moments before (a quote of one, a payment to it).
// The state is shared with the cache: callers read it and change nothing
// it points to.
func (h *Handler) Load(ctx context.Context, id string) (s State, found bool, err error) {
	if id, err = paymentID(id); err != nil {
		return State{}, false, nil
	}
	t, found, err := h.locate(ctx, id)
	if err != nil || !found {
		return State{}, false, err
	}
	s, _, err = h.payments.Load(ctx, h.store, t.Subject)
	return s, err == nil, err
}

// execute runs a command on an existing payment, asserting the decided
// events' transitions before they are appended.
func (h *Handler) execute(ctx context.Context, m commands.Meta, id string, decide func(State) ([]events.Event, error)) (handlers.Result, error) {
	t, found, err := h.locate(ctx, id)
	if err != nil {
		return handlers.Result{}, err
	}
	if !found {
		return handlers.Result{}, errUnknownPayment()
	}
	return handlers.Execute(ctx, h.store, t, info(m), Evolve, func(s State) ([]events.Event, error) {
		evs, err := decide(s)
		if err != nil {
			return nil, err
		}
		return evs, checkTransitions(s, evs)
	})
}

func (h *Handler) locate(ctx context.Context, id string) (handlers.Target, bool, error) {
	tenantID, found, err := h.locator.Locate(ctx, AggregateType, id)
	if err != nil || !found {
		return handlers.Target{}, false, err
	}
	t, err := handlers.NewTarget(tenantID, AggregateType, id)
	return t, err == nil, err
}

// expiryCommandID is the id of the command that expires a payment, whoever
// runs it: an expiry run twice is recognised by its events.
func expiryCommandID(paymentID string) string { return "expire_incoming_payment:" + paymentID }

// Expire runs an ExpireIncomingPayment from the command queue, where
// installations before the expiry worker (ExpireDue) scheduled each
// payment's expiry.
func (h *Handler) Expire(ctx context.Context, data []byte) (retryAfter time.Duration, err error) {
	var c commands.ExpireIncomingPayment
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, fmt.Errorf("%w: expire incoming payment %q: %w", commands.ErrUnprocessable, data, err)
	}
	id, err := paymentID(c.IncomingPaymentID)
	if err != nil {
		return 0, fmt.Errorf("%w: expire incoming payment %q: %w", commands.ErrUnprocessable, data, err)
	}
	return h.ExpireDue(ctx, id, c.CorrelationID)
}

// ExpireDue records the expiry of an open payment once it is due, and does
// nothing for a payment never stored, deleted, completed or expired.
// retryAfter tells how long until a payment not due yet is.
func (h *Handler) ExpireDue(ctx context.Context, id, correlationID string) (retryAfter time.Duration, err error) {
	t, found, err := h.locate(ctx, id)
	if err != nil || !found {
		return 0, err
	}
	s, _, err := handlers.Load(ctx, h.store, t.Subject, Evolve)
	if err != nil {
		return 0, err
	}
	if !s.Open() {
		return 0, nil
	}
	if wait := time.Until(s.ExpiresAt); wait >= 0 {
		return wait + time.Millisecond, nil
	}
	total, err := h.received(ctx, id)
	if err != nil {
		return 0, err
	}
	// The command's id is the expiry's whatever the message says, so that
	// its events' ids are the payment's own.
	_, err = handlers.Execute(ctx, h.store, t, handlers.CommandInfo{ID: expiryCommandID(id), CorrelationID: correlationID}, Evolve, func(s State) ([]events.Event, error) {
		evs, err := decideExpire(s, total, time.Now())
		if err != nil {
			return nil, err
		}
		return evs, checkTransitions(s, evs)
	})
	if apperr.KindOf(err) == apperr.NotFound {
		return 0, nil
	}
	return 0, err
}

// TrustWalletAddresses lets the handler use a wallet address and its asset
// read less than ttl ago while changes shows no change of them
// (walletaddress.WithAsset.Trust).
func (h *Handler) TrustWalletAddresses(changes func() (walletaddress.Progress, bool), ttl time.Duration) {
	h.walletAddresses.Trust(changes, ttl)
}
