package ratelog

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	l := New(time.Second)
	l.now = func() time.Time { return now }
	for i, step := range []struct {
		after time.Duration
		ok    bool
		held  int
	}{
		{0, true, 0},
		{10 * time.Millisecond, false, 0},
		{10 * time.Millisecond, false, 0},
		{time.Second, true, 2},
		{999 * time.Millisecond, false, 0},
		{time.Millisecond, true, 1},
		{time.Hour, true, 0},
	} {
		now = now.Add(step.after)
		if ok, held := l.Allow(); ok != step.ok || held != step.held {
			t.Fatalf("step %d: Allow() = %v, %d, want %v, %d", i, ok, held, step.ok, step.held)
		}
	}
}
