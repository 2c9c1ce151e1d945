package eventstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/testkit"
)

// TestBrokerMemoryPerSubject measures what one aggregate subject costs the
// embedded broker in memory: it appends one small event to each of N
// distinct subjects events.<tenant>.wallet_address.<uuid>, and, as a
// baseline, the same N events to one subject, each into a fresh server
// (default sync, file store). The difference between the two is the cost of
// the per-subject indexes (the stream's subject index and the per-block
// subject state), not of the messages.
//
// Memory is read after a forced GC (HeapInuse, heap objects) and after
// returning free memory to the OS (RSS from /proc/self/status), before the
// stream is written and at several times after the last ack: at once, after
// the message-block cache expiry (10 s) and after the per-block subject state
// expiry (2 min), so both the transient and the lasting cost show.
//
// It is a measurement, not a check: it runs only with
// RAFIKI_MEASURE_BROKER_MEMORY=1. RAFIKI_BROKER_MEMORY_N sets N (1,000,000
// by default); RAFIKI_BROKER_MEMORY_SAMPLES sets the sample times (default
// "0s,15s,130s"). For example:
//
//	RAFIKI_MEASURE_BROKER_MEMORY=1 go test -run TestBrokerMemoryPerSubject -v -timeout 30m ./eventstore/
//
// Messages carry no Nats-Msg-Id, so the duplicate window holds nothing; the
// event store sets one per event, which adds an entry per message for the
// stream's duplicate_window (10 minutes) on top of what is measured here.
func TestBrokerMemoryPerSubject(t *testing.T) {
	if os.Getenv("RAFIKI_MEASURE_BROKER_MEMORY") != "1" {
		t.Skip("set RAFIKI_MEASURE_BROKER_MEMORY=1 to measure broker memory")
	}
	n := 1_000_000
	if v := os.Getenv("RAFIKI_BROKER_MEMORY_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("RAFIKI_BROKER_MEMORY_N=%q: want a positive integer", v)
		}
	}
	samples := []time.Duration{0, 15 * time.Second, 130 * time.Second}
	if v := os.Getenv("RAFIKI_BROKER_MEMORY_SAMPLES"); v != "" {
		samples = nil
		for f := range strings.SplitSeq(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(f))
			if err != nil {
				t.Fatalf("RAFIKI_BROKER_MEMORY_SAMPLES=%q: %v", v, err)
			}
			samples = append(samples, d)
		}
	}

	tenant := uuid.NewString()
	one := uuid.NewString()
	distinct := measureBrokerMemory(t, "distinct subjects", n, samples, func(int) string {
		return "events." + tenant + ".wallet_address." + uuid.NewString()
	})
	single := measureBrokerMemory(t, "one subject", n, samples, func(int) string {
		return "events." + tenant + ".wallet_address." + one
	})

	t.Logf("N = %d; bytes per subject = (distinct − one subject) / N", n)
	t.Logf("%-8s %28s %28s %28s", "after", "HeapInuse B/subject", "RSS B/subject", "heap objects/subject")
	for i, d := range samples {
		a, b := distinct[i], single[i]
		t.Logf("%-8s %28.1f %28.1f %28.2f", d,
			float64(a.heapInuse-b.heapInuse)/float64(n),
			float64(a.rss-b.rss)/float64(n),
			float64(a.heapObjects-b.heapObjects)/float64(n))
	}
}

type memSample struct {
	heapInuse   int64 // bytes, growth since before the stream was written
	heapObjects int64
	rss         int64
	sys         int64
}

// measureBrokerMemory starts a server, writes n messages to subject(i) and
// returns the memory growth at each sample time after the last ack.
func measureBrokerMemory(t *testing.T, name string, n int, samples []time.Duration, subject func(int) string) []memSample {
	var out []memSample
	t.Run(name, func(t *testing.T) {
		srv := testkit.StartNATS(t, false)
		ctx := context.Background()
		var pubErrs atomic.Int64
		js, err := jetstream.New(srv.Conn,
			jetstream.WithPublishAsyncMaxPending(4096),
			jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
				if pubErrs.Add(1) == 1 {
					t.Errorf("async publish: %v", err)
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		before := readMem(t)
		t.Logf("%s: before: HeapInuse %s, RSS %s, Sys %s", name,
			mib(before.heapInuse), mib(before.rss), mib(before.sys))
		// Reset the peak resident set (VmHWM), best effort.
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)

		start := time.Now()
		payload := make([]byte, 0, 256)
		for i := range n {
			payload = fmt.Appendf(payload[:0], `{"id":%q,"type":"wallet_address.created","schemaVersion":1,`+
				`"time":"2026-01-01T00:00:00Z","data":{"url":"https://wallet.example/u/%d","assetId":"usd"}}`,
				uuid.NewString(), i)
			msg := nats.NewMsg(subject(i))
			msg.Data = append([]byte(nil), payload...)
			if _, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(30*time.Second)); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(2 * time.Minute):
			t.Fatalf("%d publishes still pending after 2 minutes", js.PublishAsyncPending())
		}
		elapsed := time.Since(start)
		t.Logf("%s: peak RSS while publishing (VmHWM) %s", name, mib(procStatusBytes(t, "VmHWM:")))
		if pubErrs.Load() > 0 {
			t.Fatalf("%d publishes failed", pubErrs.Load())
		}
		stream, err := js.Stream(ctx, "EVENTS")
		if err != nil {
			t.Fatal(err)
		}
		state := stream.CachedInfo().State
		if state.Msgs != uint64(n) {
			t.Fatalf("stream holds %d messages, want %d", state.Msgs, n)
		}
		t.Logf("%s: published %d messages in %s (%.0f msg/s); stream: %d subjects, %s on disk",
			name, n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), state.NumSubjects, mib(int64(state.Bytes)))

		acked := time.Now()
		for _, d := range samples {
			time.Sleep(time.Until(acked.Add(d)))
			now := readMem(t)
			s := memSample{
				heapInuse:   now.heapInuse - before.heapInuse,
				heapObjects: now.heapObjects - before.heapObjects,
				rss:         now.rss - before.rss,
				sys:         now.sys - before.sys,
			}
			t.Logf("%s: +%s: HeapInuse %s (+%s, %.1f B/msg), heap objects +%d, RSS %s (+%s, %.1f B/msg), Sys +%s",
				name, d, mib(now.heapInuse), mib(s.heapInuse), float64(s.heapInuse)/float64(n),
				s.heapObjects, mib(now.rss), mib(s.rss), float64(s.rss)/float64(n), mib(s.sys))
			out = append(out, s)
		}
	})
	if len(out) != len(samples) {
		t.FailNow()
	}
	return out
}

// readMem collects garbage, returns free pages to the OS and reads the
// process's heap and resident set.
func readMem(t *testing.T) memSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{
		heapInuse:   int64(ms.HeapInuse),
		heapObjects: int64(ms.HeapObjects),
		rss:         procStatusBytes(t, "VmRSS:"),
		sys:         int64(ms.Sys),
	}
}

// procStatusBytes reads a kB field of /proc/self/status, such as VmRSS.
func procStatusBytes(t *testing.T, field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Logf("no %s: %v", field, err)
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
