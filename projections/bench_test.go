package projections_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/secrets"
	"github.com/rafiki-go/rafiki/testkit"
)

// The stream the throughput benchmarks project: benchTenants tenants, each
// created (with the three settings the tenant handler gives a new tenant)
// and then updated benchUpdates times, as the handlers would write them:
// 20,000 × (1 + 4) = 100,000 events.
const (
	benchTenants = 20_000
	benchUpdates = 4
	// Messages published before waiting for their acks while pre-loading.
	benchPublishWindow = 2_000
)

// benchTenantID is the id of the i-th benchmark tenant.
func benchTenantID(i int) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "rafiki:bench:tenant:%d", i)).String()
}

// benchCreated is what the tenant handler decides for a new tenant.
func benchCreated(id string) *events.TenantCreated {
	return &events.TenantCreated{
		APISecret: "secret", PublicName: "tenant",
		Settings: []events.Setting{
			{Key: tenant.SettingWebhookTimeout, Value: "2000"},
			{Key: tenant.SettingWebhookMaxRetry, Value: "10"},
			{Key: tenant.SettingILPAddress, Value: "test.rafiki." + id},
		},
	}
}

// benchMessage seals one tenant event the way handlers.Execute does, its
// secrets sealed with keys, with the envelope time at.
func benchMessage(keys *secrets.Keyring, id, commandID string, version uint64, at time.Time, ev events.Event) eventstore.Message {
	ev, err := keys.SealEvent(context.Background(), tenant.AggregateType, id, ev)
	if err != nil {
		panic(err)
	}
	meta := events.Meta{AggregateType: tenant.AggregateType, AggregateID: id, TenantID: id, CausationID: commandID, Time: at}
	subject, err := tenant.Subject(id)
	if err != nil {
		panic(err) // ids here are made with uuid
	}
	msgs, err := handlers.Messages(subject, version, meta, commandID, 0, ev)
	if err != nil {
		panic(err) // only a type that does not marshal fails here
	}
	return msgs[0]
}

// benchPreload publishes the benchmark stream straight to JetStream with
// async publishes (no expected-sequence checks: nothing can conflict). All
// creates go first, then each round of updates, so that every update follows
// its tenant's create. It returns the stream's last sequence and the number
// of events.
func benchPreload(b *testing.B, n *testkit.NATS) (uint64, int) {
	b.Helper()
	ctx := context.Background()
	js, err := jetstream.New(n.Conn, jetstream.WithPublishAsyncMaxPending(2*benchPublishWindow))
	if err != nil {
		b.Fatal(err)
	}
	keys := testkit.Keyring(b, n.JS)
	start := time.Now()
	var pending []jetstream.PubAckFuture
	flush := func() {
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(time.Minute):
			b.Fatal("pre-load: publishes not acknowledged after a minute")
		}
		for _, f := range pending {
			select {
			case err := <-f.Err():
				b.Fatalf("pre-load: %v", err)
			default:
			}
		}
		pending = pending[:0]
	}
	publish := func(m eventstore.Message) {
		msg := nats.NewMsg(m.Subject)
		msg.Data = m.Data
		msg.Header.Set(jetstream.MsgIDHeader, m.MsgID)
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			b.Fatalf("pre-load: %v", err)
		}
		pending = append(pending, f)
		if len(pending) == benchPublishWindow {
			flush()
		}
	}
	for i := range benchTenants {
		id := benchTenantID(i)
		publish(benchMessage(keys, id, fmt.Sprintf("create-%d", i), 0, time.Now(), benchCreated(id)))
	}
	flush()
	for u := range benchUpdates {
		name := fmt.Sprintf("name-%d", u)
		for i := range benchTenants {
			publish(benchMessage(keys, benchTenantID(i), fmt.Sprintf("update-%d-%d", i, u), 0, time.Now(), &events.TenantUpdated{PublicName: &name}))
		}
		flush()
	}
	stream, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		b.Fatal(err)
	}
	last := stream.CachedInfo().State.LastSeq
	total := benchTenants * (1 + benchUpdates)
	if last != uint64(total) {
		b.Fatalf("pre-load: stream ends at %d, want %d", last, total)
	}
	b.Logf("pre-loaded %d events in %s", total, time.Since(start).Round(time.Millisecond))
	return last, total
}

