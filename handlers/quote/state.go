// Package quote handles quotes: what paying an incoming payment from a
// wallet address costs and delivers, fixed until the quote expires, which
// an outgoing payment then pays.
package quote

import (
	"time"

	"github.com/rafiki-go/rafiki/events"
)

// AggregateType names quotes in subjects and envelopes.
const AggregateType = "quote"

// State is a quote as its event leaves it.
type State struct {
	Exists bool
	ID     string
	events.QuoteCreated
	TenantID  string
	CreatedAt time.Time
}

// Evolve applies one event to the state.
func Evolve(s State, env events.Envelope, ev events.Event) State {
	if e, ok := ev.(*events.QuoteCreated); ok {
		s = State{Exists: true, ID: env.AggregateID, QuoteCreated: *e, TenantID: env.TenantID, CreatedAt: env.Time}
	}
	return s
}
