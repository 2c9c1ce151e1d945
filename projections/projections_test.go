package projections_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/secrets"
	"github.com/rafiki-go/rafiki/testkit"
)

const childEnv = "RAFIKI_PROJECTION_CHILD"

// TestMain lets the crash test run a projection in a child process of this
// test binary, so that it can be killed with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		runChild()
		return
	}
	os.Exit(m.Run())
}

func runChild() {
	ctx := context.Background()
	nc, err := nats.Connect(os.Getenv("CHILD_NATS_URL"))
	if err != nil {
		panic(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		panic(err)
	}
	pool, err := pgxpool.New(ctx, os.Getenv("CHILD_DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	keys, err := secrets.New(js, "EVENT_KEYS", testkit.EventSecretsKey)
	if err != nil {
		panic(err)
	}
	_ = projections.NewRunner(pool, js, "EVENTS", projections.Tenants{Secrets: keys}, log).Run(ctx)
}

type env struct {
	nats  *testkit.NATS
	store *eventstore.Store
	keys  *secrets.Keyring
	dbURL string
	pool  *pgxpool.Pool
}

func setup(t *testing.T) *env {
	t.Helper()
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(context.Background(), n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	dbURL := testkit.NewDatabase(t)
	if err := migrations.Up(dbURL); err != nil {
		t.Fatal(err)
	}
	return &env{nats: n, store: store, keys: testkit.Keyring(t, n.JS), dbURL: dbURL, pool: testkit.Pool(t, dbURL)}
}

// tenants is the tenants projection with the test's keyring.
func (e *env) tenants() projections.Tenants { return projections.Tenants{Secrets: e.keys} }

var operator = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000001", Operator: true}

// load writes tenants, each created then renamed updates times, from many
// goroutines. It returns the last stream sequence written.
func load(t *testing.T, e *env, tenants, updates int) uint64 {
	t.Helper()
	return loadFrom(t, e, 0, tenants, updates)
}

// loadFrom is load for tenants numbered from first on.
func loadFrom(t *testing.T, e *env, first, tenants, updates int) uint64 {
	t.Helper()
	h := tenant.NewHandler(handlers.SealSecrets(e.store, e.keys), operator.TenantID, "test.rafiki", "")
	ctx := context.Background()
	var mu sync.Mutex
	var last uint64
	record := func(seq uint64) {
		mu.Lock()
		last = max(last, seq)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	work := make(chan int)
	for range 64 {
		wg.Go(func() {
			for i := range work {
				id, res, err := h.Create(ctx, commands.CreateTenant{
					Meta:      commands.Meta{ID: fmt.Sprintf("create-%d", i), Actor: operator},
					APISecret: "secret", PublicName: "tenant",
				})
				if err != nil {
					t.Errorf("create %d: %v", i, err)
					return
				}
				record(res.Sequence)
				for u := range updates {
					name := fmt.Sprintf("name-%d", u)
					res, err := h.Update(ctx, commands.UpdateTenant{
						Meta: commands.Meta{ID: fmt.Sprintf("update-%d-%d", i, u), Actor: operator}, TenantID: id, PublicName: &name,
					})
					if err != nil {
						t.Errorf("update %d: %v", i, err)
						return
					}
					record(res.Sequence)
				}
			}
		})
	}
	for i := range tenants {
		work <- first + i
	}
	close(work)
	wg.Wait()
	return last
}

func checkpoint(t *testing.T, pool *pgxpool.Pool, name string) uint64 {
	t.Helper()
	var seq int64
	err := pool.QueryRow(context.Background(), `SELECT sequence FROM projection_checkpoints WHERE name = $1`, name).Scan(&seq)
	if err != nil {
		return 0
	}
	return uint64(seq)
}

// equalToReplay replays the tenants projection from sequence 1 and
// compares it with the live tables.
func equalToReplay(t *testing.T, e *env) {
	t.Helper()
	testkit.ReplayMatchesLive(t, e.pool, e.nats.JS, "EVENTS", e.tenants(), "events.*.tenant.>")
}

func TestRunnerAppliesAndWaiterSeesCheckpoint(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	if err := projections.Prepare(ctx, e.pool, e.tenants()); err != nil {
		t.Fatal(err)
	}
	waiter := projections.NewWaiter(e.pool, log)
	go waiter.Run(ctx)
	go projections.NewRunner(e.pool, e.nats.JS, "EVENTS", e.tenants(), log).Run(ctx)
	// A second runner stands by and must not disturb the first.
	go projections.NewRunner(e.pool, e.nats.JS, "EVENTS", e.tenants(), log).Run(ctx)

	last := load(t, e, 200, 2)
	if err := waiter.Wait(ctx, "tenants", last, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM rm_tenants.tenants WHERE public_name = 'name-1'`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 200 {
		t.Fatalf("%d tenants updated, want 200", rows)
	}
	equalToReplay(t, e)
}

// Advances tells of a projection's moves, and of no other's.
func TestAdvancesTellsOfOneProjection(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waiter := projections.NewWaiter(e.pool, slog.New(slog.DiscardHandler))
	go waiter.Run(ctx)
	testkit.Eventually(t, 5*time.Second, waiter.Connected, "waiter not listening")
	tenants := waiter.Advances(ctx, "tenants")
	notify := func(name string, seq int) {
		t.Helper()
		if _, err := e.pool.Exec(ctx, `SELECT pg_notify('rafiki_projection_checkpoint', $1)`, fmt.Sprintf("%s:%d", name, seq)); err != nil {
			t.Fatal(err)
		}
	}
	notify("assets", 5)
	select {
	case <-tenants:
		t.Fatal("told of another projection's move")
	case <-time.After(300 * time.Millisecond):
	}
	notify("tenants", 7)
	notify("tenants", 8)
	select {
	case <-tenants:
	case <-time.After(5 * time.Second):
		t.Fatal("not told of the projection's move")
	}
	select {
	case <-tenants:
		// The two moves may have come apart: then there is one word more,
		// and no third.
		select {
		case <-tenants:
			t.Fatal("a third word for two moves")
		case <-time.After(300 * time.Millisecond):
		}
	case <-time.After(300 * time.Millisecond):
	}
	if got := waiter.Applied("tenants"); got != 8 {
		t.Fatalf("applied %d, want 8", got)
	}
}

func TestProjectionSurvivesSIGKILLMidLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	e := setup(t)
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", "CHILD_NATS_URL="+e.nats.URL, "CHILD_DATABASE_URL="+e.dbURL)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	child := start()
	done := make(chan uint64)
	go func() { done <- load(t, e, 2000, 4) }() // 10,000 events

	testkit.Eventually(t, 60*time.Second, func() bool { return checkpoint(t, e.pool, "tenants") > 2000 },
		"projection never got going")
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	killedAt := checkpoint(t, e.pool, "tenants")
	last := <-done
	if killedAt >= last {
		t.Fatalf("killed after the load finished (checkpoint %d, last %d): the test proves nothing", killedAt, last)
	}
	child = start()
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	testkit.Eventually(t, 60*time.Second, func() bool { return checkpoint(t, e.pool, "tenants") == last },
		"projection did not catch up to %d after restart", last)
	var tenants int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM rm_tenants.tenants WHERE public_name = 'name-3'`).Scan(&tenants); err != nil {
		t.Fatal(err)
	}
	if tenants != 2000 {
		t.Fatalf("%d tenants at their last update, want 2000", tenants)
	}
	equalToReplay(t, e)
	t.Logf("killed at checkpoint %d of %d; read model equals a fresh replay", killedAt, last)
}

func TestReplaySwapsInWhileReadersAndWritersGoOn(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	if err := projections.Prepare(ctx, e.pool, e.tenants()); err != nil {
		t.Fatal(err)
	}
	waiter := projections.NewWaiter(e.pool, log)
	go waiter.Run(ctx)
	go projections.NewRunner(e.pool, e.nats.JS, "EVENTS", e.tenants(), log).Run(ctx)
	first := load(t, e, 1000, 1)
	if err := waiter.Wait(ctx, "tenants", first, 20*time.Second); err != nil {
		t.Fatal(err)
	}

	// Readers must never fail or see fewer tenants than before.
	var readErr error
	var reads int
	stopReading := make(chan struct{})
	readersDone := make(chan struct{})
	go func() {
		defer close(readersDone)
		seen := 0
		for {
			select {
			case <-stopReading:
				return
			default:
			}
			var n int
			if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM rm_tenants.tenants`).Scan(&n); err != nil {
				readErr = err
				return
			}
			if n < seen {
				readErr = fmt.Errorf("tenant count fell from %d to %d", seen, n)
				return
			}
			seen, reads = n, reads+1
		}
	}()
	more := make(chan uint64)
	go func() { more <- loadFrom(t, e, 1000, 500, 0) }()
	var progressCalls int
	if _, err := projections.Replay(ctx, e.pool, e.nats.JS, "EVENTS", e.tenants(), "events.*.tenant.>",
		func(projections.Progress) { progressCalls++ }); err != nil {
		t.Fatal(err)
	}
	last := <-more
	if err := waiter.Wait(ctx, "tenants", last, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	close(stopReading)
	<-readersDone
	if readErr != nil {
		t.Fatal(readErr)
	}
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM rm_tenants.tenants`).Scan(&n); err != nil || n != 1500 {
		t.Fatalf("%d tenants after replay and more writes, want 1500 (%v)", n, err)
	}
	if reads == 0 || progressCalls == 0 {
		t.Fatalf("reads %d, progress reports %d: the test did not exercise the swap", reads, progressCalls)
	}
	equalToReplay(t, e)
}

// A read model built from one event stream, then pointed at a new stream
// (its store replaced), is rebuilt from the new stream's first event rather
// than skipping events up to the old checkpoint.
func TestRunnerRebuildsForAnotherStream(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	waiter := projections.NewWaiter(e.pool, log)
	go waiter.Run(ctx)
	go projections.NewRunner(e.pool, e.nats.JS, "EVENTS", e.tenants(), log).Run(ctx)
	last := load(t, e, 50, 0)
	if err := waiter.Wait(ctx, "tenants", last, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	cancel()

	fresh := testkit.StartNATS(t, false)
	store, err := eventstore.Open(context.Background(), fresh.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	second := &env{nats: fresh, store: store, keys: testkit.Keyring(t, fresh.JS), dbURL: e.dbURL, pool: e.pool}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go projections.NewRunner(e.pool, fresh.JS, "EVENTS", second.tenants(), log).Run(ctx2)
	lastFresh := loadFrom(t, second, 1000, 3, 0)
	testkit.Eventually(t, 20*time.Second, func() bool {
		var n int
		_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM rm_tenants.tenants`).Scan(&n)
		return n == 3 && checkpoint(t, e.pool, "tenants") == lastFresh
	}, "the read model was not rebuilt from the new stream")
}

// A leader whose lease connection dies (idle_session_timeout, a proxy's
// idle timeout, pg_terminate_backend) while its pool stays up does not
// notice; a stand-by takes the lease and both pull from the one durable
// consumer. Neither may apply its share of the events: the read model must
// still hold every event.
func TestRunnerThatLostItsLeaseSkipsNothing(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	if err := projections.Prepare(ctx, e.pool, e.tenants()); err != nil {
		t.Fatal(err)
	}
	go projections.NewRunner(e.pool, e.nats.JS, "EVENTS", e.tenants(), log).Run(ctx)
	first := load(t, e, 50, 0)
	testkit.Eventually(t, 20*time.Second, func() bool { return checkpoint(t, e.pool, "tenants") == first }, "first runner caught up")
	go projections.NewRunner(e.pool, e.nats.JS, "EVENTS", e.tenants(), log).Run(ctx)
	time.Sleep(300 * time.Millisecond)
	var killed bool
	if err := e.pool.QueryRow(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate the lease connection: %v %v", killed, err)
	}
	time.Sleep(1500 * time.Millisecond) // the stand-by retries every second
	last := loadFrom(t, e, 50, 3000, 2)
	testkit.Eventually(t, 30*time.Second, func() bool { return checkpoint(t, e.pool, "tenants") == last }, "caught up")
	var n, updated int
	if err := e.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE public_name = 'name-1') FROM rm_tenants.tenants`).Scan(&n, &updated); err != nil {
		t.Fatal(err)
	}
	if n != 3050 || updated != 3000 {
		t.Fatalf("tenants %d (want 3050), at their last update %d (want 3000): events were skipped", n, updated)
	}
}

// Replays of one projection build in the same fresh schema, so only one
// runs at a time; the other is refused with a clear error.
func TestReplayRefusedWhileAnotherRuns(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	last := load(t, e, 20, 1)
	other, err := e.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `SELECT pg_advisory_lock($1)`, projections.ReplayKey("tenants")); err != nil {
		t.Fatal(err)
	}
	_, err = projections.Replay(ctx, e.pool, e.nats.JS, "EVENTS", e.tenants(), "events.*.tenant.>", nil)
	if !errors.Is(err, projections.ErrReplayRunning) {
		t.Fatalf("replay beside another: %v, want ErrReplayRunning", err)
	}
	if _, err := other.Exec(ctx, `SELECT pg_advisory_unlock($1)`, projections.ReplayKey("tenants")); err != nil {
		t.Fatal(err)
	}
	other.Release()
	got, err := projections.Replay(ctx, e.pool, e.nats.JS, "EVENTS", e.tenants(), "events.*.tenant.>", nil)
	if err != nil || got != last {
		t.Fatalf("replay once the other ended: %d, %v; want %d", got, err, last)
	}
	// The lock went back with the replay: a third replay runs too.
	if _, err := projections.Replay(ctx, e.pool, e.nats.JS, "EVENTS", e.tenants(), "events.*.tenant.>", nil); err != nil {
		t.Fatalf("a later replay: %v", err)
	}
}

// A leader whose lease connection dies notices within a few seconds and
// takes the lease again on a new connection (or stands by if another
// runner took it), rather than following without a lease.
func TestRunnerTakesItsLeaseAgainWhenItsConnectionDies(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go projections.NewRunner(e.pool, e.nats.JS, "EVENTS", e.tenants(), slog.New(slog.DiscardHandler)).Run(ctx)
	classid, objid := projections.LeaseLock("tenants")
	leaseHolder := func() int {
		var pid int
		err := e.pool.QueryRow(ctx, `SELECT coalesce(max(pid), 0) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, classid, objid).Scan(&pid)
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return leaseHolder() != 0 }, "lease taken")
	first := leaseHolder()
	if _, err := e.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, first); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() bool { h := leaseHolder(); return h != 0 && h != first }, "lease taken again")
	last := load(t, e, 10, 1)
	testkit.Eventually(t, 10*time.Second, func() bool { return checkpoint(t, e.pool, "tenants") == last }, "following again")
}
