package connector

import (
	"sync"
	"time"
)

// accountsMax bounds the buckets kept; past it the idle ones are dropped.
const accountsMax = 100_000

// limiter is a token bucket per incoming account, as Rafiki's rate limit
// middleware: rate tokens a period, refilled continuously.
type limiter struct {
	mu      sync.Mutex
	rate    float64 // tokens a nanosecond
	burst   float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(perPeriod int, period time.Duration) *limiter {
	return &limiter{rate: float64(perPeriod) / float64(period), burst: float64(perPeriod), buckets: map[string]*bucket{}}
}

// allow takes a token of the account's bucket when there is one.
func (l *limiter) allow(account string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[account]
	if !ok {
		if len(l.buckets) >= accountsMax {
			l.dropFull(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[account] = b
	}
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.at))*l.rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// dropFull forgets the buckets that would be full by now: a new bucket
// starts full, so nothing changes for their accounts.
func (l *limiter) dropFull(now time.Time) {
	for id, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))*l.rate >= l.burst {
			delete(l.buckets, id)
		}
	}
}
