// Package readcount counts an event store's reads, for tests that a
// command reads no more than it must. It is a package of its own, apart
// from testkit, since it needs the handlers' store, which the event store's
// own tests (using testkit) must not.
package readcount

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
)

// Store is an event store that counts its reads, by kind.
type Store struct {
	handlers.Store
	// Loads and LoadsAfter read a subject's events; Lasts a subject's last
	// message, of which Searches are those for a subject with wildcards
	// (an aggregate under any tenant); LastsOfMany several subjects'
	// last sequences at once.
	Loads, LoadsAfter, Lasts, Searches, LastsOfMany atomic.Int64
}

// All is every read counted.
func (s *Store) All() int64 {
	return s.Loads.Load() + s.LoadsAfter.Load() + s.Lasts.Load() + s.LastsOfMany.Load()
}

func (s *Store) Load(ctx context.Context, subject string) ([]events.Envelope, uint64, error) {
	s.Loads.Add(1)
	return s.Store.Load(ctx, subject)
}

func (s *Store) LoadAfter(ctx context.Context, subject string, from uint64) ([]events.Envelope, uint64, error) {
	s.LoadsAfter.Add(1)
	return s.Store.LoadAfter(ctx, subject, from)
}

func (s *Store) Last(ctx context.Context, subject string) ([]byte, uint64, bool, error) {
	s.Lasts.Add(1)
	if strings.ContainsAny(subject, "*>") {
		s.Searches.Add(1)
	}
	return s.Store.Last(ctx, subject)
}

func (s *Store) LastSequences(ctx context.Context, subjects []string) (map[string]uint64, error) {
	s.LastsOfMany.Add(1)
	return s.Store.LastSequences(ctx, subjects)
}