// benchDatabase makes a fresh database with the backend migrations.
func benchDatabase(b *testing.B) *pgxpool.Pool {
	b.Helper()
	url := testkit.NewDatabase(b)
	if err := migrations.Up(url); err != nil {
		b.Fatal(err)
	}
	return testkit.Pool(b, url)
}

// benchCheckTenants checks that the read model holds every tenant at its
// last update.
func benchCheckTenants(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	var rows, settings int
	err := pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM rm_tenants.tenants WHERE public_name = $1),
		        (SELECT count(*) FROM rm_tenants.tenant_settings)`,
		fmt.Sprintf("name-%d", benchUpdates-1)).Scan(&rows, &settings)
	if err != nil {
		b.Fatal(err)
	}
	if rows != benchTenants || settings != 3*benchTenants {
		b.Fatalf("read model has %d tenants at their last update and %d settings, want %d and %d",
			rows, settings, benchTenants, 3*benchTenants)
	}
}

// reportCPU reports the CPU time per event used over all iterations.
func reportCPU(b *testing.B, from, to []testkit.CPU, events int) {
	var process, postgres time.Duration
	for i := range from {
		p, pg := to[i].Used(from[i])
		process, postgres = process+p, postgres+pg
	}
	perEvent := func(d time.Duration) float64 {
		return float64(d) / float64(time.Microsecond) / float64(events*len(from))
	}
	b.ReportMetric(perEvent(process), "go-cpu-µs/event")
	b.ReportMetric(perEvent(postgres), "pg-cpu-µs/event")
}

// BenchmarkProjectionApply: a Runner for the tenants projection catches up
// on 100,000 pre-loaded events; timed from the runner's start until the
// Waiter sees the checkpoint at the stream's last sequence. Each iteration
// uses a fresh database, so the runner starts from sequence 1.
func BenchmarkProjectionApply(b *testing.B) {
	n := testkit.StartNATS(b, false)
	last, total := benchPreload(b, n)
	log := slog.New(slog.DiscardHandler)
	var elapsed time.Duration
	var cpuFrom, cpuTo []testkit.CPU
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		pool := benchDatabase(b)
		ctx, cancel := context.WithCancel(context.Background())
		if err := projections.Prepare(ctx, pool, projections.Tenants{}); err != nil {
			b.Fatal(err)
		}
		waiter := projections.NewWaiter(pool, log)
		go waiter.Run(ctx)
		runner := projections.NewRunner(pool, n.JS, "EVENTS", projections.Tenants{Secrets: testkit.Keyring(b, n.JS)}, log)
		var done sync.WaitGroup
		cpuFrom = append(cpuFrom, testkit.SampleCPU(b, pool))
		b.StartTimer()
		start := time.Now()
		done.Go(func() { _ = runner.Run(ctx) })
		if err := waiter.Wait(ctx, "tenants", last, 2*time.Minute); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		cpuTo = append(cpuTo, testkit.SampleCPU(b, pool))
		cancel()
		done.Wait()
		benchCheckTenants(b, pool)
	}
	b.ReportMetric(float64(total*b.N)/elapsed.Seconds(), "events/s")
	reportCPU(b, cpuFrom, cpuTo, total)
}

// BenchmarkReplay: projections.Replay rebuilds the tenants projection from
// 100,000 pre-loaded events into a fresh schema and swaps it in; timed
// around the Replay call, in a fresh database each iteration.
func BenchmarkReplay(b *testing.B) {
	n := testkit.StartNATS(b, false)
	last, total := benchPreload(b, n)
	var elapsed time.Duration
	var cpuFrom, cpuTo []testkit.CPU
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		pool := benchDatabase(b)
		ctx := context.Background()
		if err := projections.Prepare(ctx, pool, projections.Tenants{}); err != nil {
			b.Fatal(err)
		}
		cpuFrom = append(cpuFrom, testkit.SampleCPU(b, pool))
		b.StartTimer()
		start := time.Now()
		got, err := projections.Replay(ctx, pool, n.JS, "EVENTS", projections.Tenants{Secrets: testkit.Keyring(b, n.JS)}, "events.*.tenant.>", nil)
		elapsed += time.Since(start)
		b.StopTimer()
		cpuTo = append(cpuTo, testkit.SampleCPU(b, pool))
		if err != nil {
			b.Fatal(err)
		}
		if got != last {
			b.Fatalf("replay checkpoint %d, want %d", got, last)
		}
		benchCheckTenants(b, pool)
	}
	b.ReportMetric(float64(total*b.N)/elapsed.Seconds(), "events/s")
	reportCPU(b, cpuFrom, cpuTo, total)
}

// Offered load of BenchmarkProjectionLag.
const (
	lagRate     = 2_000 // events/s
	lagDuration = 10 * time.Second
	lagWarmup   = time.Second // appended at the same rate, not recorded
)

// BenchmarkProjectionLag: a paced writer appends one tenant.created per
// command through eventstore.Store at lagRate (open loop: each append starts
// at its scheduled time in its own goroutine, whether or not earlier ones
// finished), against the embedded server in SyncAlways mode. "Visible" is
// when the Waiter first sees the tenants checkpoint at or past an event's
// sequence, after the read-model transaction commits. Per event it reports:
//   - lag: from the time the stream stored the event (the message's stream
//     timestamp, taken by the server as it stores it, before its fsync) to
//     visible: the projection lag the target is about;
//   - end-to-end: from the envelope's Time (set just before Append) to
//     visible, which adds the writer's wait for its turn to be stored;
//   - the append alone (envelope time to ack) and ack to visible.
func BenchmarkProjectionLag(b *testing.B) {
	n := testkit.StartNATS(b, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(store.Close)
	pool := benchDatabase(b)
	log := slog.New(slog.DiscardHandler)
	keys := testkit.Keyring(b, n.JS)
	if err := projections.Prepare(ctx, pool, projections.Tenants{}); err != nil {
		b.Fatal(err)
	}
	waiter := projections.NewWaiter(pool, log)
	go waiter.Run(ctx)
	go projections.NewRunner(pool, n.JS, "EVENTS", projections.Tenants{Secrets: keys}, log).Run(ctx)

	// The observer records every advance of the checkpoint the Waiter sees.
	type advance struct {
		seq uint64
		at  time.Time
	}
	var advMu sync.Mutex
	var advances []advance
	go func() {
		var seen uint64
		for ctx.Err() == nil {
			if err := waiter.Wait(ctx, "tenants", seen+1, time.Hour); err != nil {
				return
			}
			at := time.Now()
			seen = waiter.Applied("tenants")
			advMu.Lock()
			advances = append(advances, advance{seen, at})
			advMu.Unlock()
		}
	}()

	type sample struct {
		seq        uint64
		start, ack time.Time
		record     bool
	}
	var lat, storedLat, appendLat, afterAck []float64
	var next int
	b.ResetTimer()
	for range b.N {
		var mu sync.Mutex
		var samples []sample
		var wg sync.WaitGroup
		interval := time.Second / lagRate
		total := int((lagWarmup + lagDuration) / interval)
		begin := time.Now()
		for i := range total {
			if d := time.Until(begin.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			k := next
			next++
			record := time.Duration(i)*interval >= lagWarmup
			wg.Go(func() {
				id := benchTenantID(1_000_000 + k)
				start := time.Now() // the envelope's Time
				m := benchMessage(keys, id, fmt.Sprintf("lag-%d", k), 0, start, benchCreated(id))
				seqs, err := store.Append(ctx, []eventstore.Message{m})
				ack := time.Now()
				if err != nil {
					b.Errorf("append %d: %v", k, err)
					return
				}
				mu.Lock()
				samples = append(samples, sample{seqs[0], start, ack, record})
				mu.Unlock()
			})
		}
		offered := time.Since(begin)
		wg.Wait()
		var lastSeq uint64
		for _, s := range samples {
			lastSeq = max(lastSeq, s.seq)
		}
		if err := waiter.Wait(ctx, "tenants", lastSeq, time.Minute); err != nil {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // let the observer record the last advance
		advMu.Lock()
		advs := slices.Clone(advances)
		advMu.Unlock()
		stored := storedTimes(ctx, b, n.JS, samples[0].seq, lastSeq)
		for _, s := range samples {
			if !s.record {
				continue
			}
			j := sort.Search(len(advs), func(j int) bool { return advs[j].seq >= s.seq })
			if j == len(advs) {
				b.Fatalf("no checkpoint advance observed past %d", s.seq)
			}
			lat = append(lat, ms(advs[j].at.Sub(s.start)))
			at, ok := stored[s.seq]
			if !ok {
				b.Fatalf("no stored time for sequence %d", s.seq)
			}
			storedLat = append(storedLat, ms(advs[j].at.Sub(at)))
			appendLat = append(appendLat, ms(s.ack.Sub(s.start)))
			afterAck = append(afterAck, ms(advs[j].at.Sub(s.ack)))
		}
		b.Logf("offered %d events in %s (%.0f events/s)", total, offered.Round(time.Millisecond), float64(total)/offered.Seconds())
	}
	b.StopTimer()
	slices.Sort(lat)
	slices.Sort(storedLat)
	slices.Sort(appendLat)
	slices.Sort(afterAck)
	b.ReportMetric(percentile(storedLat, 0.50), "lag-p50-ms")
	b.ReportMetric(percentile(storedLat, 0.99), "lag-p99-ms")
	b.ReportMetric(storedLat[len(storedLat)-1], "lag-max-ms")
	b.ReportMetric(percentile(lat, 0.50), "end-to-end-p50-ms")
	b.ReportMetric(percentile(lat, 0.99), "end-to-end-p99-ms")
	b.ReportMetric(lat[len(lat)-1], "end-to-end-max-ms")
	b.ReportMetric(percentile(appendLat, 0.50), "append-p50-ms")
	b.ReportMetric(percentile(appendLat, 0.99), "append-p99-ms")
	// From the ack to visible: what the projection adds (negative when the
	// read model had it before the writer got its ack).
	b.ReportMetric(percentile(afterAck, 0.50), "ack-to-visible-p50-ms")
	b.ReportMetric(percentile(afterAck, 0.99), "ack-to-visible-p99-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// storedTimes reads the stream timestamp of every tenant event from first
// to last, after the timed part.
func storedTimes(ctx context.Context, b *testing.B, js jetstream.JetStream, first, last uint64) map[uint64]time.Time {
	b.Helper()
	cons, err := js.OrderedConsumer(ctx, "EVENTS", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"events.*.tenant.>"}, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: first,
	})
	if err != nil {
		b.Fatal(err)
	}
	it, err := cons.Messages()
	if err != nil {
		b.Fatal(err)
	}
	defer it.Stop()
	out := make(map[uint64]time.Time, last-first+1)
	for {
		msg, err := it.Next()
		if err != nil {
			b.Fatal(err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			b.Fatal(err)
		}
		out[meta.Sequence.Stream] = meta.Timestamp
		if meta.Sequence.Stream >= last {
			return out
		}
	}
}

// percentile of sorted values, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
