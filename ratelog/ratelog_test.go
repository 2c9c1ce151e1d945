package ratelog

import (
	"context"
	"log/slog"
	"strings"
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

func TestLogCountsWhatItHeldBack(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	l := New(time.Second)
	l.now = func() time.Time { return now }
	var out strings.Builder
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	for range 3 {
		l.Log(context.Background(), log, slog.LevelWarn, "down", "err", "refused")
	}
	now = now.Add(time.Second)
	l.Log(context.Background(), log, slog.LevelWarn, "down", "err", "refused")
	want := "level=WARN msg=down err=refused like_it_since_the_last_line=0\nlevel=WARN msg=down err=refused like_it_since_the_last_line=2\n"
	if out.String() != want {
		t.Fatalf("logged\n%s\nwant\n%s", out.String(), want)
	}
}
