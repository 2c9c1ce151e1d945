// Package ratelog lets a log line through at most once a period and counts
// the ones it held back: while a database or the event store is down every
// request fails the same way, and a line for each (tens of thousands a
// second) would bury everything else in the log.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limiter lets one line through per period.
type Limiter struct {
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	last time.Time
	held int
}

// New lets one line through every period.
func New(every time.Duration) *Limiter {
	return &Limiter{every: every, now: time.Now}
}

// Allow tells whether a line may be logged now, and how many were held
// back since the last one that was.
func (l *Limiter) Allow() (ok bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.held++
		return false, 0
	}
	held, l.held, l.last = l.held, 0, now
	return true, held
}

// Log writes the line when Allow lets it through, with how many like it
// were held back since the last one (like_it_since_the_last_line).
func (l *Limiter) Log(ctx context.Context, log *slog.Logger, level slog.Level, msg string, args ...any) {
	if ok, held := l.Allow(); ok {
		log.Log(ctx, level, msg, append(args, "like_it_since_the_last_line", held)...)
	}
}
