package app_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/app"
)

// A failing readiness answer is reused only briefly, so that a process is
// ready soon after it can serve; a passing one is reused for a second.
func TestReadinessReusesFailuresBriefly(t *testing.T) {
	var runs atomic.Int32
	var failing atomic.Bool
	failing.Store(true)
	h := app.NewHealth(app.Check{Name: "listener", Run: func(context.Context) error {
		runs.Add(1)
		if failing.Load() {
			return errors.New("not connected yet")
		}
		return nil
	}})
	ctx := context.Background()
	if report, ok := h.Report(ctx); ok || report.Checks["listener"] != "not connected yet" {
		t.Fatalf("first report: %+v, %v; want the failure", report, ok)
	}
	failing.Store(false)
	time.Sleep(150 * time.Millisecond)
	if report, ok := h.Report(ctx); !ok {
		t.Fatalf("150 ms after the check passed, readiness still answers %+v", report)
	}
	ran := runs.Load()
	failing.Store(true)
	time.Sleep(150 * time.Millisecond)
	if _, ok := h.Report(ctx); !ok || runs.Load() != ran {
		t.Fatalf("a passing answer 150 ms old was not reused: ok %v, checks run %d times, want %d", ok, runs.Load(), ran)
	}
}
