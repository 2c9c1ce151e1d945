package projections

import (
	"testing"
	"time"
)

// A batch takes what comes within its linger of the feed running dry, and
// no more: what comes later is the next batch's. The linger here is long
// enough for the sender to be scheduled on a busy machine.
func TestTakeLingersForMoreEvents(t *testing.T) {
	const linger = 500 * time.Millisecond
	feed := make(chan delivery, 10)
	at := func(seq uint64) delivery { return delivery{consumerSeq: seq} }
	feed <- at(1)
	go func() {
		time.Sleep(linger / 50)
		feed <- at(2)
	}()
	began := time.Now()
	batch, ok := take(feed, 0, linger)
	if !ok || len(batch) != 2 || batch[1].consumerSeq != 2 {
		t.Fatalf("took %d deliveries (ok %v), want the one there and the one a moment later", len(batch), ok)
	}
	if waited := time.Since(began); waited < linger || waited > 10*linger {
		t.Fatalf("took %s, want about %s", waited, linger)
	}
	feed <- at(3)
	batch, ok = take(feed, 0, linger)
	if !ok || len(batch) != 1 {
		t.Fatalf("took %d deliveries (ok %v), want the one there", len(batch), ok)
	}
	close(feed)
	if batch, ok := take(feed, 0, linger); ok || batch != nil {
		t.Fatalf("a closed feed gave %d deliveries, ok %v", len(batch), ok)
	}
}
