package liquidity

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/ledger"
)

// endedPayment is an incoming payment and the event that completed or
// expired it.
type endedPayment struct {
	incomingpayment.State
	endedBy uuid.UUID // uuid.Nil while the payment is open
}

func evolveEnded(p endedPayment, env events.Envelope, ev events.Event) endedPayment {
	p.State = incomingpayment.Evolve(p.State, env, ev)
	switch ev.(type) {
	case *events.IncomingPaymentCompleted, *events.IncomingPaymentExpired:
		p.endedBy = env.ID
	}
	return p
}

func errUnknownIncomingPayment() error { return apperr.E(apperr.NotFound, "Unknown incoming payment") }

// decideIncomingPaymentWithdrawal names the transfer that withdraws an
// incoming payment's money. Only a payment that completed or expired gives
// up its money, once: the transfer's id is the id of the event that ended
// the payment, as Rafiki's is the id of its completed or expired webhook
// event. One expired without money was deleted, and is unknown.
func decideIncomingPaymentWithdrawal(p endedPayment, actor commands.Actor) (uuid.UUID, error) {
	if !p.Live() || !actor.CanActFor(p.TenantID) || p.endedBy == uuid.Nil {
		return uuid.Nil, errUnknownIncomingPayment()
	}
	return p.endedBy, nil
}

// IncomingPaymentOwner finds a visible incoming payment whose money may be
// withdrawn, makes sure its account exists, and returns the id of the
// transfer that withdraws it (decideIncomingPaymentWithdrawal).
func (h *Handler) IncomingPaymentOwner(ctx context.Context, actor commands.Actor, incomingPaymentID string) (Owner, string, error) {
	target, p, err := loadOwner(ctx, h, incomingpayment.AggregateType, incomingPaymentID, "incoming payment", errUnknownIncomingPayment(), evolveEnded)
	if err != nil {
		return Owner{}, "", err
	}
	transferID, err := decideIncomingPaymentWithdrawal(p, actor)
	if err != nil {
		return Owner{}, "", err
	}
	assetOwner, err := h.AssetOwner(ctx, commands.Actor{Operator: true}, p.AssetID)
	if err != nil {
		return Owner{}, "", err
	}
	account := ledger.Account{ID: uuid.MustParse(target.AggregateID), Type: ledger.Incoming, AssetID: assetOwner.Account.ID,
		Ledger: assetOwner.Account.Ledger}
	if err := h.ledger.CreateLiquidityAccount(ctx, account); err != nil {
		return Owner{}, "", fmt.Errorf("incoming payment %s account: %w", target.AggregateID, err)
	}
	return Owner{Target: target, Account: account}, transferID.String(), nil
}

// loadOwner finds a payment known by id alone, of aggregateType (kind in
// errors), and folds its events; unknown is the error for none.
func loadOwner[S any](ctx context.Context, h *Handler, aggregateType, rawID, kind string, unknown error,
	evolve func(S, events.Envelope, events.Event) S) (handlers.Target, S, error) {
	var s S
	id, err := ownerID(rawID, kind)
	if err != nil {
		return handlers.Target{}, s, err
	}
	tenantID, found, err := h.locator.Locate(ctx, aggregateType, id.String())
	if err != nil {
		return handlers.Target{}, s, err
	}
	if !found {
		return handlers.Target{}, s, unknown
	}
	target, err := handlers.NewTarget(tenantID, aggregateType, id.String())
	if err != nil {
		return handlers.Target{}, s, err
	}
	s, _, err = handlers.Load(ctx, h.store, target.Subject, evolve)
	return target, s, err
}
