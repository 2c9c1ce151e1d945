package outgoingpayment

import (
	"context"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/valid"
)

// reasonLengthMax bounds a cancellation's reason.
const reasonLengthMax = 255

// decideCancel cancels a payment not funded yet, as Rafiki's
// cancelOutgoingPayment does.
func decideCancel(s State, c commands.CancelOutgoingPayment) ([]events.Event, error) {
	if !s.Exists || !c.Actor.CanActFor(s.TenantID) {
		return nil, errUnknownPayment()
	}
	if s.State != Funding {
		return nil, errWrongState()
	}
	return []events.Event{&events.OutgoingPaymentCancelled{Reason: c.Reason, CardPaymentFailureReason: c.CardPaymentFailureReason}}, nil
}

// Cancel gives up a payment not funded yet; its grant gets back what it
// took, in the same atomic append.
func (h *Handler) Cancel(ctx context.Context, c commands.CancelOutgoingPayment) (handlers.Result, error) {
	id, ok := valid.ID(c.OutgoingPaymentID)
	if !ok {
		return handlers.Result{}, errUnknownPayment()
	}
	if r := c.CardPaymentFailureReason; r != nil && *r != "invalid_signature" && *r != "invalid_request" {
		return handlers.Result{}, apperr.E(apperr.InvalidInput, "cardPaymentFailureReason must be invalid_signature or invalid_request")
	}
	if c.Reason != nil && !valid.Text(*c.Reason, reasonLengthMax) {
		return handlers.Result{}, apperr.E(apperr.InvalidInput, "reason must be at most %d characters, without control characters", reasonLengthMax)
	}
	t, err := h.locate(ctx, c.Actor, id)
	if err != nil {
		return handlers.Result{}, err
	}
	return handlers.Retry(ctx, func() (handlers.Result, error) {
		s, version, done, err := handlers.LoadFor(ctx, h.store, t.Subject, c.ID, Evolve)
		if err != nil || done != nil {
			return handlers.Done(done), err
		}
		evs, err := decideCancel(s, c)
		if err != nil {
			return handlers.Result{Sequence: version}, err
		}
		msgs, appended, err := handlers.Seal(t.Subject, version, handlers.Meta(t, info(c.Meta)), c.ID, 0, evs...)
		if err != nil {
			return handlers.Result{}, err
		}
		if s.GrantID != "" {
			release, err := h.release(ctx, s, evs[0], c.ID)
			if err != nil {
				return handlers.Result{}, err
			}
			msgs = append(msgs, release...)
		}
		seqs, err := h.store.Append(ctx, msgs)
		if err != nil {
			return handlers.Result{}, err
		}
		// A funding this process runs next knows the payment cancelled
		// without reading it.
		h.payments.Appended(t.Subject, version, handlers.Stored(appended, seqs[:len(appended)]))
		return handlers.Result{Sequence: seqs[0]}, nil
	})
}
