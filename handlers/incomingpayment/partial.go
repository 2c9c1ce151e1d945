package incomingpayment

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
)

// partialsMax bounds the partial payments one incoming payment holds
// waiting for a decision: each is a packet in flight, so a sender can only
// have this many before they expire.
const partialsMax = 1000

// Partial is a partial payment waiting for the entity's decision, until
// its packet expires.
type Partial struct {
	ID        string
	ExpiresAt time.Time
}

// waiting is partials less those expired at at, in a new slice: states
// are copied by value and must not share what Evolve changes.
func waiting(partials []Partial, at time.Time, drop string) []Partial {
	out := make([]Partial, 0, len(partials)+1)
	for _, p := range partials {
		if p.ExpiresAt.After(at) && p.ID != drop {
			out = append(out, p)
		}
	}
	return out
}

func (s State) partial(id string) (Partial, bool) {
	i := slices.IndexFunc(s.Partials, func(p Partial) bool { return p.ID == id })
	if i < 0 {
		return Partial{}, false
	}
	return s.Partials[i], true
}

func errInvalidState() error { return apperr.E(apperr.InvalidInput, "invalid state") }

// decideReceivePartial records a packet with data from its sender into an
// open payment, for the entity to decide while the packet lives.
func decideReceivePartial(s State, c commands.ReceivePartialIncomingPayment, now time.Time) ([]events.Event, error) {
	switch {
	case !s.Live():
		return nil, errUnknownPayment()
	case !s.Open():
		return nil, errInvalidState()
	case c.Amount == 0 || len(c.DataFromSender) == 0 || c.PartialIncomingPaymentID == "":
		return nil, apperr.E(apperr.InvalidInput, "a partial payment brings money and data")
	case !c.ExpiresAt.After(now):
		return nil, apperr.E(apperr.InvalidInput, "the packet expired")
	}
	if _, found := s.partial(c.PartialIncomingPaymentID); found {
		return nil, nil
	}
	if len(waiting(s.Partials, now, "")) >= partialsMax {
		return nil, apperr.E(apperr.Conflict, "too many partial payments wait for a decision")
	}
	return []events.Event{&events.IncomingPaymentPartialReceived{PartialIncomingPaymentID: c.PartialIncomingPaymentID,
		DataFromSender: strings.ToValidUTF8(string(c.DataFromSender), "\uFFFD"), Amount: c.Amount, ExpiresAt: c.ExpiresAt}}, nil
}

// decidePartial records the entity's answer to a partial payment whose
// packet still waits for it. Rafiki answers success to any id; here an id
// that names no waiting packet is an error, so that an entity learns its
// answer came too late or to the wrong payment.
func decidePartial(s State, c commands.DecidePartialIncomingPayment, now time.Time) ([]events.Event, error) {
	if err := visible(s, c.Actor); err != nil {
		return nil, err
	}
	if s.State == StateCompleted || s.State == StateExpired {
		return nil, errInvalidState()
	}
	p, found := s.partial(c.PartialIncomingPaymentID)
	if !found {
		return nil, apperr.E(apperr.NotFound, "unknown partial incoming payment")
	}
	if !p.ExpiresAt.After(now) {
		return nil, apperr.E(apperr.Conflict, "the partial payment's packet expired before the decision")
	}
	e := &events.IncomingPaymentPartialDecided{PartialIncomingPaymentID: p.ID, Accepted: c.Accept}
	if !c.Accept && c.Reason != nil && *c.Reason != "" {
		e.Reason = c.Reason
	}
	return []events.Event{e}, nil
}

// ReceivePartial records a partial payment of a packet the connector holds
// (tenantID's payment, known open), returning the sequence of its event.
func (h *Handler) ReceivePartial(ctx context.Context, tenantID string, c commands.ReceivePartialIncomingPayment) (handlers.Result, error) {
	id, err := paymentID(c.IncomingPaymentID)
	if err != nil {
		return handlers.Result{}, err
	}
	t, err := handlers.NewTarget(tenantID, AggregateType, id)
	if err != nil {
		return handlers.Result{}, apperr.E(apperr.InvalidInput, "invalid tenant id")
	}
	return handlers.Execute(ctx, h.store, t, info(c.Meta), Evolve, func(s State) ([]events.Event, error) {
		evs, err := decideReceivePartial(s, c, time.Now())
		if err != nil {
			return nil, err
		}
		return evs, checkTransitions(s, evs)
	})
}

// DecidePartial records the entity's answer to a partial payment.
func (h *Handler) DecidePartial(ctx context.Context, c commands.DecidePartialIncomingPayment) (handlers.Result, error) {
	return h.execute(ctx, c.Meta, c.IncomingPaymentID, func(s State) ([]events.Event, error) {
		return decidePartial(s, c, time.Now())
	})
}
