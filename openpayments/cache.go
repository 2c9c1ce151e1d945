package openpayments

import (
	"sync"
	"sync/atomic"
	"time"
)

const (
	// Documents kept at most; past it the cache starts over, which costs
	// only reads of the read model.
	cacheEntriesMax = 100_000
	// Wallet addresses whose newest known version is tracked; past it
	// caching pauses briefly instead of tracking more.
	floorEntriesMax = 200_000
	cachePause      = time.Second
)

// docCache keeps rendered wallet address documents by URL. It follows the
// event stream: an event on a wallet address drops its document and raises
// the version a document of it must have to be kept, so a reader that read
// the read model before the event never caches what it read.
type docCache struct {
	ttl time.Duration

	// seen is the sequence of the last event the follower delivered.
	seen atomic.Uint64

	mu          sync.RWMutex
	byURL       map[string]cachedDoc
	urlOf       map[string]string // wallet address id → URL
	floor       map[string]uint64 // wallet address id → newest version known
	pausedUntil time.Time
}

type cachedDoc struct {
	body    []byte
	expires time.Time
}

func newDocCache(ttl time.Duration) *docCache {
	return &docCache{ttl: ttl, byURL: map[string]cachedDoc{}, urlOf: map[string]string{}, floor: map[string]uint64{}}
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

// put keeps a document read from a row at version, unless a newer version
// of it has been seen, as an event or as another reader's document.
func (c *docCache) put(url, id string, version uint64, body []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Before(c.pausedUntil) || version < c.floor[id] {
		return
	}
	if len(c.floor) >= floorEntriesMax {
		c.reset(now)
		return
	}
	c.floor[id] = version
	if len(c.byURL) >= cacheEntriesMax {
		c.byURL, c.urlOf = map[string]cachedDoc{}, map[string]string{}
	}
	c.byURL[url] = cachedDoc{body: body, expires: now.Add(c.ttl)}
	c.urlOf[id] = url
}

// changed records an event on a wallet address.
func (c *docCache) changed(id string, sequence uint64, now time.Time) {
	defer c.seen.Store(sequence)
	c.mu.Lock()
	defer c.mu.Unlock()
	if url, ok := c.urlOf[id]; ok {
		delete(c.byURL, url)
		delete(c.urlOf, id)
	}
	if len(c.floor) >= floorEntriesMax {
		c.reset(now)
		return
	}
	c.floor[id] = max(c.floor[id], sequence)
}

// reset forgets everything and pauses caching for a moment, for when events
// may have been missed.
func (c *docCache) reset(now time.Time) {
	c.byURL, c.urlOf, c.floor = map[string]cachedDoc{}, map[string]string{}, map[string]uint64{}
	c.pausedUntil = now.Add(cachePause)
}

func (c *docCache) resetNow() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset(time.Now())
}
