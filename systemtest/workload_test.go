package systemtest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	rafiki "github.com/rafiki-go/rafiki"
	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/streams"
)

type walletAddress struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Asset   struct {
		ID string `json:"id"`
	} `json:"asset"`
}

// startDev starts rafiki dev and waits until it is ready.
func startDev(t testing.TB, r *Rafiki) *Process {
	t.Helper()
	dev := r.Start("dev", nil, "dev")
	r.WaitReady(t, dev, 90*time.Second)
	return dev
}

// operatorWithAsset is the operator's client, each call bounded by
// timeout, and a USD asset to create wallet addresses under.
func operatorWithAsset(t testing.TB, r *Rafiki, timeout time.Duration) (*adminclient.Client, string) {
	t.Helper()
	op := r.Operator(timeout)
	assetID, err := createAsset(context.Background(), op, "USD", 2)
	if err != nil {
		t.Fatalf("createAsset: %v", err)
	}
	return op, assetID
}

func createAsset(ctx context.Context, c *adminclient.Client, code string, scale int) (string, error) {
	var out struct {
		CreateAsset struct{ Asset struct{ ID string } } `json:"createAsset"`
	}
	err := c.Do(ctx, `mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id } } }`,
		map[string]any{"input": map[string]any{"code": code, "scale": scale}}, &out)
	return out.CreateAsset.Asset.ID, err
}

func createWalletAddress(ctx context.Context, c *adminclient.Client, assetID, address, idempotencyKey string) (walletAddress, error) {
	var out struct {
		CreateWalletAddress struct{ WalletAddress walletAddress } `json:"createWalletAddress"`
	}
	input := map[string]any{"assetId": assetID, "address": address, "publicName": "system " + address}
	if idempotencyKey != "" {
		input["idempotencyKey"] = idempotencyKey
	}
	err := c.Do(ctx, `mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id address asset { id } } } }`,
		map[string]any{"input": input}, &out)
	if err == nil && out.CreateWalletAddress.WalletAddress.ID == "" {
		err = errors.New("createWalletAddress answered no wallet address")
	}
	return out.CreateWalletAddress.WalletAddress, err
}

func walletAddressByURL(ctx context.Context, c *adminclient.Client, url string) (*walletAddress, error) {
	var out struct {
		WalletAddressByURL *walletAddress `json:"walletAddressByUrl"`
	}
	err := c.Do(ctx, `query($url: String!) { walletAddressByUrl(url: $url) { id address asset { id } } }`,
		map[string]any{"url": url}, &out)
	return out.WalletAddressByURL, err
}

// probe fails the test unless the service answers a signed query within
// timeout; when it does not, the process's goroutines are dumped while a
// query waits.
func probe(t testing.TB, p *Process, c *adminclient.Client, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	if err := listQuery(ctx, c); err != nil {
		p.DumpDuring(func(ctx context.Context) { _ = listQuery(ctx, c) })
		t.Fatalf("%s answered no signed query within %s (%v); goroutines in %s", p.Name, time.Since(start).Round(time.Millisecond), err, p.LogPath)
	}
}

// listQuery is a cheap signed query.
func listQuery(ctx context.Context, c *adminclient.Client) error {
	return c.Do(ctx, `{ walletAddresses(first: 1) { edges { node { id } } } }`, nil, nil)
}

// call is one createWalletAddress of a burst.
type call struct {
	Path  string
	Key   string
	Acked bool // answered 200 with no errors
	ID    string
	Err   error
	Took  time.Duration
	At    time.Time // when it was sent
}

// burst is n createWalletAddress calls made by a number of concurrent
// clients, each with its own idempotency key.
type burst struct {
	calls []*call
	acked atomic.Int64
	ended atomic.Int64
	done  chan struct{}
}

