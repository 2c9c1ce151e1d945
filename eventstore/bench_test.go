package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/testkit"
)

// benchCallersPerProc sets how many goroutines call Append at once:
// RunParallel starts benchCallersPerProc × GOMAXPROCS of them, 256 on the
// 2-core VM. Each stands for one API request that appends the events of one
// command and waits for the ack, so the store sees what a busy API server
// gives it: hundreds of small appends in flight, each on its own aggregate,
// which group commit has to fold into few fsyncs. A handful of callers would
// measure the round-trip latency instead, since each caller has at most one
// append outstanding.
const benchCallersPerProc = 128

// BenchmarkAppendSyncAlways: one event per append, every ack fsynced.
func BenchmarkAppendSyncAlways(b *testing.B) { benchmarkAppend(b, true, false) }

// BenchmarkAppendDefaultSync: one event per append, default sync interval.
func BenchmarkAppendDefaultSync(b *testing.B) { benchmarkAppend(b, false, false) }

// BenchmarkAppendSyncAlwaysWithClaim: an event plus a uniqueness claim on
// another subject per append (two messages, one atomic request).
func BenchmarkAppendSyncAlwaysWithClaim(b *testing.B) { benchmarkAppend(b, true, true) }

// BenchmarkAppendDefaultSyncWithClaim: as above with the default sync interval.
func BenchmarkAppendDefaultSyncWithClaim(b *testing.B) { benchmarkAppend(b, false, true) }

// benchmarkAppend runs b.N appends, each creating a new aggregate (expected
// sequence 0), so every append carries a concurrency check and none
// conflicts. events/s counts appended events (one per append); with a claim
// msgs/s counts both messages.
func benchmarkAppend(b *testing.B, syncAlways, withClaim bool) {
	n := testkit.StartNATS(b, syncAlways)
	ctx := context.Background()
	s, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)

	var next atomic.Int64
	var failed atomic.Int64
	b.SetParallelism(benchCallersPerProc)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, err := s.Append(ctx, benchMessages(i, withClaim)); err != nil {
				if failed.Add(1) == 1 {
					b.Errorf("append %d: %v", i, err)
				}
			}
		}
	})
	elapsed := b.Elapsed().Seconds()
	b.StopTimer()

	b.ReportMetric(float64(b.N)/elapsed, "events/s")
	perAppend := 1
	if withClaim {
		perAppend = 2
		b.ReportMetric(float64(2*b.N)/elapsed, "msgs/s")
	}
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d appends failed", f, b.N)
	}
	info, err := n.JS.Stream(ctx, "EVENTS")
	if err != nil {
		b.Fatal(err)
	}
	if got, want := info.CachedInfo().State.Msgs, uint64(perAppend*b.N); got != want {
		b.Fatalf("stream holds %d messages, want %d", got, want)
	}
}

// benchMessages builds the messages of the i-th append: an event of about
// 300 bytes shaped like a stored envelope and, optionally, a claim.
func benchMessages(i int64, withClaim bool) []eventstore.Message {
	commandID := fmt.Sprintf("bench-cmd-%d", i)
	aggregateID := events.DeriveID(commandID, 1000)
	subject := fmt.Sprintf("events.bench.test.%d", i)
	data := fmt.Appendf(nil, `{"id":%q,"type":"wallet_address.created","schemaVersion":1,`+
		`"aggregateType":"wallet_address","aggregateId":%q,"tenantId":"bench",`+
		`"time":%q,"causationId":%q,"data":{"url":"https://wallet.example/bench/%d","assetId":"usd"}}`,
		events.DeriveID(commandID, 0), aggregateID, time.Now().UTC().Format(time.RFC3339Nano), commandID, i)
	msgs := []eventstore.Message{{Subject: subject, MsgID: commandID + "/0", Data: data}}
	if withClaim {
		msgs = append(msgs, eventstore.Message{
			Subject: fmt.Sprintf("claims.bench.wallet_address_url.%d", i),
			MsgID:   commandID + "/claim",
			Data:    fmt.Appendf(nil, `{"aggregateId":%q}`, aggregateID),
		})
	}
	return msgs
}

// BenchmarkAppendSyncAlwaysWithConflicts: as BenchmarkAppendSyncAlways, but
// one append in 100 is a stale write to a hot aggregate (expected sequence 0
// on a subject that already has events) and fails with a conflict. The
// server refuses the whole batch such an append was grouped into, and every
// request of that group is then retried on its own, so this shows what a
// low conflict rate costs group commit. events/s counts the appends that
// succeeded.
func BenchmarkAppendSyncAlwaysWithConflicts(b *testing.B) {
	n := testkit.StartNATS(b, true)
	ctx := context.Background()
	s, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	const hot = "events.bench.test.hot"
	if _, err := s.Append(ctx, []eventstore.Message{{Subject: hot, MsgID: "hot-0", Data: []byte(`{}`)}}); err != nil {
		b.Fatal(err)
	}
	var next, conflicts, failed atomic.Int64
	b.SetParallelism(benchCallersPerProc)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			msgs := benchMessages(i, false)
			if i%100 == 0 {
				msgs[0].Subject = hot
			}
			_, err := s.Append(ctx, msgs)
			switch {
			case err == nil:
			case errors.Is(err, eventstore.ErrConflict) && i%100 == 0:
				conflicts.Add(1)
			default:
				if failed.Add(1) == 1 {
					b.Errorf("append %d: %v", i, err)
				}
			}
		}
	})
	elapsed := b.Elapsed().Seconds()
	b.StopTimer()
	b.ReportMetric(float64(b.N-int(conflicts.Load()))/elapsed, "events/s")
	b.ReportMetric(float64(conflicts.Load()), "conflicts")
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d appends failed", f, b.N)
	}
}

// BenchmarkLoad reads an aggregate of three events, as a command loads one.
func BenchmarkLoad(b *testing.B) {
	s := openStore(b, false)
	ctx := context.Background()
	var version uint64
	for i := range 3 {
		seqs, err := s.Append(ctx, []eventstore.Message{{Subject: "events.bench.test.a", MsgID: fmt.Sprint("load-", i),
			ExpectedSequence: version, Data: benchMessages(int64(i), false)[0].Data}})
		if err != nil {
			b.Fatal(err)
		}
		version = seqs[0]
	}
	b.ReportAllocs()
	for b.Loop() {
		if envs, _, err := s.Load(ctx, "events.bench.test.a"); err != nil || len(envs) != 3 {
			b.Fatalf("%d events, %v", len(envs), err)
		}
	}
}

// BenchmarkLastSequences reads the last sequences of two subjects in one
// request, as a payment's command reads its wallet address and asset.
func BenchmarkLastSequences(b *testing.B) {
	s := openStore(b, false)
	ctx := context.Background()
	subjects := []string{"events.bench.test.a", "events.bench.test.b"}
	for i, subject := range subjects {
		if _, err := s.Append(ctx, []eventstore.Message{{Subject: subject, MsgID: subject, Data: benchMessages(int64(i), false)[0].Data}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if last, err := s.LastSequences(ctx, subjects); err != nil || len(last) != 2 {
			b.Fatalf("%v, %v", last, err)
		}
	}
}
