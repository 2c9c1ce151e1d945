package eventstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rafiki-go/rafiki/testkit"
)

// A batched direct get that is never answered ends at leaderGetTimeout
// when its caller set no deadline, and leaves nothing waiting behind it.
func TestDirectGetUnansweredEnds(t *testing.T) {
	n := testkit.StartNATS(t, false)
	silent, err := n.Conn.Subscribe("$JS.API.DIRECT.GET.SILENT", func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silent.Unsubscribe() })
	if err := n.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	d := newDirectGets(n.Conn, "SILENT")
	began := time.Now()
	_, _, err = d.request(context.Background(), struct {
		LastFor string `json:"last_by_subj"`
	}{"x"})
	if waited := time.Since(began); !errors.Is(err, context.DeadlineExceeded) || waited < leaderGetTimeout || waited > 2*leaderGetTimeout {
		t.Fatalf("after %s: %v, want the deadline after %s", waited, err, leaderGetTimeout)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pending) != 0 {
		t.Fatalf("%d requests still waiting", len(d.pending))
	}
}
