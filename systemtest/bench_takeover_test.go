package systemtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/secrets"
	"github.com/rafiki-go/rafiki/testkit"
)

// The load and the target of BenchmarkLeaderKill.
const (
	killRate = 2_000 // wallet address events/s
	// Load before each kill, and after it until the killed worker is started
	// again as a standby.
	killBefore = 5 * time.Second
	killAfter  = 15 * time.Second
	// Load before the first measured window: the system settles.
	killWarmup = 3 * time.Second
	// Operations under way at once at most; an operation due while this
	// many are under way waits, and is counted as started late.
	killInFlightMax = 4_000
	// The load creates until killUpdateAfter wallet addresses exist, then
	// alternates, until killCreatesMax exist; then it only updates.
	killUpdateAfter = 1_000
	killCreatesMax  = 100_000
	// The share of operations that may fail (a lost race of two updates of
	// one wallet address, retried a bounded number of times, say).
	killFailedMax = 0.001

	// A stretch of lag over the target that begins this long after the
	// survivor took the lease is no longer the kill's (see summarize).
	killCatchUpSlack = 500 * time.Millisecond

	killLagTarget      = 50 * time.Millisecond
	killRecoveryTarget = 10 * time.Second
	killProjection     = "wallet_addresses"
)

// BenchmarkLeaderKill runs `rafiki backend` and two `rafiki worker`s on a
// nats-server process and a fresh database, under a paced load of killRate
// wallet address events per second (half creates, half updates of wallet
// addresses created before), and SIGKILLs the worker that holds the wallet
// address projection's lease (found through pg_locks): once per iteration,
// killBefore and a random fraction of a second into it (a standby tries to
// take the lease once a second), after which the load goes on for
// killAfter and the killed worker is started again, to stand by.
//
// The lag of an event is from its stream timestamp (set by the server as it
// stores the event) to the moment the benchmark receives the checkpoint
// notification (pg_notify, sent as the read-model transaction commits) of a
// checkpoint at or past it. The lag at a moment is the time since the
// oldest event stored by then and not yet visible. Per kill it reports when
// the lag was back under killLagTarget after the stretch the kill caused,
// when it was under it for good (to the end of the window, killAfter after
// the kill: a later stretch of the machine's own counts too), and the
// largest lag; and, before the kills, the lag of the undisturbed system.
//
// The load goes through the domain handlers straight to the stream, as the
// backend's resolvers call them ("direct"), or as signed
// createWalletAddress/updateWalletAddress calls to the backend ("http"),
// which also waits for its read model before it answers.
//
//	go test -run '^$' -bench 'LeaderKill/direct' -benchtime 3x ./systemtest/
func BenchmarkLeaderKill(b *testing.B) {
	b.Run("direct", func(b *testing.B) { benchLeaderKill(b, false) })
	b.Run("http", func(b *testing.B) { benchLeaderKill(b, true) })
}

