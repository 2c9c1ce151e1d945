package liquidity

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
)

// finishedPayment is an outgoing payment and the event that completed or
// failed it.
type finishedPayment struct {
	outgoingpayment.State
	endedBy uuid.UUID // uuid.Nil while the payment is under way
}

func evolveFinished(p finishedPayment, env events.Envelope, ev events.Event) finishedPayment {
	p.State = outgoingpayment.Evolve(p.State, env, ev)
	switch ev.(type) {
	case *events.OutgoingPaymentCompleted, *events.OutgoingPaymentFailed:
		p.endedBy = env.ID
	}
	return p
}

func errUnknownOutgoingPayment() error { return apperr.E(apperr.NotFound, "Unknown outgoing payment") }

// decideOutgoingPaymentWithdrawal names the transfer that withdraws what an
// outgoing payment holds once it completed or failed (its fees, what it
// did not send): the id of the event that ended it, as Rafiki's is the id
// of its completed or failed webhook event, so it is withdrawn once.
func decideOutgoingPaymentWithdrawal(p finishedPayment, actor commands.Actor) (uuid.UUID, error) {
	if !p.Exists || !actor.CanActFor(p.TenantID) || p.endedBy == uuid.Nil {
		return uuid.Nil, errUnknownOutgoingPayment()
	}
	return p.endedBy, nil
}

// OutgoingPaymentOwner finds a visible outgoing payment whose money may be
// withdrawn and returns the id of the transfer that withdraws it
// (decideOutgoingPaymentWithdrawal).
func (h *Handler) OutgoingPaymentOwner(ctx context.Context, actor commands.Actor, outgoingPaymentID string) (Owner, string, error) {
	target, p, err := loadOwner(ctx, h, outgoingpayment.AggregateType, outgoingPaymentID, "outgoing payment", errUnknownOutgoingPayment(), evolveFinished)
	if err != nil {
		return Owner{}, "", err
	}
	transferID, err := decideOutgoingPaymentWithdrawal(p, actor)
	if err != nil {
		return Owner{}, "", err
	}
	account, err := outgoingpayment.Account(p.State)
	if err != nil {
		return Owner{}, "", fmt.Errorf("outgoing payment %s account: %w", target.AggregateID, err)
	}
	return Owner{Target: target, Account: account}, transferID.String(), nil
}
