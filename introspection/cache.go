package introspection

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// GrantEvents is the subject every grant event is published on:
// events.<tenant>.grant.<grant id>.
const GrantEvents = "events.*.grant.*"

// Hold is how long an answer is cached, and how long after an event of its
// grant no answer about the grant is cached: longer than the grants read
// model takes to apply an event when it keeps up.
const Hold = 2 * time.Second

// entriesMax bounds a cache; a full cache is emptied and fills again, which
// costs lookups, never correctness.
const entriesMax = 100_000

// pendingMax is how many grant events the subscription may have queued
// before NATS drops them; a drop empties the cache.
const pendingMax = 1 << 20

// flushTimeout bounds the round trip that puts the subscription in place.
const flushTimeout = 5 * time.Second

// pruneEvery is how many grant events pass between removals of the event
// times older than a Hold.
const pruneEvery = 1024

type entry[V any] struct {
	value   V
	grantID string
	until   time.Time
}

// Cache keeps answers about tokens until the earliest of their deadline and
// the next event of their grant (see the package's documentation).
type Cache[V any] struct {
	now      func() time.Time
	mu       sync.Mutex
	entries  map[string]entry[V]
	byGrant  map[string]map[string]struct{}
	lastSeen map[string]time.Time // the last event of each grant seen within a Hold
	seen     int
	// quietUntil: nothing is cached before it (a Hold after a restart).
	quietUntil time.Time
	follower   *follower
}

// NewCache makes an empty cache; it caches nothing until Follow.
func NewCache[V any]() *Cache[V] {
	return &Cache[V]{now: time.Now, entries: map[string]entry[V]{}, byGrant: map[string]map[string]struct{}{},
		lastSeen: map[string]time.Time{}}
}

// follower is the subscription that tells a cache of grant events, and
// what it had seen of the connection when the cache last trusted it.
type follower struct {
	nc         *nats.Conn
	sub        *nats.Subscription
	reconnects uint64
	dropped    int
}

// Follow subscribes to the grant events on nc until ctx ends; each event
// removes its grant's entries. It returns once the subscription is in place.
func (c *Cache[V]) Follow(ctx context.Context, nc *nats.Conn) error {
	sub, err := nc.Subscribe(GrantEvents, func(m *nats.Msg) { c.ForgetGrant(grantOf(m.Subject)) })
	if err != nil {
		return fmt.Errorf("introspection cache: subscribe %s: %w", GrantEvents, err)
	}
	if err := sub.SetPendingLimits(pendingMax, -1); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("introspection cache: pending limits: %w", err)
	}
	// The server holds the interest once a round trip has passed it.
	if err := nc.FlushTimeout(flushTimeout); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("introspection cache: flush: %w", err)
	}
	c.mu.Lock()
	c.follower = &follower{nc: nc, sub: sub, reconnects: nc.Stats().Reconnects}
	c.mu.Unlock()
	go func() {
		<-ctx.Done()
		_ = sub.Unsubscribe()
		c.mu.Lock()
		c.follower = nil
		c.clear()
		c.mu.Unlock()
	}()
	return nil
}

// grantOf is the grant id a grant event's subject ends with.
func grantOf(subject string) string {
	return subject[strings.LastIndexByte(subject, '.')+1:]
}

// missedNothing tells whether the subscription can have missed no event
// since the cache last trusted it: connected, not reconnected since (events
// published while it was away were never delivered), nothing dropped.
func (f *follower) missedNothing() bool {
	if !f.nc.IsConnected() || f.nc.Stats().Reconnects != f.reconnects {
		return false
	}
	dropped, err := f.sub.Dropped()
	return err == nil && dropped == f.dropped
}

// usable checks the subscription, emptying the cache when it may have
// missed an event; the caller holds the lock.
func (c *Cache[V]) usable(now time.Time) bool {
	f := c.follower
	if f == nil {
		return false
	}
	if f.missedNothing() {
		return !now.Before(c.quietUntil)
	}
	c.clear()
	if !f.nc.IsConnected() {
		return false
	}
	// Connected again: what was missed concerned entries now gone, and
	// answers read from a read model that may not have applied it yet are
	// not cached for a Hold.
	f.reconnects = f.nc.Stats().Reconnects
	if dropped, err := f.sub.Dropped(); err == nil {
		f.dropped = dropped
	}
	c.quietUntil = now.Add(Hold)
	return false
}

// Get answers the entry for key when it still holds.
func (c *Cache[V]) Get(key string) (V, bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	e, ok := c.entries[key]
	if !ok || !c.usable(now) || !now.Before(e.until) {
		return zero, false
	}
	return e.value, true
}

// Put keeps value for key until until (at most a Hold from now) or the next
// event of grantID, unless that grant had an event within the last Hold.
func (c *Cache[V]) Put(key, grantID string, value V, until time.Time) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.usable(now) {
		return
	}
	if seen, ok := c.lastSeen[grantID]; ok && now.Sub(seen) < Hold {
		return
	}
	until = minTime(until, now.Add(Hold))
	if !now.Before(until) {
		return
	}
	if len(c.entries) >= entriesMax {
		c.clear()
	}
	c.entries[key] = entry[V]{value: value, grantID: grantID, until: until}
	keys := c.byGrant[grantID]
	if keys == nil {
		keys = map[string]struct{}{}
		c.byGrant[grantID] = keys
	}
	keys[key] = struct{}{}
}

// ForgetGrant removes every entry of a grant and keeps none for a Hold.
func (c *Cache[V]) ForgetGrant(grantID string) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for key := range c.byGrant[grantID] {
		delete(c.entries, key)
	}
	delete(c.byGrant, grantID)
	c.lastSeen[grantID] = now
	if c.seen++; c.seen%pruneEvery == 0 {
		for id, at := range c.lastSeen {
			if now.Sub(at) >= Hold {
				delete(c.lastSeen, id)
			}
		}
	}
}

func (c *Cache[V]) clear() {
	clear(c.entries)
	clear(c.byGrant)
}

// Len is the number of entries held.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
