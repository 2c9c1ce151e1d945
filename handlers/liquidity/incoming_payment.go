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
	id, err := ownerID(incomingPaymentID, "incoming payment")
	if err != nil {
		return Owner{}, "", err
	}
	incomingPaymentID = id.String()
	tenantID, found, err := handlers.Locate(ctx, h.store, incomingpayment.AggregateType, incomingPaymentID)
	if err != nil {
		return Owner{}, "", err
	}
	if !found {
		return Owner{}, "", errUnknownIncomingPayment()
	}
	target, err := handlers.NewTarget(tenantID, incomingpayment.AggregateType, incomingPaymentID)
	if err != nil {
		return Owner{}, "", err
	}
	p, _, err := handlers.Load(ctx, h.store, target.Subject, evolveEnded)
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
	account := ledger.Account{ID: id, Type: ledger.Incoming, AssetID: assetOwner.Account.ID, Ledger: assetOwner.Account.Ledger}
	if err := h.ledger.CreateLiquidityAccount(ctx, account); err != nil {
		return Owner{}, "", fmt.Errorf("incoming payment %s account: %w", incomingPaymentID, err)
	}
	return Owner{Target: target, Account: account}, transferID.String(), nil
}
