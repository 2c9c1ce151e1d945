package postgres

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/testkit"
)

// A harness for the collector alone: fake workers that record each batch
// and hold it in flight until the test releases it.

type fakeBatch struct {
	reqs    []*request
	release chan struct{}
	at      time.Time
}

type collectHarness struct {
	t       *testing.T
	l       *Ledger
	batches chan *fakeBatch // every batch handed to a worker
	taken   []*fakeBatch    // the batches the test took from batches
	done    chan struct{}   // collect returned
	auto    atomic.Bool     // workers release their batches at once
	wg      sync.WaitGroup
}

func newCollectHarness(t *testing.T) *collectHarness {
	t.Helper()
	h := &collectHarness{
		t: t,
		l: &Ledger{
			queue:   make(chan *request, queueRequestsMax),
			ready:   make(chan finished, batchWorkersCount),
			closing: make(chan struct{}),
		},
		batches: make(chan *fakeBatch, 100_000),
		done:    make(chan struct{}),
	}
	for range batchWorkersCount {
		w := make(chan []*request, 1)
		h.l.workers = append(h.l.workers, w)
	}
	for _, w := range h.l.workers {
		h.wg.Go(func() {
			h.l.ready <- finished{worker: w}
			for batch := range w {
				for _, r := range batch {
					if r.arrived.IsZero() {
						t.Errorf("request dispatched with arrived unset")
					}
				}
				fb := &fakeBatch{reqs: batch, release: make(chan struct{}), at: time.Now()}
				h.batches <- fb
				if !h.auto.Load() {
					<-fb.release
				}
				for _, r := range batch {
					r.done <- nil
				}
				h.l.ready <- finished{worker: w, batch: batch}
			}
		})
	}
	// Let both workers register before any request.
	time.Sleep(5 * time.Millisecond)
	go func() {
		h.l.collect()
		close(h.done)
	}()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			close(h.l.closing)
		}
		h.auto.Store(true)
		// A test that stopped early (a failed check) may hold batches it
		// took and never released: their workers would wait for ever.
		for _, fb := range h.taken {
			release(fb)
		}
		workersDone := make(chan struct{})
		go func() { h.wg.Wait(); close(workersDone) }()
		for {
			select {
			case fb := <-h.batches:
				release(fb)
			case <-workersDone:
				<-h.done
				return
			}
		}
	})
	return h
}

// release lets a batch's worker go on, once.
func release(fb *fakeBatch) {
	select {
	case <-fb.release:
	default:
		close(fb.release)
	}
}

func newReq(accounts ...uuid.UUID) *request {
	return &request{ctx: context.Background(), done: make(chan error, 1), accounts: accounts}
}

func (h *collectHarness) send(r *request) time.Time {
	now := time.Now()
	h.l.queue <- r
	return now
}

func (h *collectHarness) nextBatch(within time.Duration) *fakeBatch {
	h.t.Helper()
	select {
	case fb := <-h.batches:
		h.taken = append(h.taken, fb)
		return fb
	case <-time.After(within):
		h.t.Fatalf("no batch dispatched within %s: a request is stranded", within)
		return nil
	}
}

func (h *collectHarness) noBatch(during time.Duration) {
	h.t.Helper()
	select {
	case fb := <-h.batches:
		h.taken = append(h.taken, fb)
		h.t.Fatalf("unexpected batch of %d", len(fb.reqs))
	case <-time.After(during):
	}
}

const strandLimit = 2 * time.Second

// Nothing in flight: a lone request goes at once.
func TestCollectLoneRequestGoesAtOnce(t *testing.T) {
	h := newCollectHarness(t)
	h.auto.Store(true)
	for range 50 {
		sent := h.send(newReq(uuid.New()))
		fb := h.nextBatch(strandLimit)
		if d := fb.at.Sub(sent); d > 500*time.Microsecond {
			t.Logf("lone request took %s (scheduler noise?)", d)
		}
		time.Sleep(200 * time.Microsecond) // let the worker come back
	}
}

