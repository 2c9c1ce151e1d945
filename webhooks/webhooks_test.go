package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
	"github.com/rafiki-go/rafiki/webhooks"
)

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		attempts int
		want     time.Duration
	}{{0, 10 * time.Second}, {1, 10 * time.Second}, {2, 20 * time.Second}, {3, 30 * time.Second}, {6, 60 * time.Second},
		{7, 60 * time.Second}, {10, 60 * time.Second}} {
		if got := webhooks.Backoff(10*time.Second, c.attempts); got != c.want {
			t.Errorf("after %d attempts: %v, want %v", c.attempts, got, c.want)
		}
	}
}

func TestBodyAndSignature(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	for _, c := range []struct {
		name, data, want string
	}{
		{"keys sorted at every depth", `{"b":1,"a":{"d":"x","c":true}}`, `{"data":{"a":{"c":true,"d":"x"},"b":1},"id":"e1","type":"t.x"}`},
		{"spaces dropped, text kept", `{ "m" : "<a&b> é" , "n":null, "l":[2, 1] }`, `{"data":{"l":[2,1],"m":"<a&b> é","n":null},"id":"e1","type":"t.x"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, err := webhooks.Body("e1", "t.x", []byte(c.data))
			if err != nil || string(body) != c.want {
				t.Fatalf("body %s %v, want %s", body, err, c.want)
			}
			mac := hmac.New(sha256.New, []byte("secret"))
			mac.Write([]byte("1700000000123." + c.want))
			want := "t=1700000000123, v1=" + hex.EncodeToString(mac.Sum(nil))
			if got := webhooks.Signature("secret", 1, at, body); got != want {
				t.Fatalf("signature %s, want %s", got, want)
			}
		})
	}
	if got := webhooks.Signature("secret", 2, at, []byte("{}")); got[:len("t=1700000000123, v2=")] != "t=1700000000123, v2=" {
		t.Fatalf("version 2: %s", got)
	}
}

// endpoint answers each request with the next of its statuses (the last
// one from then on), recording the event ids it got.
type endpoint struct {
	mu       sync.Mutex
	statuses []int
	ids      []string
	hold     chan struct{} // when set, requests wait for it or their end
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.ids = append(e.ids, string(body))
	status := e.statuses[min(len(e.ids), len(e.statuses))-1]
	hold := e.hold
	e.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
}

func (e *endpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.ids)
}

// fixture is the backend's database with the webhooks read model holding
// the events a test puts there.
type fixture struct {
	pool   *pgxpool.Pool
	tenant string
	seq    int64
	// settingsReads counts the dispatcher's reads of a tenant's settings.
	settingsReads atomic.Int64
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	url := testkit.NewDatabase(t)
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	pool := testkit.Pool(t, url)
	ctx := context.Background()
	if err := projections.Prepare(ctx, pool, projections.Webhooks{}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{pool: pool, tenant: uuid.NewString()}
	f.stream(t, 1)
	return f
}

// stream sets the stream the read model's checkpoint counts in.
func (f *fixture) stream(t testing.TB, created int64) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), `UPDATE projection_checkpoints SET stream_created_unix_nanos = $1 WHERE name = 'webhooks'`,
		created); err != nil {
		t.Fatal(err)
	}
}

// event puts a webhook event of tenant in the read model at the next
// sequence and answers its id.
func (f *fixture) event(t testing.TB, tenant string) string {
	t.Helper()
	id := uuid.NewString()
	f.seq++
	if _, err := f.pool.Exec(context.Background(), `INSERT INTO rm_webhooks.webhook_events (id, tenant_id, type, data, created_at, sequence)
		VALUES ($1, $2, 'incoming_payment.created', '{"id":"p"}', now(), $3)`, id, tenant, f.seq); err != nil {
		t.Fatal(err)
	}
	return id
}

// events puts n webhook events of tenant in the read model in one
// transaction, so that one sweep takes them all, and answers their ids.
func (f *fixture) events(t testing.TB, tenant string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	b := &pgx.Batch{}
	for i := range ids {
		ids[i] = uuid.NewString()
		f.seq++
		b.Queue(`INSERT INTO rm_webhooks.webhook_events (id, tenant_id, type, data, created_at, sequence)
			VALUES ($1, $2, 'incoming_payment.created', '{"id":"p"}', now(), $3)`, ids[i], tenant, f.seq)
	}
	if err := f.pool.SendBatch(context.Background(), b).Close(); err != nil {
		t.Fatal(err)
	}
	return ids
}

type row struct {
	attempts  int
	status    *int
	pending   bool
	delivered bool
}

func (f *fixture) delivery(t testing.TB, event, recipient string) (row, bool) {
	t.Helper()
	var r row
	err := f.pool.QueryRow(context.Background(), `SELECT attempts, status_code, process_at IS NOT NULL, delivered_at IS NOT NULL
		FROM webhook_deliveries WHERE event_id = $1 AND recipient_tenant_id = $2`, event, recipient).
		Scan(&r.attempts, &r.status, &r.pending, &r.delivered)
	if err != nil {
		return r, false
	}
	return r, true
}

// delivered tells whether every event of ids was delivered to recipient.
func (f *fixture) delivered(t testing.TB, ids []string, recipient string) bool {
	t.Helper()
	for _, id := range ids {
		if r, ok := f.delivery(t, id, recipient); !ok || !r.delivered {
			return false
		}
	}
	return true
}

func (f *fixture) run(t testing.TB, cfg webhooks.Config, settings map[string]map[string]string) context.CancelFunc {
	t.Helper()
	if cfg.RetryStep == 0 {
		cfg.RetryStep = 20 * time.Millisecond
	}
	if cfg.Idle == 0 {
		cfg.Idle = 10 * time.Millisecond
	}
	// As the worker's: connections kept for every request under way.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 32
	d := webhooks.New(f.pool, cfg, func(_ context.Context, tenant string) (map[string]string, error) {
		f.settingsReads.Add(1)
		s, ok := settings[tenant]
		if !ok {
			return nil, errors.New("no such tenant")
		}
		return s, nil
	}, &http.Client{Transport: transport}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	stop := func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

// A delivery is attempted until it is answered 200 or has had
// WEBHOOK_MAX_RETRY attempts (the recipient's setting, else the
// dispatcher's), and never after.
func TestAttemptsUpToMaxRetry(t *testing.T) {
	for _, c := range []struct {
		name          string
		statuses      []int
		maxRetry      string // the tenant's setting, "" for none
		wantAttempts  int
		wantStatus    int
		wantDelivered bool
	}{
		{"answered at once", []int{200}, "", 1, 200, true},
		{"answered the third time", []int{500, 201, 200}, "", 3, 200, true},
		{"never answered 200", []int{503}, "", 4, 503, false},
		{"the tenant's own limit", []int{404}, "2", 2, 404, false},
		{"no attempt allowed", []int{200}, "0", 0, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			e := &endpoint{statuses: c.statuses}
			srv := httptest.NewServer(e)
			defer srv.Close()
			settings := map[string]string{"WEBHOOK_URL": srv.URL}
			if c.maxRetry != "" {
				settings["WEBHOOK_MAX_RETRY"] = c.maxRetry
			}
			id := f.event(t, f.tenant)
			f.run(t, webhooks.Config{MaxRetry: 4}, map[string]map[string]string{f.tenant: settings})
			testkit.Eventually(t, 5*time.Second, func() bool {
				r, ok := f.delivery(t, id, f.tenant)
				return ok && !r.pending
			}, "delivery still pending")
			time.Sleep(100 * time.Millisecond)
			r, _ := f.delivery(t, id, f.tenant)
			status := 0
			if r.status != nil {
				status = *r.status
			}
			if r.attempts != c.wantAttempts || status != c.wantStatus || r.delivered != c.wantDelivered || e.count() != c.wantAttempts {
				t.Fatalf("%d attempts (%d requests), status %d, delivered %v", r.attempts, e.count(), status, r.delivered)
			}
		})
	}
}

// A dispatcher with nothing to do sweeps when it is told that new events
// came (Wake), rather than at the end of its idle time; without the word it
// waits for that end.
func TestWakeSweepsAtOnce(t *testing.T) {
	for _, c := range []struct {
		name     string
		wake     bool
		within   time.Duration
		notSince time.Duration // no delivery this long after the event
	}{
		{"woken", true, time.Second, 0},
		{"not woken", false, 0, 2 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			e := &endpoint{statuses: []int{200}}
			srv := httptest.NewServer(e)
			defer srv.Close()
			wake := make(chan struct{}, 1)
			f.run(t, webhooks.Config{MaxRetry: 3, Idle: 4 * time.Second, Wake: wake},
				map[string]map[string]string{f.tenant: {"WEBHOOK_URL": srv.URL}})
			// The first sweep found nothing, and the quarter of the idle
			// time that must pass between two sweeps has passed.
			time.Sleep(1100 * time.Millisecond)
			id := f.event(t, f.tenant)
			if c.wake {
				wake <- struct{}{}
			}
			delivered := func() bool {
				r, ok := f.delivery(t, id, f.tenant)
				return ok && r.delivered
			}
			if c.within > 0 {
				testkit.Eventually(t, c.within, delivered, "not delivered within %s of the word", c.within)
				return
			}
			time.Sleep(c.notSince)
			if delivered() {
				t.Fatalf("delivered within %s, before the idle time ended", c.notSince)
			}
		})
	}
}

// After a sweep that took few events (a quiet system), the next word of new
// events sweeps at once; after one that took many, the next sweep waits a
// quarter of the idle time, as before.
func TestQuietSweepsAtEveryWord(t *testing.T) {
	f := newFixture(t)
	e := &endpoint{statuses: []int{200}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	wake := make(chan struct{}, 1)
	// Sweeps 2 s apart when busy.
	f.run(t, webhooks.Config{MaxRetry: 3, Idle: 8 * time.Second, Wake: wake},
		map[string]map[string]string{f.tenant: {"WEBHOOK_URL": srv.URL}})
	delivered := func(ids ...string) func() bool {
		return func() bool { return f.delivered(t, ids, f.tenant) }
	}
	// The first sweep, at the start, found nothing.
	for i := range 3 {
		id := f.event(t, f.tenant)
		wake <- struct{}{}
		testkit.Eventually(t, time.Second, delivered(id), "quiet event %d not delivered within 1 s of the word", i)
	}
	busy := make([]string, 6)
	for i := range busy {
		busy[i] = f.event(t, f.tenant)
	}
	wake <- struct{}{}
	testkit.Eventually(t, time.Second, delivered(busy...), "the busy events not delivered within 1 s of the word")
	id := f.event(t, f.tenant)
	wake <- struct{}{}
	worded := time.Now()
	testkit.Eventually(t, 5*time.Second, delivered(id), "the event after the busy sweep not delivered")
	if waited := time.Since(worded); waited < 500*time.Millisecond {
		t.Fatalf("the event after a sweep of %d was delivered %v after the word, before the next sweep was due", len(busy), waited)
	}
}

// A sweep leases at once the new deliveries its dispatcher has slots for,
// without a lease statement updating their rows; those beyond its slots
// are left due and leased as slots free.
func TestSweepLeasesWhatItHasSlotsFor(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Counts the leases of new deliveries: updates taking attempts from 0.
	if _, err := f.pool.Exec(ctx, `CREATE TABLE leases_counted (event_id uuid);
		CREATE FUNCTION count_lease() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN INSERT INTO leases_counted VALUES (NEW.event_id); RETURN NEW; END $$;
		CREATE TRIGGER count_lease AFTER UPDATE ON webhook_deliveries
			FOR EACH ROW WHEN (OLD.attempts = 0 AND NEW.attempts = 1) EXECUTE FUNCTION count_lease()`); err != nil {
		t.Fatal(err)
	}
	leases := func() int {
		var n int
		if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM leases_counted`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	e := &endpoint{statuses: []int{200}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	wake := make(chan struct{}, 1)
	f.run(t, webhooks.Config{MaxRetry: 3, Slots: 8, PerRecipient: 8, PerUnprovenRecipient: 8, Wake: wake},
		map[string]map[string]string{f.tenant: {"WEBHOOK_URL": srv.URL}})
	few := f.events(t, f.tenant, 5)
	wake <- struct{}{}
	testkit.Eventually(t, 5*time.Second, func() bool { return f.delivered(t, few, f.tenant) }, "the 5 deliveries not all made")
	if n := leases(); n != 0 {
		t.Fatalf("%d of 5 new deliveries leased by a statement, want all leased by the sweep", n)
	}
	many := f.events(t, f.tenant, 20)
	wake <- struct{}{}
	testkit.Eventually(t, 5*time.Second, func() bool { return f.delivered(t, many, f.tenant) }, "the 20 deliveries not all made")
	if n := leases(); n != 20-8 {
		t.Fatalf("%d of 20 new deliveries leased by a statement, want the 12 beyond the sweep's 8 slots", n)
	}
	if e.count() != 25 {
		t.Fatalf("%d requests made, want 25", e.count())
	}
}

// A retry that comes due while another recipient's new events keep the
// dispatcher busy (each swept and leased at once, every slot freed soon)
// is leased within the idle time, not only once the others stop.
func TestRetryDueWhileBusyIsLeased(t *testing.T) {
	f := newFixture(t)
	failing := &endpoint{statuses: []int{500, 200}}
	busy := &endpoint{statuses: []int{200}}
	failingSrv, busySrv := httptest.NewServer(failing), httptest.NewServer(busy)
	defer failingSrv.Close()
	defer busySrv.Close()
	other := uuid.NewString()
	wake := make(chan struct{}, 1)
	f.run(t, webhooks.Config{MaxRetry: 3, Idle: 400 * time.Millisecond, RetryStep: 100 * time.Millisecond, Wake: wake},
		map[string]map[string]string{f.tenant: {"WEBHOOK_URL": failingSrv.URL}, other: {"WEBHOOK_URL": busySrv.URL}})
	retried := f.event(t, f.tenant)
	wake <- struct{}{}
	testkit.Eventually(t, 2*time.Second, func() bool { return failing.count() == 1 }, "the first attempt not made")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			f.event(t, other)
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}()
	defer func() { close(stop); <-done }()
	testkit.Eventually(t, 3*time.Second, func() bool { return f.delivered(t, []string{retried}, f.tenant) },
		"the retry not delivered while the other recipient's events came")
	if busy.count() == 0 {
		t.Fatal("the other recipient's events were not delivered meanwhile")
	}
}

// A recipient's settings are read once for the deliveries one lease takes,
// not for each.
func TestSettingsReadOncePerLease(t *testing.T) {
	f := newFixture(t)
	e := &endpoint{statuses: []int{200}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	const n = 20
	ids := make([]string, n)
	for i := range ids {
		ids[i] = f.event(t, f.tenant)
	}
	f.run(t, webhooks.Config{MaxRetry: 4, Slots: 32, PerRecipient: 32, PerUnprovenRecipient: 32},
		map[string]map[string]string{f.tenant: {"WEBHOOK_URL": srv.URL}})
	testkit.Eventually(t, 5*time.Second, func() bool { return f.delivered(t, ids, f.tenant) }, "deliveries not all made")
	if reads := f.settingsReads.Load(); reads > 2 || e.count() != n {
		t.Fatalf("%d deliveries made with %d reads of the settings, want %d in one or two leases", e.count(), reads, n)
	}
}

// Leases and outcomes find deliveries by index, also with plans made while
// the table was small and without statistics: a scan of the whole table at
// every lease would cost more with every delivery ever made.
func TestDeliveriesFoundByIndex(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	made := func(n int) {
		t.Helper()
		if _, err := f.pool.Exec(ctx, `INSERT INTO webhook_deliveries (event_id, recipient_tenant_id, event_type, attempts, status_code, delivered_at)
			SELECT gen_random_uuid(), $1, 'incoming_payment.created', 1, 200, now() FROM generate_series(1, $2)`, f.tenant, n); err != nil {
			t.Fatal(err)
		}
	}
	// Deliveries made before, and no statistics yet, as in a new
	// installation's first minute.
	rounds := f.deliverRounds(t, func() { made(300) })
	// Enough rounds for Postgres to keep generic plans; then the table
	// grows.
	rounds(8)
	made(20000)
	before := testkit.SeqScans(t, f.pool, "webhook_deliveries")
	rounds(4)
	if after := testkit.SeqScans(t, f.pool, "webhook_deliveries"); after != before {
		t.Fatalf("%d scans of the whole deliveries table for 4 rounds of 10 deliveries", after-before)
	}
}

// deliverRounds runs a dispatcher delivering the fixture tenant's webhooks
// to an endpoint that answers 200, on a deliveries table no vacuum visits,
// once before has run; rounds delivers n rounds of ten events at once
// (leases and outcomes of ten, which a plan would rather join by scanning
// a small table).
func (f *fixture) deliverRounds(t *testing.T, before func()) (rounds func(n int)) {
	t.Helper()
	srv := httptest.NewServer(&endpoint{statuses: []int{200}})
	t.Cleanup(srv.Close)
	if _, err := f.pool.Exec(context.Background(), `ALTER TABLE webhook_deliveries SET (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	before()
	f.run(t, webhooks.Config{MaxRetry: 3, Slots: 32, PerRecipient: 32, PerUnprovenRecipient: 32},
		map[string]map[string]string{f.tenant: {"WEBHOOK_URL": srv.URL}})
	return func(n int) {
		t.Helper()
		for range n {
			ids := f.events(t, f.tenant, 10)
			testkit.Eventually(t, 5*time.Second, func() bool { return f.delivered(t, ids, f.tenant) }, "a round not delivered")
		}
	}
}

// A lease's cost does not grow with the deliveries made before: their
// entries stay in the indexes until a vacuum (none runs here, as none may
// run for a while on a busy table), and a lease that reads them reads more
// at every delivery.
func TestLeaseReadsNoDeliveriesMadeBefore(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rounds := f.deliverRounds(t, func() {})
	// The statements are planned while the table is small, as in a new
	// installation; then 20,000 deliveries of the recipient are made and
	// delivered, whose entries in the indexes are dead, not removed.
	rounds(8)
	conn, err := f.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO webhook_deliveries (event_id, recipient_tenant_id, event_type, process_at)
		SELECT gen_random_uuid(), $1, 'incoming_payment.created', now() - interval '1 minute' FROM generate_series(1, 20000)`, f.tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE webhook_deliveries SET process_at = NULL, attempts = 1, status_code = 200, delivered_at = now()
		WHERE process_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	// The index blocks the insert read are counted before the rounds, not
	// in them: a busy connection's counts may otherwise reach the shared
	// statistics later than the wait for them.
	if _, err := conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	const index = "webhook_deliveries_recipient_due"
	before := testkit.IndexBlocks(t, f.pool, index)
	rounds(4)
	// Each delivery writes its entries (made, leased), a few blocks each.
	read := testkit.IndexBlocks(t, f.pool, index) - before
	if read > 400 {
		t.Fatalf("%d blocks of %s read to deliver 40 webhooks", read, index)
	}
	t.Logf("%d blocks of %s read to deliver 40 webhooks", read, index)
}

// A dispatcher that stops (or dies) during a request leaves the delivery
// leased; once the lease ends another dispatcher delivers it.
func TestDeliveryOutlivesItsDispatcher(t *testing.T) {
	f := newFixture(t)
	e := &endpoint{statuses: []int{200}, hold: make(chan struct{})}
	srv := httptest.NewServer(e)
	defer srv.Close()
	settings := map[string]map[string]string{f.tenant: {"WEBHOOK_URL": srv.URL}}
	id := f.event(t, f.tenant)
	stop := f.run(t, webhooks.Config{MaxRetry: 10}, settings)
	testkit.Eventually(t, 5*time.Second, func() bool { return e.count() == 1 }, "no request")
	stop()
	r, _ := f.delivery(t, id, f.tenant)
	if !r.pending || r.delivered || r.attempts != 1 {
		t.Fatalf("after the stop: %+v", r)
	}
	// The lease ends (here at once, rather than after its 30 s).
	if _, err := f.pool.Exec(context.Background(), `UPDATE webhook_deliveries SET process_at = now()`); err != nil {
		t.Fatal(err)
	}
	close(e.hold)
	f.run(t, webhooks.Config{MaxRetry: 10}, settings)
	testkit.Eventually(t, 5*time.Second, func() bool {
		r, _ := f.delivery(t, id, f.tenant)
		return r.delivered
	}, "not delivered after the restart")
	if r, _ := f.delivery(t, id, f.tenant); r.attempts != 2 || e.count() != 2 {
		t.Fatalf("%+v after %d requests", r, e.count())
	}
}

// Every event is delivered to its tenant, and a copy to the operator when
// it asks for copies; the operator's own events once. A read model rebuilt
// from another stream is swept again from its start, and the events it
// held already are not delivered twice.
func TestRecipients(t *testing.T) {
	for _, toOperator := range []bool{false, true} {
		t.Run(fmt.Sprint("copies to the operator: ", toOperator), func(t *testing.T) {
			f := newFixture(t)
			e := &endpoint{statuses: []int{200}}
			srv := httptest.NewServer(e)
			defer srv.Close()
			operator := uuid.NewString()
			settings := map[string]map[string]string{f.tenant: {"WEBHOOK_URL": srv.URL}, operator: {"WEBHOOK_URL": srv.URL}}
			tenants, operators := f.event(t, f.tenant), f.event(t, operator)
			f.run(t, webhooks.Config{MaxRetry: 10, OperatorTenantID: operator, SendToOperator: toOperator}, settings)
			want, copies := 2, 1
			if toOperator {
				want, copies = 3, 2
			}
			testkit.Eventually(t, 5*time.Second, func() bool { return e.count() == want }, "%d requests, want %d", e.count(), want)
			if _, ok := f.delivery(t, tenants, operator); ok != toOperator {
				t.Fatalf("operator's copy of a tenant's event: %v", ok)
			}
			if _, ok := f.delivery(t, operators, operator); !ok {
				t.Fatal("the operator's own event not delivered")
			}
			// The read model is rebuilt from a new stream, where its
			// sequences start again, and swapped in with the checkpoint in
			// one transaction, as a replay does.
			fresh := uuid.NewString()
			if _, err := f.pool.Exec(context.Background(), `BEGIN;
				UPDATE projection_checkpoints SET stream_created_unix_nanos = 2 WHERE name = 'webhooks';
				UPDATE rm_webhooks.webhook_events SET sequence = sequence + 100;
				INSERT INTO rm_webhooks.webhook_events (id, tenant_id, type, data, created_at, sequence)
					VALUES ('`+fresh+`', '`+f.tenant+`', 'incoming_payment.created', '{}', now(), 1);
				COMMIT`); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, 5*time.Second, func() bool { return e.count() == want+copies }, "the new stream's event not delivered")
			time.Sleep(100 * time.Millisecond)
			if n := e.count(); n != want+copies {
				t.Fatalf("%d requests after the rebuild, want %d", n, want+copies)
			}
			if _, ok := f.delivery(t, fresh, f.tenant); !ok {
				t.Fatal("no delivery of the new stream's event")
			}
		})
	}
}

// BenchmarkDelivery delivers b.N events to one local receiver and to as
// many recipients as slots, from one dispatcher, and reports the CPU time
// they took.
func BenchmarkDelivery(b *testing.B) {
	for _, recipients := range []int{1, 32} {
		b.Run(fmt.Sprintf("recipients=%d", recipients), func(b *testing.B) {
			f := newFixture(b)
			e := &endpoint{statuses: []int{200}}
			srv := httptest.NewServer(e)
			defer srv.Close()
			settings := map[string]map[string]string{}
			var tenants []string
			for range recipients {
				id := uuid.NewString()
				tenants = append(tenants, id)
				settings[id] = map[string]string{"WEBHOOK_URL": srv.URL}
			}
			if _, err := f.pool.Exec(context.Background(), `INSERT INTO rm_webhooks.webhook_events (id, tenant_id, type, data, created_at, sequence)
				SELECT gen_random_uuid(), ($2::uuid[])[1 + i % cardinality($2::uuid[])], 'incoming_payment.created', '{"id":"p"}', now(), i
				FROM generate_series(1, $1) i`, b.N, tenants); err != nil {
				b.Fatal(err)
			}
			cpu := testkit.SampleCPU(b, f.pool)
			b.ResetTimer()
			f.run(b, webhooks.Config{MaxRetry: 10, Slots: 32, PerRecipient: 16, PerUnprovenRecipient: 4}, settings)
			for e.count() < b.N {
				time.Sleep(5 * time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
			// What a delivery costs, whatever else the machine runs: this
			// process (the dispatcher and the receiver) and Postgres.
			process, postgres := testkit.SampleCPU(b, f.pool).Used(cpu)
			b.ReportMetric(float64(process.Microseconds())/float64(b.N), "process-µs/webhook")
			b.ReportMetric(float64(postgres.Microseconds())/float64(b.N), "postgres-µs/webhook")
		})
	}
}

// BenchmarkDeliveryBesideTimeout delivers b.N events to one tenant's local
// receiver alone, and b.N while another tenant's endpoint takes every
// request and never answers (each attempt times out after 1 s and is made
// again at once), in four phases each, from a dispatcher as the worker's,
// and reports both rates and their ratio.
func BenchmarkDeliveryBesideTimeout(b *testing.B) {
	f := newFixture(b)
	e := &endpoint{statuses: []int{200}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	dead := neverAnswers(b)
	other := uuid.NewString()
	settings := map[string]map[string]string{f.tenant: {"WEBHOOK_URL": srv.URL},
		other: {"WEBHOOK_URL": dead.URL, "WEBHOOK_TIMEOUT": "1000"}}
	cfg := webhooks.Config{MaxRetry: 1000, Slots: 32, PerRecipient: 16, PerUnprovenRecipient: 4, RetryStep: time.Millisecond}
	add := func(tenant string, n int) {
		if _, err := f.pool.Exec(context.Background(), `INSERT INTO rm_webhooks.webhook_events (id, tenant_id, type, data, created_at, sequence)
			SELECT gen_random_uuid(), $2, 'incoming_payment.created', '{"id":"p"}', now(), $3 + i FROM generate_series(1, $1) i`,
			n, tenant, f.seq); err != nil {
			b.Fatal(err)
		}
		f.seq += int64(n)
	}
	per := max(b.N/4, 1)
	took := map[bool]time.Duration{}
	process, postgres := map[bool]time.Duration{}, map[bool]time.Duration{}
	// backlog is how many of the endpoint's deliveries are due while it
	// times out: as many as a tenant's endpoint down for a while leaves.
	const backlog = 20_000
	// The timing-out endpoint's deliveries are made once, before the
	// timing, and made due again at the start of each phase beside it: a
	// phase measures the endpoint holding its slots, not the sweep of
	// another tenant's new events.
	add(other, backlog)
	stop := f.run(b, cfg, settings)
	testkit.Eventually(b, 30*time.Second, func() bool {
		var n int
		err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries WHERE recipient_tenant_id = $1`, other).Scan(&n)
		return err == nil && n == backlog
	}, "the timing-out endpoint's deliveries were not made")
	stop()
	due := func(at string) {
		if _, err := f.pool.Exec(context.Background(), `UPDATE webhook_deliveries SET process_at = `+at+` WHERE recipient_tenant_id = $1`,
			other); err != nil {
			b.Fatal(err)
		}
	}
	phase := func(withDead bool) {
		want := e.count() + per
		add(f.tenant, per)
		due("NULL")
		if withDead {
			due("now()")
		}
		cpu := testkit.SampleCPU(b, f.pool)
		start := time.Now()
		stop := f.run(b, cfg, settings)
		for e.count() < want {
			time.Sleep(5 * time.Millisecond)
		}
		took[withDead] += time.Since(start)
		p, pg := testkit.SampleCPU(b, f.pool).Used(cpu)
		process[withDead] += p
		postgres[withDead] += pg
		stop()
	}
	// Short phases, alone and beside in turn (ABBA BAAB): a later phase
	// finds more rows in the table, and the machine's other work comes and
	// goes; each kind gets as many early as late phases.
	b.ResetTimer()
	for _, withDead := range []bool{false, true, true, false, true, false, false, true} {
		phase(withDead)
	}
	b.StopTimer()
	n := float64(4 * per)
	alone, beside := n/took[false].Seconds(), n/took[true].Seconds()
	b.ReportMetric(alone, "alone-webhooks/s")
	b.ReportMetric(beside, "beside-webhooks/s")
	b.ReportMetric(beside/alone, "ratio")
	// The CPU a delivery to the healthy receiver took, the timing-out
	// endpoint's share included when beside it.
	b.ReportMetric(float64((process[false]+postgres[false]).Microseconds())/n, "alone-cpu-µs/webhook")
	b.ReportMetric(float64((process[true]+postgres[true]).Microseconds())/n, "beside-cpu-µs/webhook")
}

// neverAnswers is an endpoint that takes every request and never answers.
func neverAnswers(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read to its end, the request's context ends when the client
		// gives up.
		_, _ = io.ReadAll(r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A recipient at its bound with a backlog of due deliveries (an endpoint
// that never answers) leaves the other recipients' deliveries going: the
// claims look past its backlog.
func TestBacklogOfARecipientAtItsBound(t *testing.T) {
	f := newFixture(t)
	e := &endpoint{statuses: []int{200}}
	srv := httptest.NewServer(e)
	defer srv.Close()
	dead := neverAnswers(t)
	other := uuid.NewString()
	for range 300 {
		f.event(t, other)
	}
	settings := map[string]map[string]string{f.tenant: {"WEBHOOK_URL": srv.URL},
		other: {"WEBHOOK_URL": dead.URL, "WEBHOOK_TIMEOUT": "5000"}}
	stop := f.run(t, webhooks.Config{MaxRetry: 100, Slots: 8, PerRecipient: 4, PerUnprovenRecipient: 2}, settings)
	defer stop()
	// The endpoint's first deliveries hold its slots from now on.
	testkit.Eventually(t, 10*time.Second, func() bool {
		var n int
		err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries WHERE recipient_tenant_id = $1 AND attempts > 0`,
			other).Scan(&n)
		return err == nil && n == 2
	}, "the endpoint's deliveries did not start")
	for range 50 {
		f.event(t, f.tenant)
	}
	testkit.Eventually(t, 4*time.Second, func() bool { return e.count() == 50 },
		"the other recipient got %d of its 50 webhooks beside the backlog", e.count())
}

// A recipient may have PerUnprovenRecipient deliveries under way until an
// attempt succeeds, PerRecipient from then on, and PerUnprovenRecipient
// again once an attempt failed.
func TestUnprovenRecipientHoldsFewSlots(t *testing.T) {
	f := newFixture(t)
	// The endpoint holds every request until the client gives up (200 ms),
	// but answers 200 after 30 ms in [400 ms, 900 ms).
	var mu sync.Mutex
	var now int
	start := time.Now()
	windows := []struct{ from, to time.Duration }{{0, 400 * time.Millisecond}, {800 * time.Millisecond, 900 * time.Millisecond},
		{1400 * time.Millisecond, 1800 * time.Millisecond}}
	peaks := make([]int, len(windows))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read to its end, the request's context ends when the client
		// gives up.
		_, _ = io.ReadAll(r.Body)
		since := time.Since(start)
		mu.Lock()
		now++
		for i, win := range windows {
			if since >= win.from && since < win.to {
				peaks[i] = max(peaks[i], now)
			}
		}
		mu.Unlock()
		defer func() {
			mu.Lock()
			now--
			mu.Unlock()
		}()
		if since >= 400*time.Millisecond && since < 900*time.Millisecond {
			time.Sleep(30 * time.Millisecond)
			w.WriteHeader(http.StatusOK)
			return
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	for range 400 {
		f.event(t, f.tenant)
	}
	start = time.Now()
	stop := f.run(t, webhooks.Config{MaxRetry: 100, Slots: 8, PerRecipient: 6, PerUnprovenRecipient: 2, RetryStep: time.Millisecond},
		map[string]map[string]string{f.tenant: {"WEBHOOK_URL": srv.URL, "WEBHOOK_TIMEOUT": "200"}})
	time.Sleep(1800 * time.Millisecond)
	stop()
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(peaks) != "[2 6 2]" {
		t.Fatalf("requests at once: %v before a success, once answered, once failing again; want [2 6 2]", peaks)
	}
}

func TestStuck(t *testing.T) {
	now := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	ago := func(s int) time.Time { return now.Add(-time.Duration(s) * time.Second) }
	for _, c := range []struct {
		name   string
		status webhooks.Status
		stuck  string // a part of the answer, "" for none
	}{
		{"not started", webhooks.Status{}, ""},
		{"going round", webhooks.Status{Started: ago(60), Looped: ago(1)}, ""},
		{"just started", webhooks.Status{Started: ago(1)}, ""},
		{"failing a while", webhooks.Status{Started: ago(60), Looped: ago(0), FailingSince: ago(5), Error: "boom"}, ""},
		{"failing too long", webhooks.Status{Started: ago(60), Looped: ago(0), FailingSince: ago(10), Error: "boom"}, "failed for 10s: boom"},
		{"loop hung", webhooks.Status{Started: ago(60), Looped: ago(11)}, "has not gone round for 11s"},
		{"never went round", webhooks.Status{Started: ago(12)}, "has not gone round for 12s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.status.Stuck(now)
			if (c.stuck == "") != (got == "") || !strings.Contains(got, c.stuck) {
				t.Fatalf("stuck %q, want %q", got, c.stuck)
			}
		})
	}
}

// A dispatcher whose database is gone says so in its status, and counts
// its deliveries under way.
func TestStatusTellsFailures(t *testing.T) {
	f := newFixture(t)
	e := &endpoint{statuses: []int{200}, hold: make(chan struct{})}
	srv := httptest.NewServer(e)
	defer srv.Close()
	defer close(e.hold)
	f.event(t, f.tenant)
	d := webhooks.New(f.pool, webhooks.Config{MaxRetry: 3, Idle: 10 * time.Millisecond}, func(context.Context, string) (map[string]string, error) {
		return map[string]string{"WEBHOOK_URL": srv.URL}, nil
	}, http.DefaultClient, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	testkit.Eventually(t, 5*time.Second, func() bool { return e.count() == 1 }, "no request")
	if s := d.Status(); s.InFlight != 1 || s.Recipients != 1 || !s.FailingSince.IsZero() || s.Stuck(time.Now()) != "" {
		t.Fatalf("delivering: %+v", s)
	}
	f.pool.Close()
	testkit.Eventually(t, 5*time.Second, func() bool { return !d.Status().FailingSince.IsZero() }, "no failure told")
	if s := d.Status(); s.Error == "" || s.Stuck(time.Now().Add(11*time.Second)) == "" {
		t.Fatalf("failing: %+v", s)
	}
}
