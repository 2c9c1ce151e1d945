package projections_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

// logBuffer collects a logger's lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func capture() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

const rebuildLine = "read model was built from another event stream"

// runUntil runs a runner in the background until the returned stop is
// called; stop waits for it to end.
func runUntil(r *projections.Runner) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// A process stopped and started again, its NATS server too, on the same
// store and database rebuilds nothing: the stream is recognised to the
// nanosecond of its creation, the checkpoint is kept, and the runner goes
// on from it.
func TestRestartKeepsCheckpoint(t *testing.T) {
	e := setup(t)
	log, logs := capture()
	stop := runUntil(projections.NewRunner(e.pool, e.nats.JS, "EVENTS", e.tenants(), log))
	first := load(t, e, 40, 1)
	testkit.Eventually(t, 20*time.Second, func() bool { return checkpoint(t, e.pool, "tenants") == first }, "caught up")
	stop()

	e.nats = testkit.RestartNATS(t, e.nats, false)
	store, err := eventstore.Open(context.Background(), e.nats.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	e.store, e.keys = store, testkit.Keyring(t, e.nats.JS)
	// A checkpoint moved back to 0 would show here: the runner below
	// applies only events it has not applied.
	var movedBack sync.WaitGroup
	watch, stopWatching := context.WithCancel(context.Background())
	lowest := first
	movedBack.Go(func() {
		for watch.Err() == nil {
			lowest = min(lowest, checkpoint(t, e.pool, "tenants"))
			time.Sleep(time.Millisecond)
		}
	})
	runner := projections.NewRunner(e.pool, e.nats.JS, "EVENTS", e.tenants(), log)
	stop = runUntil(runner)
	defer stop()
	testkit.Eventually(t, 10*time.Second, func() bool { return runner.Status().Leading && runner.Status().StepStarted.IsZero() }, "following")
	more := loadFrom(t, e, 1000, 10, 0)
	testkit.Eventually(t, 20*time.Second, func() bool { return checkpoint(t, e.pool, "tenants") == more }, "caught up after the restart")
	stopWatching()
	movedBack.Wait()
	if lowest < first {
		t.Fatalf("the checkpoint went back to %d after the restart (it was %d)", lowest, first)
	}
	if strings.Contains(logs.String(), rebuildLine) {
		t.Fatalf("the read model was rebuilt after a restart:\n%s", logs)
	}
	stream, err := e.nats.JS.Stream(context.Background(), "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	if err := e.pool.QueryRow(context.Background(), `SELECT stream_created_unix_nanos FROM projection_checkpoints WHERE name = 'tenants'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if created := stream.CachedInfo().Created.UnixNano(); stored != created {
		t.Fatalf("stored stream creation %d, the stream's %d", stored, created)
	}
	equalToReplay(t, e)
}

// Every projection rebuilding at once, all sharing a pool of one
// connection with requests that read the read model, all finish: nothing
// holds a pooled connection while it waits for another.
func TestEveryProjectionRebuildsOnOneConnection(t *testing.T) {
	e := setup(t)
	all := []projections.Projection{e.tenants(), projections.Assets{}, projections.WalletAddresses{},
		projections.WalletAddressKeys{}, projections.Peers{Secrets: e.keys}}
	quiet := slog.New(slog.DiscardHandler)
	var stops []func()
	for _, p := range all {
		stops = append(stops, runUntil(projections.NewRunner(e.pool, e.nats.JS, "EVENTS", p, quiet)))
	}
	first := load(t, e, 300, 2)
	testkit.Eventually(t, 30*time.Second, func() bool { return checkpoint(t, e.pool, "tenants") == first }, "caught up")
	for _, stop := range stops {
		stop()
	}
	// As if the store had been replaced: every read model must be rebuilt.
	if _, err := e.pool.Exec(context.Background(), `UPDATE projection_checkpoints SET stream_created_unix_nanos = 1`); err != nil {
		t.Fatal(err)
	}

	cfg := e.pool.Config().Copy()
	cfg.MaxConns = 1
	one, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	log, logs := capture()
	waiter := projections.NewWaiter(one, log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go waiter.Run(ctx)
	for _, p := range all {
		defer runUntil(projections.NewRunner(one, e.nats.JS, "EVENTS", p, log))()
	}
	// Requests arrive during the rebuilds: each writes, waits for the read
	// model and reads it through the same single connection.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				reqCtx, done := context.WithTimeout(ctx, 30*time.Second)
				seq := loadFrom(t, e, 10_000+w*100+i, 1, 0)
				err := waiter.Wait(reqCtx, "tenants", seq, 30*time.Second)
				if err == nil {
					var n int
					err = one.QueryRow(reqCtx, `SELECT count(*) FROM rm_tenants.tenants`).Scan(&n)
				}
				done()
				if err != nil {
					errs <- fmt.Errorf("request %d.%d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := strings.Count(logs.String(), rebuildLine); got != len(all) {
		t.Fatalf("%d read models rebuilt, want %d:\n%s", got, len(all), logs)
	}
	last := checkpoint(t, e.pool, "tenants")
	if last < first+80 {
		t.Fatalf("checkpoint %d, want at least %d", last, first+80)
	}
	equalToReplay(t, e)
}

// broken is a projection whose every event fails to apply with an error
// that may pass (the database refuses it as it would a lost serialization
// race): it is tried again, never set aside.
type broken struct{ projections.Tenants }

func (broken) Apply(b *pgx.Batch, _ events.Envelope, _ events.Event) error {
	b.Queue(`DO $$ BEGIN RAISE EXCEPTION 'cannot apply this event yet' USING ERRCODE = 'serialization_failure'; END $$`)
	return nil
}

// A runner that keeps failing on an event is reported stuck, with the
// error; one that follows, idle or not, is not.
func TestStuckRunnerIsReported(t *testing.T) {
	defer projections.SetStuckAfter(time.Second)()
	e := setup(t)
	quiet := slog.New(slog.DiscardHandler)
	healthy := projections.NewRunner(e.pool, e.nats.JS, "EVENTS", projections.Assets{}, quiet)
	defer runUntil(healthy)()
	load(t, e, 3, 0)
	failing := projections.NewRunner(e.pool, e.nats.JS, "EVENTS", broken{}, quiet)
	defer runUntil(failing)()
	testkit.Eventually(t, 10*time.Second, func() bool { return failing.Status().Stuck(time.Now()) != "" }, "the failing runner is stuck")
	if why := failing.Status().Stuck(time.Now()); !strings.Contains(why, "cannot apply this event") {
		t.Fatalf("stuck because %q, want the apply error", why)
	}
	time.Sleep(1500 * time.Millisecond)
	if s := healthy.Status(); !s.Leading || s.Stuck(time.Now()) != "" {
		t.Fatalf("an idle runner that follows: %+v, stuck: %q", s, s.Stuck(time.Now()))
	}
}