// One batch in flight: the next request waits for company about lingerMaxUs,
// then goes while the first is still in flight.
func TestCollectLingerThenGo(t *testing.T) {
	h := newCollectHarness(t)
	first := newReq(uuid.New())
	h.send(first)
	b1 := h.nextBatch(strandLimit)
	sent := h.send(newReq(uuid.New()))
	b2 := h.nextBatch(strandLimit)
	waited := b2.at.Sub(sent)
	if waited < lingerMaxUs*time.Microsecond*9/10 {
		t.Errorf("lingered %s, want about %s", waited, lingerMaxUs*time.Microsecond)
	}
	if waited > 50*time.Millisecond {
		t.Errorf("lingered %s, far past %s", waited, lingerMaxUs*time.Microsecond)
	}
	close(b1.release)
	close(b2.release)
}

// While lingering, reaching lingerRequestsMin sends the batch at once.
func TestCollectLingerEndsWithEnoughCompany(t *testing.T) {
	h := newCollectHarness(t)
	h.send(newReq(uuid.New()))
	b1 := h.nextBatch(strandLimit)
	for range lingerRequestsMin {
		h.send(newReq(uuid.New()))
	}
	b2 := h.nextBatch(strandLimit)
	if len(b2.reqs) != lingerRequestsMin {
		t.Errorf("batch of %d, want %d", len(b2.reqs), lingerRequestsMin)
	}
	close(b1.release)
	close(b2.release)
}

// The in-flight batch finishes while the linger timer is armed: the
// request goes at once; the timer stays armed (stale). Pending empties and
// refills with a batch in flight: the stale timer must not strand the new
// request nor make it wait more than about two lingers.
func TestCollectStaleTimer(t *testing.T) {
	h := newCollectHarness(t)
	for round := range 200 {
		h.send(newReq(uuid.New()))
		b1 := h.nextBatch(strandLimit)
		sent := h.send(newReq(uuid.New()))
		// Finish b1 during the linger, at a varying point.
		time.Sleep(time.Duration(rand.IntN(900)) * time.Microsecond)
		close(b1.release)
		b2 := h.nextBatch(strandLimit)
		if d := b2.at.Sub(sent); d > 50*time.Millisecond {
			t.Fatalf("round %d: request waited %s", round, d)
		}
		// b2 in flight; the timer may be armed from the previous linger.
		sent = h.send(newReq(uuid.New()))
		b3 := h.nextBatch(strandLimit)
		if d := b3.at.Sub(sent); d > 50*time.Millisecond {
			t.Fatalf("round %d: request after refill waited %s", round, d)
		}
		close(b2.release)
		close(b3.release)
		time.Sleep(100 * time.Microsecond)
	}
}

// Close while a request lingers: it is answered ErrClosed, not stranded.
func TestCollectCloseDuringLinger(t *testing.T) {
	h := newCollectHarness(t)
	h.send(newReq(uuid.New()))
	b1 := h.nextBatch(strandLimit)
	r := newReq(uuid.New())
	h.send(r)
	close(h.l.closing)
	select {
	case err := <-r.done:
		if err != ErrClosed {
			t.Fatalf("lingering request answered %v, want ErrClosed", err)
		}
	case fb := <-h.batches:
		close(fb.release) // dispatched before Close was seen: fine too
	case <-time.After(strandLimit):
		t.Fatal("lingering request never answered after Close")
	}
	close(b1.release)
	select {
	case <-h.done:
	case <-time.After(strandLimit):
		t.Fatal("collect did not return")
	}
}

// Requests that all conflict with the batch in flight: after the linger
// they are blocked; a newcomer on other accounts goes; the blocked ones
// go once the batch in flight finishes.
func TestCollectBlockedAfterLinger(t *testing.T) {
	h := newCollectHarness(t)
	busy := uuid.New()
	h.send(newReq(busy))
	b1 := h.nextBatch(strandLimit)
	h.send(newReq(busy))
	h.send(newReq(busy))
	h.noBatch(20 * time.Millisecond) // lingered, then blocked
	free := newReq(uuid.New())
	h.send(free)
	b2 := h.nextBatch(strandLimit)
	if len(b2.reqs) != 1 || b2.reqs[0] != free {
		t.Fatalf("batch of %d, want the newcomer alone", len(b2.reqs))
	}
	close(b1.release)
	b3 := h.nextBatch(strandLimit)
	if len(b3.reqs) != 2 {
		t.Fatalf("batch of %d, want the two blocked requests", len(b3.reqs))
	}
	close(b2.release)
	close(b3.release)
}