func benchLeaderKill(b *testing.B, overHTTP bool) {
	g := newRig(b)
	natsURL, _ := g.natsServer("nats")
	r := g.rafiki(b.TempDir(), g.freshDatabase(), uuid.NewString(), "operator-"+uuid.NewString(), map[string]string{"NATS_URL": natsURL})
	r.ApplyStreams(b)
	backend := g.run(r, "backend", nil, "backend")
	awaitReady(b, backend, 90*time.Second)
	workers := map[string]*Process{}
	startWorker := func(name string) {
		w := g.run(r, name, map[string]string{"DATABASE_URL": withParam(r.DatabaseURL, "application_name", name)}, "worker")
		awaitReady(b, w, 60*time.Second)
		workers[name] = w
	}
	startWorker("worker-1")
	startWorker("worker-2")
	pool := testkit.Pool(b, r.DatabaseURL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	js, closeConn, err := jetStreamAt(natsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer closeConn()
	store, err := eventstore.Open(ctx, js, app.EventsStream)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	keys, err := secrets.New(js, app.KeysStream, testkit.EventSecretsKey)
	if err != nil {
		b.Fatal(err)
	}
	l := newKillLoad(b, r, store, keys, overHTTP)
	stream, err := js.Stream(ctx, app.EventsStream)
	if err != nil {
		b.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	firstSeq := info.State.LastSeq + 1

	visible := &checkpointLog{}
	listening := make(chan error, 1)
	listenCtx, stopListening := context.WithCancel(context.Background())
	defer stopListening()
	go visible.listen(listenCtx, r.DatabaseURL, listening)
	if err := <-listening; err != nil {
		b.Fatal(err)
	}

	loadDone := make(chan struct{})
	go func() {
		l.run(ctx)
		close(loadDone)
	}()
	time.Sleep(killWarmup)
	var kills []killRecord
	b.ResetTimer()
	for i := range b.N {
		// A standby tries to take the lease once a second; the kill falls
		// anywhere in that second, not always just before its next try.
		time.Sleep(killBefore + rand.N(time.Second))
		k := killRecord{load: loadAverage()}
		holders, err := leaseHolders(ctx, pool)
		if err != nil {
			b.Fatal(err)
		}
		k.leases = holders
		k.victim = holders[killProjection]
		if workers[k.victim] == nil {
			b.Fatalf("no worker holds the lease of %s: %v", killProjection, holders)
		}
		k.at = time.Now()
		workers[k.victim].Kill()
		for {
			holders, err := leaseHolders(ctx, pool)
			if err != nil {
				b.Fatal(err)
			}
			if h := holders[killProjection]; h != "" && h != k.victim {
				k.takenOver, k.survivor = time.Now(), h
				break
			}
			if time.Since(k.at) > killAfter {
				b.Fatalf("kill %d: nobody took the lease of %s within %s", i+1, killProjection, killAfter)
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(killAfter - time.Since(k.at))
		k.restarted = time.Now()
		startWorker(k.victim)
		k.restartReady = time.Now()
		kills = append(kills, k)
	}
	b.StopTimer()
	time.Sleep(killBefore) // the last window's events settle
	cancel()
	<-loadDone
	if t := l.timeline(); t != "" {
		b.Logf("seconds of the load with failed or slow operations (kills at %s):\n%s", killTimes(kills), t)
	}
	l.check(b)

	catchUp := context.Background()
	last, err := stream.GetLastMsgForSubject(catchUp, "events.*.wallet_address.>")
	if err != nil {
		b.Fatal(err)
	}
	if err := visible.await(last.Sequence, time.Minute); err != nil {
		var checkpoint int64
		cerr := pool.QueryRow(catchUp, `SELECT sequence FROM projection_checkpoints WHERE name = $1`, killProjection).Scan(&checkpoint)
		var consumer any
		if c, err := js.Consumer(catchUp, app.EventsStream, "projection_"+killProjection); err == nil {
			consumer = c.CachedInfo()
		}
		b.Fatalf("%v; projection_checkpoints holds %d (%v); consumer %+v", err, checkpoint, cerr, consumer)
	}
	stored, err := storedAt(catchUp, js, firstSeq, last.Sequence)
	if err != nil {
		b.Fatal(err)
	}
	lags := visible.lags(stored)
	var caughtUp, recoveries, maxLags []float64
	for i, k := range kills {
		s := k.summarize(lags)
		b.Logf("kill %d (load average %s, %s held %v): %s", i+1, k.load, k.victim, k.leases, s)
		caughtUp = append(caughtUp, s.caughtUp.Seconds())
		recoveries = append(recoveries, s.recovery.Seconds())
		maxLags = append(maxLags, ms(s.maxLag))
	}
	b.Logf("seconds with a lag of %s or more:\n%s", killLagTarget, lagTimeline(lags, kills))
	steady := steadyLags(lags, kills)
	late := 0
	for _, lag := range steady {
		if lag >= ms(killLagTarget) {
			late++
		}
	}
	b.Logf("offered %s; lag before the kills (events stored in the %s before one and visible before it): p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d of %d at %s or more",
		l.summary(), killBefore, percentile(steady, 0.5), percentile(steady, 0.99), slices.Max(steady), late, len(steady), killLagTarget)
	b.ReportMetric(meanOf(caughtUp), "caught-up-s")
	b.ReportMetric(slices.Max(recoveries), "recovery-max-s")
	b.ReportMetric(meanOf(recoveries), "recovery-s")
	b.ReportMetric(slices.Max(maxLags), "lag-max-ms")
	b.ReportMetric(percentile(steady, 0.99), "steady-lag-p99-ms")
}

func killTimes(kills []killRecord) string {
	var out []string
	for _, k := range kills {
		out = append(out, k.at.Format("15:04:05.000"))
	}
	return strings.Join(out, ", ")
}

func meanOf(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile of sorted values, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// killRecord is one kill of the projection's leader.
type killRecord struct {
	load      string
	leases    map[string]string // projection → worker, before the kill
	victim    string
	survivor  string
	at        time.Time // SIGKILL sent
	takenOver time.Time // the survivor was seen holding the lease
	// The killed worker was started again, and said it was ready.
	restarted, restartReady time.Time
}

type killSummary struct {
	takeover time.Duration
	// From the kill to the end of the stretch of lag at or over
	// killLagTarget that the kill caused; 0 when the lag stayed under it.
	caughtUp time.Duration
	// From the kill until the lag stayed under killLagTarget to the end
	// of the window (killAfter after the kill).
	recovery time.Duration
	maxLag   time.Duration
	late     int // events of the window whose lag reached killLagTarget
	// Of those, the ones stored after the lag was back under the target.
	lateAfter int
	events    int
}

func (s killSummary) String() string {
	return fmt.Sprintf("lease taken over after %s; lag back under %s after %s, and for good (to the end of the window) after %s (target %s); "+
		"max lag %s; %d of %d events stored in the window had a lag of %s or more, %d of them stored after the lag was back under it",
		s.takeover.Round(time.Millisecond), killLagTarget, s.caughtUp.Round(time.Millisecond), s.recovery.Round(time.Millisecond),
		killRecoveryTarget, s.maxLag.Round(time.Millisecond), s.late, s.events, killLagTarget, s.lateAfter)
}

// summarize looks at the events stored from the kill to killAfter after
// it, and at those stored before it that were still not visible then.
//
// The lag at a moment t is t minus the stored time of the oldest event
// stored by then and not yet visible (0 when there is none). It is at or
// over killLagTarget exactly during [stored+killLagTarget, visible) of each
// event whose own lag reached killLagTarget; the last such visible is when
// it fell under the target for good.
func (k killRecord) summarize(lags []eventLag) killSummary {
	s := killSummary{takeover: k.takenOver.Sub(k.at)}
	end := k.at.Add(killAfter)
	type span struct{ from, to time.Time }
	var spans []span
	for _, e := range lags {
		if !e.stored.Before(end) || (e.stored.Before(k.at) && !e.visible.After(k.at)) {
			continue
		}
		s.events++
		lag := e.visible.Sub(e.stored)
		s.maxLag = max(s.maxLag, lag)
		if lag >= killLagTarget {
			s.late++
			s.recovery = max(s.recovery, e.visible.Sub(k.at))
			spans = append(spans, span{e.stored.Add(killLagTarget), e.visible})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	var merged []span
	for _, sp := range spans {
		if n := len(merged); n > 0 && !sp.from.After(merged[n-1].to) {
			merged[n-1].to = later(merged[n-1].to, sp.to)
			continue
		}
		merged = append(merged, sp)
	}
	// The kill's stretch: the first to end after the kill that began by
	// the time the survivor had worked off the events the kill held up.
	for _, sp := range merged {
		if sp.to.After(k.at) && !sp.from.After(k.takenOver.Add(killCatchUpSlack)) {
			s.caughtUp = sp.to.Sub(k.at)
			break
		}
	}
	caughtUp := k.at.Add(s.caughtUp)
	for _, e := range lags {
		if e.stored.After(caughtUp) && e.stored.Before(end) && e.visible.Sub(e.stored) >= killLagTarget {
			s.lateAfter++
		}
	}
	return s
}

// lagTimeline is one line per second in which an event stored then had a
// lag of killLagTarget or more, with the kills and restarts.
func lagTimeline(lags []eventLag, kills []killRecord) string {
	type second struct {
		events, late int
		maxLag       time.Duration
	}
	seconds := map[int64]*second{}
	for _, e := range lags {
		t := e.stored.Unix()
		if seconds[t] == nil {
			seconds[t] = &second{}
		}
		sec := seconds[t]
		sec.events++
		lag := e.visible.Sub(e.stored)
		sec.maxLag = max(sec.maxLag, lag)
		if lag >= killLagTarget {
			sec.late++
		}
	}
	marks := map[int64][]string{}
	for i, k := range kills {
		marks[k.at.Unix()] = append(marks[k.at.Unix()], fmt.Sprintf("kill %d at %s", i+1, k.at.Format("05.000")))
		marks[k.takenOver.Unix()] = append(marks[k.takenOver.Unix()], fmt.Sprintf("lease taken over at %s", k.takenOver.Format("05.000")))
		marks[k.restarted.Unix()] = append(marks[k.restarted.Unix()], fmt.Sprintf("%s started again at %s", k.victim, k.restarted.Format("05.000")))
		marks[k.restartReady.Unix()] = append(marks[k.restartReady.Unix()], fmt.Sprintf("ready at %s", k.restartReady.Format("05.000")))
	}
	var keys []int64
	for t, sec := range seconds {
		if sec.late > 0 || marks[t] != nil {
			keys = append(keys, t)
		}
	}
	slices.Sort(keys)
	var lines []string
	for _, t := range keys {
		sec := seconds[t]
		lines = append(lines, fmt.Sprintf("  %s: %d of %d events at %s or more, max %s %s", time.Unix(t, 0).UTC().Format("15:04:05"),
			sec.late, sec.events, killLagTarget, sec.maxLag.Round(time.Millisecond), strings.Join(marks[t], ", ")))
	}
	return strings.Join(lines, "\n")
}

// steadyLags are the lags, sorted, in milliseconds, of the events stored
// in the killBefore before each kill and visible before it: the lag with
// both workers running.
func steadyLags(lags []eventLag, kills []killRecord) []float64 {
	var out []float64
	for _, e := range lags {
		for _, k := range kills {
			if !e.stored.Before(k.at.Add(-killBefore)) && e.visible.Before(k.at) {
				out = append(out, ms(e.visible.Sub(e.stored)))
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkpointLog records when each advance of the projection's checkpoint
// was notified.
type checkpointLog struct {
	mu       sync.Mutex
	advances []advance
	err      error // why the listener stopped before its end
}

type advance struct {
	seq uint64
	at  time.Time
}

// listen follows the checkpoint notifications on a connection of its own
// until ctx ends; ready gets nil once it listens.
func (c *checkpointLog) listen(ctx context.Context, databaseURL string, ready chan<- error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		ready <- err
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN rafiki_projection_checkpoint"); err != nil {
		ready <- err
		return
	}
	ready <- nil
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
			}
			return
		}
		at := time.Now()
		name, seqText, _ := strings.Cut(n.Payload, ":")
		seq, err := strconv.ParseUint(seqText, 10, 64)
		if name != killProjection || err != nil {
			continue
		}
		c.mu.Lock()
		if len(c.advances) == 0 || seq > c.advances[len(c.advances)-1].seq {
			c.advances = append(c.advances, advance{seq, at})
		}
		c.mu.Unlock()
	}
}

// await waits until the checkpoint has passed seq.
func (c *checkpointLog) await(seq uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		n := len(c.advances)
		var last uint64
		if n > 0 {
			last = c.advances[n-1].seq
		}
		c.mu.Unlock()
		if last >= seq {
			return nil
		}
		if time.Now().After(deadline) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return fmt.Errorf("checkpoint of %s notified at %d, not past %d after %s (listener stopped: %v)", killProjection, last, seq, timeout, c.err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type eventLag struct {
	seq             uint64
	stored, visible time.Time
}

// lags pairs every stored event with the first notified checkpoint at or
// past it.
func (c *checkpointLog) lags(stored map[uint64]time.Time) []eventLag {
	c.mu.Lock()
	advs := slices.Clone(c.advances)
	c.mu.Unlock()
	out := make([]eventLag, 0, len(stored))
	for seq, at := range stored {
		j := sort.Search(len(advs), func(j int) bool { return advs[j].seq >= seq })
		if j < len(advs) {
			out = append(out, eventLag{seq, at, advs[j].at})
		}
	}
	slices.SortFunc(out, func(a, b eventLag) int { return a.stored.Compare(b.stored) })
	return out
}

// storedAt reads the stream timestamp of every wallet address event from
// first to last.
func storedAt(ctx context.Context, js jetstream.JetStream, first, last uint64) (map[uint64]time.Time, error) {
	cons, err := js.OrderedConsumer(ctx, app.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"events.*.wallet_address.>"}, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: first,
	})
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, err
	}
	defer it.Stop()
	out := map[uint64]time.Time{}
	for {
		msg, err := it.Next()
		if err != nil {
			return nil, err
		}
		meta, err := msg.Metadata()
		if err != nil {
			return nil, err
		}
		out[meta.Sequence.Stream] = meta.Timestamp
		if meta.Sequence.Stream >= last {
			return out, nil
		}
	}
}

// loadSecond is what happened to the operations started in one second.
type loadSecond struct {
	ops, failed int
	maxTook     time.Duration
}

// killLoad offers killRate wallet address operations per second, open
// loop: each starts at its time whether or not earlier ones finished.
type killLoad struct {
	tb     testing.TB
	create func(ctx context.Context, k int) (id string, err error)
	update func(ctx context.Context, k int, id string) error

	mu      sync.Mutex
	created []string
	updates int
	ops     int
	failed  int
	begin   time.Time
	seconds []loadSecond
	late    int // started more than 10 ms after their time
	errs    map[string]int
	elapsed time.Duration
}

func newKillLoad(b *testing.B, r *Rafiki, store *eventstore.Store, keys *secrets.Keyring, overHTTP bool) *killLoad {
	b.Helper()
	ctx := context.Background()
	operator := commands.Actor{TenantID: r.TenantID, Operator: true}
	meta := func(id string) commands.Meta { return commands.Meta{ID: id, Actor: operator} }
	run := uuid.NewString()
	tenantID, _, err := tenant.NewHandler(handlers.SealSecrets(store, keys), r.TenantID, "test.rafiki", "").Create(ctx, commands.CreateTenant{Meta: meta("tenant-" + run),
		APISecret: "secret-" + run, PublicName: "Load",
		Settings: []events.Setting{{Key: tenant.SettingWalletAddressURL, Value: "https://load.wallet.example"}}})
	if err != nil {
		b.Fatal(err)
	}
	assetID, _, err := asset.NewHandler(store, func(context.Context, string) (bool, error) { return false, nil }).
		Create(ctx, commands.CreateAsset{Meta: meta("asset-" + run), TenantID: tenantID, Code: "USD", Scale: 2})
	if err != nil {
		b.Fatal(err)
	}
	l := &killLoad{tb: b, errs: map[string]int{}}
	address := func(k int) string { return fmt.Sprintf("https://load.wallet.example/%s/%d", run, k) }
	if !overHTTP {
		wallets := walletaddress.NewHandler(store, "https://wallet.example")
		l.create = func(ctx context.Context, k int) (string, error) {
			id, _, err := wallets.Create(ctx, commands.CreateWalletAddress{Meta: meta(fmt.Sprintf("create-%s-%d", run, k)),
				TenantID: tenantID, AssetID: assetID, Address: address(k), PublicName: fmt.Sprintf("User %d", k)})
			return id, err
		}
		l.update = func(ctx context.Context, k int, id string) error {
			name := fmt.Sprintf("Update %d", k)
			_, err := wallets.Update(ctx, commands.UpdateWalletAddress{Meta: meta(fmt.Sprintf("update-%s-%d", run, k)),
				WalletAddressID: id, PublicName: &name})
			return err
		}
		return l
	}
	// The backend waits for the read model before it answers, past the
	// kill too, so calls pile up while the lease changes hands.
	op := &adminclient.Client{URL: r.AdminURL(), TenantID: r.TenantID, Secret: r.Secret,
		HTTP: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: killInFlightMax}}}
	l.create = func(ctx context.Context, k int) (string, error) {
		var out struct {
			CreateWalletAddress struct{ WalletAddress struct{ ID string } } `json:"createWalletAddress"`
		}
		err := op.Do(ctx, `mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id } } }`,
			map[string]any{"input": map[string]any{"tenantId": tenantID, "assetId": assetID, "address": address(k), "publicName": fmt.Sprintf("User %d", k)}}, &out)
		return out.CreateWalletAddress.WalletAddress.ID, err
	}
	l.update = func(ctx context.Context, k int, id string) error {
		return op.Do(ctx, `mutation($input: UpdateWalletAddressInput!) { updateWalletAddress(input: $input) { walletAddress { id } } }`,
			map[string]any{"input": map[string]any{"id": id, "publicName": fmt.Sprintf("Update %d", k)}}, nil)
	}
	return l
}

// run offers the load until ctx ends, then waits for the operations under
// way.
func (l *killLoad) run(ctx context.Context) {
	interval := time.Second / killRate
	slots := make(chan struct{}, killInFlightMax)
	var wg sync.WaitGroup
	begin := time.Now()
	l.mu.Lock()
	l.begin = begin
	l.mu.Unlock()
	var k int
	for ; ctx.Err() == nil; k++ {
		due := begin.Add(time.Duration(k) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		if time.Since(due) > 10*time.Millisecond {
			l.mu.Lock()
			l.late++
			l.mu.Unlock()
		}
		op := k
		wg.Go(func() {
			defer func() { <-slots }()
			l.op(op)
		})
	}
	elapsed := time.Since(begin)
	wg.Wait()
	l.mu.Lock()
	l.ops, l.elapsed = k, elapsed
	l.mu.Unlock()
}

// op k creates a wallet address when k is even (until killCreatesMax) or
// when fewer than killUpdateAfter exist, and otherwise updates the next
// one created before, in turn, so that two updates of one wallet address
// seldom race. Operations run on a context of their own: the load's end
// does not cut them short.
func (l *killLoad) op(k int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l.mu.Lock()
	n := len(l.created)
	var target string
	if n >= killUpdateAfter && (k%2 == 1 || n >= killCreatesMax) {
		target = l.created[l.updates%n]
		l.updates++
	}
	l.mu.Unlock()
	started := time.Now()
	var err error
	defer func() { l.record(started, time.Since(started), err != nil) }()
	if target == "" {
		var id string
		id, err = l.create(ctx, k)
		if err == nil {
			l.mu.Lock()
			l.created = append(l.created, id)
			l.mu.Unlock()
		}
	} else {
		err = l.update(ctx, k, target)
	}
	if err != nil {
		msg := numbers.ReplaceAllString(ids.ReplaceAllString(err.Error(), "<id>"), "N")
		l.mu.Lock()
		l.errs[msg]++
		l.failed++
		l.mu.Unlock()
	}
}

// record adds an operation to the second of the load it started in.
func (l *killLoad) record(started time.Time, took time.Duration, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := int(started.Sub(l.begin) / time.Second)
	for len(l.seconds) <= i {
		l.seconds = append(l.seconds, loadSecond{})
	}
	sec := &l.seconds[i]
	sec.ops++
	sec.maxTook = max(sec.maxTook, took)
	if failed {
		sec.failed++
	}
}

// timeline is one line per second of the load that had a failure or an
// operation slower than a second: how writers fared.
func (l *killLoad) timeline() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lines []string
	for i, sec := range l.seconds {
		if sec.failed > 0 || sec.maxTook > time.Second {
			lines = append(lines, fmt.Sprintf("  %s +%ds: %d operations started, %d failed, slowest %s",
				l.begin.Add(time.Duration(i)*time.Second).Format("15:04:05"), i, sec.ops, sec.failed, sec.maxTook.Round(time.Millisecond)))
		}
	}
	return strings.Join(lines, "\n")
}

// ids are taken out of error messages to group them.
var ids = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// check fails the benchmark when more than killFailedMax of the
// operations failed: the load offered was then not the one intended.
func (l *killLoad) check(b *testing.B) {
	b.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if float64(l.failed) > killFailedMax*float64(l.ops) {
		b.Fatalf("%d of %d operations failed: %v", l.failed, l.ops, l.errs)
	}
}

func (l *killLoad) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d operations in %s (%.0f/s), %d started more than 10 ms late, %d failed %v", l.ops, l.elapsed.Round(time.Millisecond),
		float64(l.ops)/l.elapsed.Seconds(), l.late, l.failed, l.errs)
}
