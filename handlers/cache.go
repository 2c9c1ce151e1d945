package handlers

import (
	"context"
	"sync"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/events"
)

// stateCacheEntriesMax bounds a StateCache; when it is full it starts over,
// which costs one full load per aggregate read afterwards.
const stateCacheEntriesMax = 10_000

// StateCache keeps the folded state of aggregates that many commands read
// but do not change (the tenant and the asset a wallet address is created
// on), with the version each was folded to. A read then costs one request
// for the subject's last sequence, and events stored since are folded on
// top, so the state is as fresh as a full load.
//
// States are shared between readers: evolve must not change anything a
// state it receives points to (maps are copied on write).
type StateCache[S any] struct {
	evolve  func(S, events.Envelope, events.Event) S
	mu      sync.Mutex
	entries map[string]cachedState[S]
}

type cachedState[S any] struct {
	state   S
	version uint64
}

// NewStateCache makes an empty cache for states folded with evolve.
func NewStateCache[S any](evolve func(S, events.Envelope, events.Event) S) *StateCache[S] {
	if evolve == nil {
		panic("handlers: NewStateCache needs an evolve function")
	}
	return &StateCache[S]{evolve: evolve, entries: map[string]cachedState[S]{}}
}

// Load returns the state of subject and its version, like Load.
func (c *StateCache[S]) Load(ctx context.Context, store Store, subject string) (S, uint64, error) {
	_, last, _, err := store.Last(ctx, subject)
	if err != nil {
		var zero S
		return zero, 0, err
	}
	return c.LoadAt(ctx, store, subject, last)
}

// Cached is the state of subject as the cache last folded it, without
// reading the store: what a caller may know of it that never changes.
func (c *StateCache[S]) Cached(subject string) (S, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cached, ok := c.entries[subject]
	return cached.state, ok
}

// CachedAt is the state of subject as the cache last folded it, with its
// version, without reading the store. It may be behind the store: a
// command that appends expecting that version learns so from a conflict.
func (c *StateCache[S]) CachedAt(subject string) (S, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cached, ok := c.entries[subject]
	return cached.state, cached.version, ok
}

// Appended folds what a command appended to subject, expecting it at from,
// into the cached state when that is the state at from (a new aggregate's
// when from is 0), so that the next command reads nothing.
func (c *StateCache[S]) Appended(subject string, from uint64, res Result) {
	if len(res.Appended) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cached, ok := c.entries[subject]
	if (ok && cached.version != from) || (!ok && from != 0) {
		return
	}
	state := cached.state
	for _, a := range res.Appended {
		state = c.evolve(state, a.Envelope, a.Event)
	}
	c.keep(subject, cachedState[S]{state: state, version: res.Sequence})
}

// keep stores an entry, starting the cache over when it is full. The lock
// is held.
func (c *StateCache[S]) keep(subject string, s cachedState[S]) {
	if len(c.entries) >= stateCacheEntriesMax {
		clear(c.entries)
	}
	c.entries[subject] = s
}

// LoadAt is Load when the subject's last sequence is known already (0: the
// subject is empty), read with others' in one request (LastSequences).
func (c *StateCache[S]) LoadAt(ctx context.Context, store Store, subject string, last uint64) (S, uint64, error) {
	var zero S
	if last == 0 {
		return zero, 0, nil
	}
	c.mu.Lock()
	cached, ok := c.entries[subject]
	c.mu.Unlock()
	if ok && cached.version == last {
		return cached.state, last, nil
	}
	if !ok || cached.version > last {
		cached = cachedState[S]{}
	}
	envs, version, err := LoadThrough(ctx, store, subject, cached.version, last)
	if err != nil {
		return zero, 0, err
	}
	state, err := fold(cached.state, envs, c.evolve)
	if err != nil {
		return zero, 0, err
	}
	c.mu.Lock()
	if newer, ok := c.entries[subject]; !ok || newer.version < version {
		c.keep(subject, cachedState[S]{state: state, version: version})
	}
	c.mu.Unlock()
	return state, version, nil
}

// lagReadsMax bounds how often LoadThrough reads again for events a replica
// does not hold yet, lagPause how long it waits between reads.
const (
	lagReadsMax = 20
	lagPause    = 5 * time.Millisecond
)

// LoadThrough reads the events of subject after from, up to at least last,
// the sequence its leader reported. The reads may be answered by a replica
// that lags behind the leader; what it lacks is read again, so that a state
// is never folded short of a change the leader has acknowledged.
func LoadThrough(ctx context.Context, store Store, subject string, from, last uint64) ([]events.Envelope, uint64, error) {
	var out []events.Envelope
	version := from
	for range lagReadsMax {
		envs, v, err := store.LoadAfter(ctx, subject, version)
		if err != nil {
			return nil, 0, err
		}
		out, version = append(out, envs...), v
		if version >= last {
			return out, version, nil
		}
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-time.After(lagPause):
		}
	}
	return nil, 0, apperr.E(apperr.Unavailable, "the event store's replicas did not catch up with %s at %d (read up to %d)", subject, last, version)
}