// The queue fills (queueRequestsMax pending) while both workers are busy;
// once they finish everything is dispatched.
func TestCollectQueueFull(t *testing.T) {
	h := newCollectHarness(t)
	h.send(newReq(uuid.New()))
	b1 := h.nextBatch(strandLimit)
	h.send(newReq(uuid.New()))
	b2 := h.nextBatch(strandLimit)
	n := queueRequestsMax*2 + 7
	var sent sync.WaitGroup
	reqs := make([]*request, n)
	sent.Go(func() {
		for i := range reqs {
			reqs[i] = newReq(uuid.New())
			h.l.queue <- reqs[i]
		}
	})
	time.Sleep(50 * time.Millisecond)
	h.auto.Store(true)
	close(b1.release)
	close(b2.release)
	sent.Wait()
	deadline := time.After(10 * time.Second)
	for i, r := range reqs {
		select {
		case <-r.done:
		case <-deadline:
			t.Fatalf("request %d of %d never dispatched", i, n)
		}
	}
}

// The collector does not spin: with a batch in flight and requests
// blocked, or lingering, it uses next to no CPU.
func TestCollectNoSpin(t *testing.T) {
	h := newCollectHarness(t)
	busy := uuid.New()
	h.send(newReq(busy))
	b1 := h.nextBatch(strandLimit)
	for range 5 {
		h.send(newReq(busy))
	}
	time.Sleep(10 * time.Millisecond)
	start, t0 := testkit.ProcessCPU(), time.Now()
	time.Sleep(300 * time.Millisecond)
	used, wall := testkit.ProcessCPU()-start, time.Since(t0)
	if used > wall/10 {
		t.Errorf("collector used %s CPU in %s while blocked", used, wall)
	}
	close(b1.release)
	close(h.nextBatch(strandLimit).release)
}

// Random load with random finishes: every request is dispatched exactly
// once, none waits for ever.
func TestCollectRandomNoStrand(t *testing.T) {
	h := newCollectHarness(t)
	accounts := make([]uuid.UUID, 6)
	for i := range accounts {
		accounts[i] = uuid.New()
	}
	// Release each batch after a random time.
	stop := make(chan struct{})
	var releaser sync.WaitGroup
	seen := map[*request]int{}
	var mu sync.Mutex
	releaser.Go(func() {
		for {
			select {
			case fb := <-h.batches:
				mu.Lock()
				for _, r := range fb.reqs {
					seen[r]++
				}
				mu.Unlock()
				go func() {
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
					close(fb.release)
				}()
			case <-stop:
				return
			}
		}
	})
	var senders sync.WaitGroup
	var all []*request
	var allMu sync.Mutex
	for g := range 8 {
		senders.Go(func() {
			for i := range 400 {
				r := newReq(accounts[(g+i)%len(accounts)], accounts[rand.IntN(len(accounts))])
				allMu.Lock()
				all = append(all, r)
				allMu.Unlock()
				h.l.queue <- r
				if rand.IntN(4) == 0 {
					time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
				}
			}
		})
	}
	senders.Wait()
	deadline := time.After(20 * time.Second)
	for i, r := range all {
		select {
		case <-r.done:
		case <-deadline:
			t.Fatalf("request %d never answered", i)
		}
	}
	close(stop)
	releaser.Wait()
	mu.Lock()
	defer mu.Unlock()
	for r, n := range seen {
		if n != 1 {
			t.Fatalf("request dispatched %d times", n)
			_ = r
		}
	}
	if len(seen) != len(all) {
		t.Fatalf("%d dispatched of %d", len(seen), len(all))
	}
}
