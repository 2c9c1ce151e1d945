package quote

import (
	"context"
	"sync"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
)

// knownMax bounds the quotes a handler keeps; when it is full it starts
// over, which costs a read for each quote asked for afterwards.
const knownMax = 65_536

// known keeps the quotes a handler made or read, by subject: a quote never
// changes after its one event, so the payment that pays it, usually made
// right after in the same process, reads nothing to find it.
type known struct {
	mu     sync.Mutex
	quotes map[string]State
}

func (k *known) get(subject string) (State, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.quotes[subject]
	return s, ok
}

func (k *known) put(subject string, s State) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.quotes == nil || len(k.quotes) >= knownMax {
		k.quotes = map[string]State{}
	}
	k.quotes[subject] = s
}

// LoadIn reads a quote of tenantID; one that does not exist is the zero
// State.
func (h *Handler) LoadIn(ctx context.Context, tenantID, id string) (State, error) {
	subject, err := handlers.Subject(tenantID, AggregateType, id)
	if err != nil {
		return State{}, err
	}
	return h.load(ctx, subject)
}

// load reads the quote of subject, from memory once it was read or made.
func (h *Handler) load(ctx context.Context, subject string) (State, error) {
	if s, ok := h.known.get(subject); ok {
		return s, nil
	}
	s, _, err := handlers.Load(ctx, h.store, subject, Evolve)
	if err != nil || !s.Exists {
		return s, err
	}
	h.known.put(subject, s)
	return s, nil
}

// remember keeps the quote a create just appended.
func (h *Handler) remember(subject string, res handlers.Result) {
	for _, a := range res.Appended {
		if _, ok := a.Event.(*events.QuoteCreated); ok {
			h.known.put(subject, Evolve(State{}, a.Envelope, a.Event))
		}
	}
}