// startBurst sends the calls in the background; paths are /<prefix>-<i>.
func startBurst(c *adminclient.Client, assetID, prefix string, n, clients int) *burst {
	b := &burst{done: make(chan struct{})}
	for i := range n {
		b.calls = append(b.calls, &call{Path: fmt.Sprintf("/%s-%d", prefix, i), Key: uuid.NewString()})
	}
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				cl := b.calls[i]
				cl.At = time.Now()
				wa, err := createWalletAddress(context.Background(), c, assetID, cl.Path, cl.Key)
				cl.Took = time.Since(cl.At)
				cl.Err = err
				if err == nil {
					cl.Acked, cl.ID = true, wa.ID
					b.acked.Add(1)
				}
				b.ended.Add(1)
			}
		})
	}
	go func() {
		wg.Wait()
		close(b.done)
	}()
	return b
}

// waitAcked waits until at least k calls were acknowledged.
func (b *burst) waitAcked(t testing.TB, k int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for b.acked.Load() < int64(k) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d calls of the burst acknowledged within %s; %s", b.acked.Load(), timeout, b.summary())
		}
		select {
		case <-b.done:
			t.Fatalf("the burst ended with %d acknowledged, fewer than %d; %s", b.acked.Load(), k, b.summary())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// wait waits for every call to end.
func (b *burst) wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(timeout):
		t.Fatalf("the burst did not end within %s: %d of %d calls ended", timeout, b.ended.Load(), len(b.calls))
	}
}

func (b *burst) acknowledged() []*call {
	var out []*call
	for _, c := range b.calls {
		if c.Acked {
			out = append(out, c)
		}
	}
	return out
}

// summary counts the calls by outcome, with the slowest call and a few
// distinct errors.
func (b *burst) summary() string {
	errs := map[string]int{}
	var slowest time.Duration
	acked := 0
	for _, c := range b.calls {
		slowest = max(slowest, c.Took)
		if c.Acked {
			acked++
		} else if c.Err != nil {
			msg := numbers.ReplaceAllString(c.Err.Error(), "N")
			if len(msg) > 160 {
				msg = msg[:160]
			}
			errs[msg]++
		}
	}
	var lines []string
	for msg, n := range errs {
		lines = append(lines, fmt.Sprintf("%d× %s", n, msg))
	}
	sort.Strings(lines)
	if len(lines) > 8 {
		lines = append(lines[:8], fmt.Sprintf("… %d more kinds", len(lines)-8))
	}
	return fmt.Sprintf("%d calls, %d acknowledged, slowest %s; errors: [%s]", len(b.calls), acked, slowest.Round(time.Millisecond), strings.Join(lines, "; "))
}

// numbers are taken out of error messages to group them: ports differ.
var numbers = regexp.MustCompile(`[0-9]+`)

