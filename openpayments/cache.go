package openpayments

import (
	"sync"
	"time"
)

const (
	// Documents kept at most; past it the cache starts over, which costs
	// only reads of the read model.
	cacheEntriesMax = 100_000
	// Wallet addresses changed by events the read model may not show yet;
	// past it caching pauses briefly instead of tracking more.
	pendingEntriesMax = 100_000
	cachePause        = time.Second
)

// docCache keeps rendered wallet address documents by URL. It follows the
// event stream: an event on a wallet address drops its document, and a
// document read from the read model is kept only if the read model has
// applied every event seen for that wallet address, so a reader never
// re-caches a document older than an event it was told about.
type docCache struct {
	ttl time.Duration

	mu          sync.RWMutex
	byURL       map[string]cachedDoc
	urlOf       map[string]string // wallet address id → URL
	pending     map[string]uint64 // wallet address id → sequence of its latest event
	pausedUntil time.Time
}

type cachedDoc struct {
	body    []byte
	expires time.Time
}

func newDocCache(ttl time.Duration) *docCache {
	return &docCache{ttl: ttl, byURL: map[string]cachedDoc{}, urlOf: map[string]string{}, pending: map[string]uint64{}}
}

func (c *docCache) get(url string, now time.Time) ([]byte, bool) {
	c.mu.RLock()
	d, ok := c.byURL[url]
	c.mu.RUnlock()
	if !ok || now.After(d.expires) {
		return nil, false
	}
	return d.body, true
}

// put keeps a document read from a row at version, unless an event newer
// than that row has been seen.
func (c *docCache) put(url, id string, version uint64, body []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Before(c.pausedUntil) || version < c.pending[id] {
		return
	}
	delete(c.pending, id)
	if len(c.byURL) >= cacheEntriesMax {
		c.byURL, c.urlOf = map[string]cachedDoc{}, map[string]string{}
	}
	c.byURL[url] = cachedDoc{body: body, expires: now.Add(c.ttl)}
	c.urlOf[id] = url
}

// changed records an event on a wallet address.
func (c *docCache) changed(id string, sequence uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if url, ok := c.urlOf[id]; ok {
		delete(c.byURL, url)
		delete(c.urlOf, id)
	}
	if len(c.pending) >= pendingEntriesMax {
		c.reset(now)
		return
	}
	c.pending[id] = max(c.pending[id], sequence)
}

// reset forgets everything and pauses caching for a moment, for when events
// may have been missed.
func (c *docCache) reset(now time.Time) {
	c.byURL, c.urlOf, c.pending = map[string]cachedDoc{}, map[string]string{}, map[string]uint64{}
	c.pausedUntil = now.Add(cachePause)
}

func (c *docCache) resetNow() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset(time.Now())
}