// forEach runs f on every call, eight at a time, and returns the errors;
// after ten errors it starts no more.
func forEach(calls []*call, f func(*call) error) []error {
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, c := range calls {
		mu.Lock()
		failed := len(errs)
		mu.Unlock()
		if failed >= 10 {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(c); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs
}

func failErrors(t testing.TB, what string, errs []error) {
	t.Helper()
	if len(errs) == 0 {
		return
	}
	msgs := make([]string, 0, min(len(errs), 10))
	for _, err := range errs[:min(len(errs), 10)] {
		msgs = append(msgs, err.Error())
	}
	t.Fatalf("%s: %d failures (checking stops after ten):\n%s", what, len(errs), strings.Join(msgs, "\n"))
}

// checkAcknowledged fails the test unless every acknowledged call's wallet
// address is there, with the id the call answered.
func checkAcknowledged(t testing.TB, c *adminclient.Client, base string, calls []*call) {
	t.Helper()
	errs := forEach(calls, func(cl *call) error {
		if !cl.Acked {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		wa, err := walletAddressByURL(ctx, c, base+cl.Path)
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", cl.Path, err)
		case wa == nil:
			return fmt.Errorf("%s was acknowledged as %s and is not there", cl.Path, cl.ID)
		case wa.ID != cl.ID:
			return fmt.Errorf("%s was acknowledged as %s and is there as %s", cl.Path, cl.ID, wa.ID)
		}
		return nil
	})
	failErrors(t, "acknowledged wallet addresses", errs)
}

// retryUnacknowledged sends every call that was not acknowledged again,
// with its idempotency key: each must now succeed, with the wallet address
// of its path, and the one stored already if the first attempt stored it,
// as it must have when it was answered TIMEOUT.
// It returns how many calls it retried and how many of those had been
// stored by their first attempt.
func retryUnacknowledged(t testing.TB, c *adminclient.Client, assetID, base string, calls []*call) (retried, stored int) {
	t.Helper()
	var retries, found atomic.Int64
	errs := forEach(calls, func(cl *call) error {
		if cl.Acked {
			return nil
		}
		retries.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		before, err := walletAddressByURL(ctx, c, base+cl.Path)
		if err != nil {
			return fmt.Errorf("%s before its retry: %w", cl.Path, err)
		}
		wa, err := createWalletAddress(ctx, c, assetID, cl.Path, cl.Key)
		// The lock a crashed request took on its key lasts
		// GRAPHQL_IDEMPOTENCY_KEY_LOCK_MS (2 s); until then a retry is
		// told that the request is still running, and tries again later.
		for concurrentRequest(err) && ctx.Err() == nil {
			time.Sleep(250 * time.Millisecond)
			wa, err = createWalletAddress(ctx, c, assetID, cl.Path, cl.Key)
		}
		switch {
		case err != nil:
			return fmt.Errorf("retry of %s (first: %v): %w", cl.Path, cl.Err, err)
		case !strings.EqualFold(wa.Address, base+cl.Path):
			return fmt.Errorf("retry of %s answered %s", cl.Path, wa.Address)
		case before != nil && before.ID != wa.ID:
			return fmt.Errorf("retry of %s answered %s, the first attempt stored %s", cl.Path, wa.ID, before.ID)
		case before == nil && errorCode(cl.Err) == "TIMEOUT":
			return fmt.Errorf("%s was answered TIMEOUT, which says the change was stored, and was not there: %v", cl.Path, cl.Err)
		}
		if before != nil {
			found.Add(1)
		}
		cl.Acked, cl.ID = true, wa.ID
		return nil
	})
	failErrors(t, "retries with the same idempotency key", errs)
	return int(retries.Load()), int(found.Load())
}

// concurrentRequest reports whether err is the answer to a request whose
// idempotency key is locked by another request under way.
func concurrentRequest(err error) bool {
	var errs adminclient.Errors
	return errors.As(err, &errs) && errs[0].Code() == "CONFLICT" && strings.Contains(errs[0].Message, "Concurrent request")
}

// checkNoDuplicates fails the test unless the read model and the event
// stream hold one wallet address per path of the burst: one row, one
// aggregate subject with exactly one event (the calls only create).
func checkNoDuplicates(t testing.TB, pool *pgxpool.Pool, js jetstream.JetStream, base, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	var rows, urls int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT lower(address)) FROM rm_wallet_addresses.wallet_addresses WHERE address LIKE $1`,
		base+"/"+prefix+"-%").Scan(&rows, &urls); err != nil {
		t.Fatal(err)
	}
	if rows != n || urls != n {
		t.Fatalf("read model holds %d wallet addresses with %d distinct URLs for %d paths", rows, urls, n)
	}
	var ids []string
	r, err := pool.Query(ctx, `SELECT id::text FROM rm_wallet_addresses.wallet_addresses WHERE address LIKE $1`, base+"/"+prefix+"-%")
	if err != nil {
		t.Fatal(err)
	}
	if ids, err = pgx.CollectRows(r, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, app.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter("events.*.wallet_address.>"))
	if err != nil {
		t.Fatal(err)
	}
	perID := map[string]uint64{}
	for subject, count := range info.State.Subjects {
		perID[subject[strings.LastIndex(subject, ".")+1:]] += count
	}
	for _, id := range ids {
		if perID[id] != 1 {
			t.Fatalf("wallet address %s has %d events, want 1 (created)", id, perID[id])
		}
	}
}

// projectionNames are the read models the services keep.
func projectionNames() []string {
	var names []string
	for _, p := range app.Projections(nil) {
		names = append(names, p.Name())
	}
	return names
}

// waitCaughtUp waits until every projection's checkpoint has reached the
// last event of its consumer's filter.
func waitCaughtUp(t testing.TB, pool *pgxpool.Pool, js jetstream.JetStream, timeout time.Duration) {
	t.Helper()
	decl, err := streams.Parse(rafiki.StreamsYAML)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stream, err := js.Stream(ctx, app.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range app.Projections(nil) {
		consumer, ok := decl.Consumer(projections.ConsumerName(p))
		if !ok || len(consumer.FilterSubjects) != 1 {
			t.Fatalf("streams.yaml declares no consumer %s with one filter", projections.ConsumerName(p))
		}
		var last uint64
		msg, err := stream.GetLastMsgForSubject(ctx, consumer.FilterSubjects[0])
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			t.Fatalf("last event of %s: %v", p.Name(), err)
		default:
			last = msg.Sequence
		}
		deadline := time.Now().Add(timeout)
		for {
			var seq int64
			err := pool.QueryRow(ctx, `SELECT sequence FROM projection_checkpoints WHERE name = $1`, p.Name()).Scan(&seq)
			if err == nil && uint64(seq) >= last {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("projection %s at %d (%v), its last event is %d, after %s", p.Name(), seq, err, last, timeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// dumpReadModels reads every row of every read model table, as text,
// sorted.
func dumpReadModels(t testing.TB, pool *pgxpool.Pool) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	for _, name := range projectionNames() {
		schema := "rm_" + name
		rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, schema)
		if err != nil {
			t.Fatal(err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if len(tables) == 0 {
			t.Fatalf("read model %s has no tables", schema)
		}
		for _, table := range tables {
			qualified := pgx.Identifier{schema, table}.Sanitize()
			var dump []string
			if err := pool.QueryRow(ctx, `SELECT coalesce(array_agg(t::text ORDER BY t::text), '{}') FROM `+qualified+` t`).Scan(&dump); err != nil {
				t.Fatal(err)
			}
			out[schema+"."+table] = dump
		}
	}
	return out
}

// compareDumps fails the test unless both dumps hold the same rows.
func compareDumps(t testing.TB, live, replayed map[string][]string) {
	t.Helper()
	var problems []string
	var tables []string
	for table := range live {
		tables = append(tables, table)
	}
	for table := range replayed {
		if _, ok := live[table]; !ok {
			tables = append(tables, table)
		}
	}
	sort.Strings(tables)
	for _, table := range tables {
		a, b := live[table], replayed[table]
		if slices.Equal(a, b) {
			continue
		}
		onlyLive, onlyReplay := difference(a, b), difference(b, a)
		problems = append(problems, fmt.Sprintf("%s: live %d rows, replay %d rows; only live (%d): %s; only replay (%d): %s",
			table, len(a), len(b), len(onlyLive), firstFew(onlyLive), len(onlyReplay), firstFew(onlyReplay)))
	}
	if len(problems) > 0 {
		t.Fatalf("read models differ from a full replay:\n%s", strings.Join(problems, "\n"))
	}
}

func difference(a, b []string) []string {
	in := map[string]int{}
	for _, s := range b {
		in[s]++
	}
	var out []string
	for _, s := range a {
		if in[s] > 0 {
			in[s]--
			continue
		}
		out = append(out, s)
	}
	return out
}

func firstFew(rows []string) string {
	if len(rows) > 3 {
		return strings.Join(rows[:3], " | ") + " | …"
	}
	return strings.Join(rows, " | ")
}

// replayAll rebuilds every read model with the binary's own tool. The
// services should be stopped, so that nothing moves meanwhile.
func replayAll(t testing.TB, r *Rafiki) {
	t.Helper()
	for _, name := range projectionNames() {
		out, err := r.Run(2*time.Minute, "replay", name)
		if err != nil || !strings.Contains(out, "replayed "+name) {
			t.Fatalf("rafiki replay %s: %v\n%s", name, err, out)
		}
	}
}

// checkpoints are the sequences in projection_checkpoints, by projection.
func checkpoints(t testing.TB, pool *pgxpool.Pool) map[string]int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT name, sequence FROM projection_checkpoints`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	var name string
	var seq int64
	if _, err := pgx.ForEachRow(rows, []any{&name, &seq}, func() error {
		out[name] = seq
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// schemaOIDs identify the read models' schemas: a rebuild swaps a fresh
// schema in, under the same name but another oid.
func schemaOIDs(t testing.TB, pool *pgxpool.Pool) map[string]uint32 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT nspname, oid FROM pg_namespace WHERE nspname LIKE 'rm\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint32{}
	var name string
	var oid uint32
	if _, err := pgx.ForEachRow(rows, []any{&name, &oid}, func() error {
		out[name] = oid
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// leaseKey is the advisory lock a projection's leader holds, as the
// projections package computes it.
func leaseKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("rafiki.projection." + name))
	return int64(h.Sum64()) ^ 0x5a5a5a5a
}

// leaders names, for each projection whose lease is held, the
// application_name of the connection holding it. Advisory locks of other
// databases on the same server (other tests') are not ours.
func leaders(t testing.TB, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range projectionNames() {
		key := uint64(leaseKey(name))
		var holder string
		err := pool.QueryRow(context.Background(), `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
			int64(key>>32), int64(key&0xffffffff)).Scan(&holder)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			t.Fatal(err)
		default:
			out[name] = holder
		}
	}
	return out
}

// checkAfterOutage checks what an outage during burst b (its calls named
// prefix) left: 50 more calls all succeed, every acknowledged call is
// there, the others resolve when retried with their idempotency keys,
// nothing is duplicated, and once dev stops every read model equals a full
// replay. when says when the 50 calls ran, for messages; beforeReplay, when
// set, runs once dev has stopped.
func checkAfterOutage(t testing.TB, r *Rafiki, dev *Process, op *adminclient.Client, assetID string, b *burst, prefix string,
	js jetstream.JetStream, when string, beforeReplay func()) {
	t.Helper()
	after := startBurst(op, assetID, "after", 50, 10)
	after.wait(t, time.Minute)
	if n := len(after.acknowledged()); n != 50 {
		t.Fatalf("%s %d of 50 calls succeeded: %s", when, n, after.summary())
	}
	base := r.OpenPaymentsURL()
	checkAcknowledged(t, op, base, b.calls)
	retried, stored := retryUnacknowledged(t, op, assetID, base, b.calls)
	t.Logf("%d acknowledged and all found %s; %d retried with their idempotency keys, of which %d had been stored",
		len(b.acknowledged()), when, retried, stored)
	pool := r.Pool(t)
	waitCaughtUp(t, pool, js, 30*time.Second)
	checkNoDuplicates(t, pool, js, base, prefix, len(b.calls))
	checkNoDuplicates(t, pool, js, base, "after", 50)
	live := dumpReadModels(t, pool)
	if err := dev.Stop(syscall.SIGTERM, 20*time.Second); err != nil {
		t.Fatalf("dev after SIGTERM: %v", err)
	}
	if beforeReplay != nil {
		beforeReplay()
	}
	replayAll(t, r)
	compareDumps(t, live, dumpReadModels(t, pool))
}
