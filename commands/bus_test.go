package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/commands/jsqueue"
	"github.com/rafiki-go/rafiki/testkit"
)

// The declared queue (streams.yaml) that the workers of the binary read.
const (
	commandsStream = "COMMANDS"
	workerConsumer = "worker_commands"
	poisonStream   = "COMMANDS_POISON"
)

// probe records when a test handler ran each command, by the id in its
// payload.
type probe struct {
	mu    sync.Mutex
	calls map[string][]time.Time
}

func newProbe() *probe { return &probe{calls: map[string][]time.Time{}} }

func (p *probe) record(data []byte) (id string, call int) {
	var c struct{ ID string }
	_ = json.Unmarshal(data, &c)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[c.ID] = append(p.calls[c.ID], time.Now())
	return c.ID, len(p.calls[c.ID])
}

func (p *probe) times(id string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.calls[id]...)
}

func (p *probe) count(id string) int { return len(p.times(id)) }

func (p *probe) distinct() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

func enqueue(t *testing.T, js jetstream.JetStream, subject, id string) {
	t.Helper()
	if err := commands.Enqueue(context.Background(), js, subject, id, map[string]string{"ID": id}); err != nil {
		t.Fatal(err)
	}
}

func worker(js jetstream.JetStream, handlers map[string]commands.Handler) *commands.Worker {
	return &commands.Worker{
		JS: js, Stream: commandsStream, Consumer: workerConsumer, PoisonSubject: commands.PoisonSubject,
		Handlers: handlers, Log: slog.New(slog.DiscardHandler),
		Concurrency: 4, FailureBackoff: 3 * time.Second, DrainTimeout: 5 * time.Second,
	}
}

// start runs w until the returned stop is called (or the test ends); stop
// returns what Run returned.
func start(t *testing.T, w *commands.Worker) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				err = errors.New("worker did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// workQueue makes a work-queue stream of its own (subjects "<name>.>") with
// one consumer, for what the declared consumer's settings do not show.
func workQueue(t *testing.T, js jetstream.JetStream, name string, maxDeliver, maxAckPending int, ackWait time.Duration) {
	t.Helper()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: strings.ToUpper(name), Subjects: []string{name + ".>"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.MemoryStorage, Duplicates: time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateConsumer(ctx, strings.ToUpper(name), jetstream.ConsumerConfig{
		Durable: "work", AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait,
		MaxDeliver: maxDeliver, MaxAckPending: maxAckPending,
	}); err != nil {
		t.Fatal(err)
	}
}

func TestEnqueueWithTheSameIDIsStoredOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		ids  []string
		want uint64
	}{
		{"a retry with the same id", []string{"expire:1", "expire:1"}, 1},
		{"two commands", []string{"expire:1", "expire:2"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testkit.StartNATS(t, false)
			for i, id := range tc.ids {
				err := commands.Enqueue(context.Background(), n.JS, "commands.test.x", id, map[string]int{"try": i})
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := streamMsgs(t, n.JS, commandsStream); got != tc.want {
				t.Fatalf("%d messages stored, want %d", got, tc.want)
			}
			s, _ := n.JS.Stream(context.Background(), commandsStream)
			first, err := s.GetMsg(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if string(first.Data) != `{"try":0}` || first.Header.Get(jetstream.MsgIDHeader) != tc.ids[0] {
				t.Fatalf("first message %s %v", first.Data, first.Header)
			}
		})
	}
}

func TestCommandIsHandledOnceAcrossTwoWorkers(t *testing.T) {
	n := testkit.StartNATS(t, false)
	const count = 40
	p := newProbe()
	handlers := map[string]commands.Handler{"commands.test.count": func(ctx context.Context, data []byte) (time.Duration, error) {
		p.record(data)
		time.Sleep(5 * time.Millisecond)
		return 0, nil
	}}
	start(t, worker(n.JS, handlers))
	start(t, worker(n.JS, handlers))
	for i := range count {
		enqueue(t, n.JS, "commands.test.count", fmt.Sprintf("c%d", i))
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return p.distinct() == count }, "every command handled")
	testkit.Eventually(t, 5*time.Second, func() bool { return streamMsgs(t, n.JS, commandsStream) == 0 },
		"handled commands acknowledged and gone from the work queue")
	time.Sleep(200 * time.Millisecond)
	for i := range count {
		if got := p.count(fmt.Sprintf("c%d", i)); got != 1 {
			t.Fatalf("command c%d handled %d times", i, got)
		}
	}
}

func TestCommandNotDueComesBackAfterItsDelay(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
	}{
		{"short", 200 * time.Millisecond},
		{"longer", 700 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testkit.StartNATS(t, false)
			p := newProbe()
			start(t, worker(n.JS, map[string]commands.Handler{
				"commands.test.later": func(ctx context.Context, data []byte) (time.Duration, error) {
					if _, call := p.record(data); call == 1 {
						return tc.delay, nil
					}
					return 0, nil
				}}))
			enqueue(t, n.JS, "commands.test.later", "later")
			// FailureBackoff is 3 s: a redelivery after it would be the wrong delay.
			testkit.Eventually(t, tc.delay+2*time.Second, func() bool { return p.count("later") == 2 }, "command back")
			calls := p.times("later")
			if gap := calls[1].Sub(calls[0]); gap < tc.delay {
				t.Fatalf("command came back after %s, before its delay %s", gap, tc.delay)
			}
			testkit.Eventually(t, 2*time.Second, func() bool { return streamMsgs(t, n.JS, commandsStream) == 0 }, "acknowledged")
			time.Sleep(tc.delay + 200*time.Millisecond)
			if got := p.count("later"); got != 2 {
				t.Fatalf("handled %d times, want 2", got)
			}
		})
	}
}

// due is a command that knows when it is due, as ExpireWithdrawal does.
type due struct {
	ID    string
	DueAt time.Time
}

// dueHandler records every call and says how long a command has to wait.
func dueHandler(p *probe) commands.Handler {
	return func(ctx context.Context, data []byte) (time.Duration, error) {
		p.record(data)
		var c due
		if err := json.Unmarshal(data, &c); err != nil {
			return 0, err
		}
		return time.Until(c.DueAt), nil
	}
}

func enqueueAt(t *testing.T, js jetstream.JetStream, subject, id string, at time.Time) {
	t.Helper()
	if err := commands.EnqueueAt(context.Background(), js, subject, id, at, due{ID: id, DueAt: at}); err != nil {
		t.Fatal(err)
	}
}

// Commands due later must not take the places of unacknowledged commands
// (max_ack_pending) that commands due now need, whether they were enqueued
// for later or delivered before they were due (enqueued at once, as before
// commands could be scheduled).
func TestCommandsNotDueHoldNothingBack(t *testing.T) {
	for _, tc := range []struct {
		name    string
		enqueue func(t *testing.T, js jetstream.JetStream, id string, at time.Time)
	}{
		{"enqueued for later", func(t *testing.T, js jetstream.JetStream, id string, at time.Time) {
			enqueueAt(t, js, "commands.test.due", id, at)
		}},
		{"enqueued at once", func(t *testing.T, js jetstream.JetStream, id string, at time.Time) {
			if err := commands.Enqueue(context.Background(), js, "commands.test.due", id, due{ID: id, DueAt: at}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testkit.StartNATS(t, false)
			ctx := context.Background()
			consumer, err := n.JS.Consumer(ctx, commandsStream, workerConsumer)
			if err != nil {
				t.Fatal(err)
			}
			cfg := consumer.CachedInfo().Config
			cfg.MaxAckPending = 3
			if _, err := n.JS.UpdateConsumer(ctx, commandsStream, cfg); err != nil {
				t.Fatal(err)
			}
			p := newProbe()
			start(t, worker(n.JS, map[string]commands.Handler{"commands.test.due": dueHandler(p)}))
			for i := range 3 {
				tc.enqueue(t, n.JS, fmt.Sprintf("later%d", i), time.Now().Add(time.Hour))
			}
			time.Sleep(300 * time.Millisecond)
			tc.enqueue(t, n.JS, "now", time.Now())
			testkit.Eventually(t, 3*time.Second, func() bool { return p.count("now") == 1 }, "the command due now handled")
			for i := range 3 {
				if got := p.count(fmt.Sprintf("later%d", i)); got > 1 {
					t.Fatalf("command not due handled %d times", got)
				}
			}
			testkit.Eventually(t, 2*time.Second, func() bool { return streamMsgs(t, n.JS, commandsStream) == 3 },
				"the command due now gone, the others kept")
			if info, err := consumer.Info(ctx); err != nil || info.NumAckPending != 0 {
				t.Fatalf("%v unacknowledged commands (%v), want none", info.NumAckPending, err)
			}
		})
	}
}

func TestCommandEnqueuedWithADueTimeRunsThen(t *testing.T) {
	n := testkit.StartNATS(t, false)
	p := newProbe()
	start(t, worker(n.JS, map[string]commands.Handler{"commands.test.due": dueHandler(p)}))
	at := time.Now().Add(1500 * time.Millisecond)
	// A retried enqueue is stored once.
	enqueueAt(t, n.JS, "commands.test.due", "later", at)
	enqueueAt(t, n.JS, "commands.test.due", "later", at)
	// A command scheduled keeps its id, here in the poison stream.
	enqueueAt(t, n.JS, "commands.test.unknown", "unknown", at)
	if got := streamMsgs(t, n.JS, commandsStream); got != 2 {
		t.Fatalf("%d messages stored, want 2", got)
	}
	testkit.Eventually(t, 4*time.Second, func() bool { return p.count("later") > 0 }, "command handled")
	if ran := p.times("later")[0]; ran.Before(at) {
		t.Fatalf("command ran %s before it was due", at.Sub(ran))
	}
	testkit.Eventually(t, 2*time.Second, func() bool { return streamMsgs(t, n.JS, commandsStream) == 0 }, "acknowledged")
	if got := poisoned(t, n.JS); len(got) != 1 || got["unknown"][0] != "commands.test.unknown" {
		t.Fatalf("poisoned %v, want the command without handler under its id", got)
	}
	time.Sleep(300 * time.Millisecond)
	if got := p.count("later"); got != 1 {
		t.Fatalf("handled %d times, want 1", got)
	}
}

// A command delivered long before it is due is enqueued again for then
// rather than kept as an unacknowledged message.
func TestCommandNotDueIsEnqueuedAgainForWhenItIsDue(t *testing.T) {
	n := testkit.StartNATS(t, false)
	p := newProbe()
	start(t, worker(n.JS, map[string]commands.Handler{
		"commands.test.early": func(ctx context.Context, data []byte) (time.Duration, error) {
			if _, call := p.record(data); call == 1 {
				return 2 * time.Second, nil
			}
			return 0, nil
		}}))
	enqueue(t, n.JS, "commands.test.early", "early")
	testkit.Eventually(t, 2*time.Second, func() bool { return p.count("early") == 1 }, "command handled")
	consumer, err := n.JS.Consumer(context.Background(), commandsStream, workerConsumer)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, time.Second, func() bool {
		info, err := consumer.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && streamMsgs(t, n.JS, commandsStream) == 1
	}, "the command acknowledged and scheduled")
	testkit.Eventually(t, 5*time.Second, func() bool { return p.count("early") == 2 }, "command back")
	calls := p.times("early")
	if gap := calls[1].Sub(calls[0]); gap < 2*time.Second {
		t.Fatalf("command came back after %s, before it was due", gap)
	}
	testkit.Eventually(t, 2*time.Second, func() bool { return streamMsgs(t, n.JS, commandsStream) == 0 }, "acknowledged")
}

// On a stream without schedules, a command not due yet comes back within a
// second, whatever its handler asks for, rather than holding its place
// among the unacknowledged commands.
func TestCommandNotDueComesBackWithinASecondWithoutSchedules(t *testing.T) {
	n := testkit.StartNATS(t, false)
	workQueue(t, n.JS, "early", 0, 100, 30*time.Second)
	p := newProbe()
	w := worker(n.JS, map[string]commands.Handler{
		"early.work": func(ctx context.Context, data []byte) (time.Duration, error) {
			if _, call := p.record(data); call == 1 {
				return time.Hour, nil
			}
			return 0, nil
		}})
	w.Stream, w.Consumer = "EARLY", "work"
	enqueue(t, n.JS, "early.work", "early")
	start(t, w)
	testkit.Eventually(t, 3*time.Second, func() bool { return p.count("early") == 2 }, "command back")
	testkit.Eventually(t, 2*time.Second, func() bool { return streamMsgs(t, n.JS, "EARLY") == 0 }, "acknowledged")
}

func TestFailedCommandIsRetriedUntilItSucceeds(t *testing.T) {
	n := testkit.StartNATS(t, false)
	p := newProbe()
	w := worker(n.JS, map[string]commands.Handler{
		"commands.test.flaky": func(ctx context.Context, data []byte) (time.Duration, error) {
			if _, call := p.record(data); call < 3 {
				return 0, errors.New("ledger unavailable")
			}
			return 0, nil
		}})
	w.FailureBackoff = 150 * time.Millisecond
	start(t, w)
	enqueue(t, n.JS, "commands.test.flaky", "flaky")
	testkit.Eventually(t, 5*time.Second, func() bool { return p.count("flaky") == 3 }, "three tries")
	testkit.Eventually(t, 2*time.Second, func() bool { return streamMsgs(t, n.JS, commandsStream) == 0 }, "acknowledged")
	calls := p.times("flaky")
	for i := 1; i < len(calls); i++ {
		if gap := calls[i].Sub(calls[i-1]); gap < w.FailureBackoff {
			t.Fatalf("try %d came %s after the previous one, before the backoff", i+1, gap)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if got, poisoned := p.count("flaky"), streamMsgs(t, n.JS, poisonStream); got != 3 || poisoned != 0 {
		t.Fatalf("handled %d times, %d poisoned; want 3 and 0", got, poisoned)
	}
}

// poisoned reads the poison stream: each message's id with its original
// subject and reason.
func poisoned(t *testing.T, js jetstream.JetStream) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for id, h := range poisonHeaders(t, js) {
		out[id] = [2]string{h.Get(jsqueue.SubjectKey), h.Get("reason_poisoned")}
	}
	return out
}

// poisonHeaders reads the headers of each message of the poison stream, by
// id.
func poisonHeaders(t *testing.T, js jetstream.JetStream) map[string]nats.Header {
	t.Helper()
	s, err := js.Stream(context.Background(), poisonStream)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]nats.Header{}
	for seq := uint64(1); seq <= streamMsgs(t, js, poisonStream); seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != commands.PoisonSubject {
			t.Fatalf("poison message on %s", m.Subject)
		}
		out[m.Header.Get(jetstream.MsgIDHeader)] = m.Header
	}
	return out
}

func TestCommandThatCanNeverSucceedIsPoisonedWithoutBlockingOthers(t *testing.T) {
	n := testkit.StartNATS(t, false)
	p := newProbe()
	w := worker(n.JS, map[string]commands.Handler{
		"commands.test.malformed": func(ctx context.Context, data []byte) (time.Duration, error) {
			p.record(data)
			return 0, fmt.Errorf("%w: cannot decode", commands.ErrUnprocessable)
		},
		"commands.test.ok": func(ctx context.Context, data []byte) (time.Duration, error) {
			p.record(data)
			return 0, nil
		}})
	w.Concurrency = 1
	enqueue(t, n.JS, "commands.test.unknown", "unknown")
	enqueue(t, n.JS, "commands.test.malformed", "malformed")
	enqueue(t, n.JS, "commands.test.ok", "ok")
	start(t, w)
	testkit.Eventually(t, 5*time.Second, func() bool { return p.count("ok") == 1 }, "the good command handled")
	testkit.Eventually(t, 2*time.Second, func() bool { return streamMsgs(t, n.JS, commandsStream) == 0 },
		"every command gone from the work queue")
	got := poisoned(t, n.JS)
	want := map[string]string{
		"unknown":   "no handler for commands.test.unknown",
		"malformed": "cannot decode",
	}
	if len(got) != len(want) {
		t.Fatalf("poisoned %v, want %v", got, want)
	}
	for id, reason := range want {
		if got[id][0] != "commands.test."+id || !strings.Contains(got[id][1], reason) {
			t.Fatalf("poisoned %s: %v, want subject commands.test.%s and reason %q", id, got[id], id, reason)
		}
	}
	if tries := p.count("malformed"); tries != 1 {
		t.Fatalf("a command that can never succeed was tried %d times", tries)
	}
	// The declared consumer does not limit deliveries: the worker does.
	if limit := poisonHeaders(t, n.JS)["unknown"].Get(jsqueue.DeliveryLimitKey); limit != strconv.Itoa(commands.MaxDeliveriesDefault) {
		t.Fatalf("delivery limit %q, want the worker's default (%d)", limit, commands.MaxDeliveriesDefault)
	}
}

func TestCommandFailingAtItsLastDeliveryIsPoisoned(t *testing.T) {
	n := testkit.StartNATS(t, false)
	workQueue(t, n.JS, "lastdelivery", 2, 100, 30*time.Second)
	p := newProbe()
	w := worker(n.JS, map[string]commands.Handler{
		"lastdelivery.fail": func(ctx context.Context, data []byte) (time.Duration, error) {
			p.record(data)
			return 0, errors.New("always down")
		},
		"lastdelivery.panic": func(ctx context.Context, data []byte) (time.Duration, error) {
			p.record(data)
			panic("bug")
		},
		"lastdelivery.never_due": func(ctx context.Context, data []byte) (time.Duration, error) {
			p.record(data)
			return 50 * time.Millisecond, nil
		}})
	w.Stream, w.Consumer, w.FailureBackoff = "LASTDELIVERY", "work", 50*time.Millisecond
	cases := map[string]string{
		"fail":      "failed at its last delivery: lastdelivery.fail (fail): always down",
		"panic":     "failed at its last delivery",
		"never_due": "still not due at its last delivery",
	}
	for id := range cases {
		enqueue(t, n.JS, "lastdelivery."+id, id)
	}
	start(t, w)
	testkit.Eventually(t, 5*time.Second, func() bool { return streamMsgs(t, n.JS, poisonStream) == uint64(len(cases)) },
		"every command poisoned")
	got := poisoned(t, n.JS)
	for id, reason := range cases {
		if got[id][0] != "lastdelivery."+id || !strings.Contains(got[id][1], reason) {
			t.Fatalf("poisoned %s: %v, want reason %q", id, got[id], reason)
		}
		if tries := p.count(id); tries != 2 {
			t.Fatalf("%s tried %d times, want max_deliver (2)", id, tries)
		}
	}
	testkit.Eventually(t, 2*time.Second, func() bool { return streamMsgs(t, n.JS, "LASTDELIVERY") == 0 },
		"poisoned commands gone from the work queue")
}

// declaredConsumer gives the declared worker_commands a shorter ack_wait,
// for the tests of what happens when it runs out, and checks that it leaves
// the deliveries unlimited to the worker.
func declaredConsumer(t *testing.T, js jetstream.JetStream, ackWait time.Duration) {
	t.Helper()
	ctx := context.Background()
	consumer, err := js.Consumer(ctx, commandsStream, workerConsumer)
	if err != nil {
		t.Fatal(err)
	}
	cfg := consumer.CachedInfo().Config
	if cfg.MaxDeliver != -1 {
		t.Fatalf("%s has max_deliver %d: the server would give up on a command whose worker crashed", workerConsumer, cfg.MaxDeliver)
	}
	cfg.AckWait = ackWait
	if _, err := js.UpdateConsumer(ctx, commandsStream, cfg); err != nil {
		t.Fatal(err)
	}
}

// A command that keeps failing on a consumer without max_deliver, which
// delivers it as often as asked, is poisoned by the worker at its delivery
// limit and leaves the work queue. A handler past its deadline at that
// delivery does not let the server hand the command to another worker
// while it is poisoned.
func TestCommandFailingAtTheWorkersLimitIsPoisoned(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int
		// handle runs the command; release lets it return.
		handle func(ctx context.Context, release <-chan struct{}) error
		reason string
		within time.Duration
	}{
		{"the handler fails", 3, func(ctx context.Context, _ <-chan struct{}) error {
			return errors.New("always down")
		}, "failed at its last delivery: limit.fail (fail): always down", 3 * time.Second},
		{"the handler ignores its deadline", 2, func(ctx context.Context, release <-chan struct{}) error {
			<-release
			return nil
		}, "no verdict at its last delivery", 6 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testkit.StartNATS(t, false)
			workQueue(t, n.JS, "limit", -1, 100, time.Second)
			p := newProbe()
			release := make(chan struct{})
			defer close(release)
			w := worker(n.JS, map[string]commands.Handler{
				"limit.fail": func(ctx context.Context, data []byte) (time.Duration, error) {
					p.record(data)
					return 0, tc.handle(ctx, release)
				}})
			w.Stream, w.Consumer = "LIMIT", "work"
			w.MaxDeliveries, w.FailureBackoff = tc.limit, 50*time.Millisecond
			start(t, w)
			enqueue(t, n.JS, "limit.fail", "fail")
			testkit.Eventually(t, tc.within, func() bool { return streamMsgs(t, n.JS, poisonStream) == 1 }, "command poisoned")
			got := poisonHeaders(t, n.JS)["fail"]
			if reason := got.Get("reason_poisoned"); !strings.Contains(reason, tc.reason) {
				t.Fatalf("poisoned with reason %q, want %q", reason, tc.reason)
			}
			if delivered := got.Get(jsqueue.DeliveredKey); delivered != strconv.Itoa(tc.limit) {
				t.Fatalf("poisoned at delivery %s, want %d", delivered, tc.limit)
			}
			testkit.Eventually(t, 2*time.Second, func() bool { return streamMsgs(t, n.JS, "LIMIT") == 0 },
				"poisoned command gone from the work queue")
			time.Sleep(1200 * time.Millisecond) // past ack_wait: nothing comes again
			if tries := p.count("fail"); tries != tc.limit {
				t.Fatalf("tried %d times, want the limit (%d)", tries, tc.limit)
			}
		})
	}
}

// A worker that crashes during a command's last delivery settles nothing.
// The server, which does not count deliveries, delivers the command again
// after ack_wait, past the limit, and the next worker gives it one more
// try: whatever that try does, the command leaves the work queue.
func TestCommandWhoseWorkerCrashedAtItsLastDeliveryIsTriedOnceMore(t *testing.T) {
	for _, tc := range []struct {
		name     string
		next     error // what the try after the crash returns
		poisoned bool
	}{
		{"and poisoned if it fails", errors.New("still down"), true},
		{"and acked if it succeeds", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testkit.StartNATS(t, false)
			declaredConsumer(t, n.JS, time.Second)
			const limit = 3
			// The crashing worker has a connection of its own, which it
			// loses at the last delivery, as a process killed then would:
			// no ack, nak or poison reaches the server afterwards.
			nc, err := nats.Connect(n.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			p := newProbe()
			crashing := worker(js, map[string]commands.Handler{
				"commands.test.crash": func(ctx context.Context, data []byte) (time.Duration, error) {
					if _, call := p.record(data); call == limit {
						nc.Close()
					}
					return 0, errors.New("ledger unavailable")
				}})
			crashing.MaxDeliveries, crashing.FailureBackoff = limit, 50*time.Millisecond
			start(t, crashing)
			enqueue(t, n.JS, "commands.test.crash", "crash")
			testkit.Eventually(t, 3*time.Second, func() bool { return p.count("crash") == limit }, "last delivery reached")
			time.Sleep(300 * time.Millisecond)
			if poisoned, left := streamMsgs(t, n.JS, poisonStream), streamMsgs(t, n.JS, commandsStream); poisoned != 0 || left != 1 {
				t.Fatalf("%d poisoned, %d left in the work queue after the crash; want 0 and 1", poisoned, left)
			}

			next := worker(n.JS, map[string]commands.Handler{
				"commands.test.crash": func(ctx context.Context, data []byte) (time.Duration, error) {
					p.record(data)
					return 0, tc.next
				}})
			next.MaxDeliveries, next.FailureBackoff = limit, 50*time.Millisecond
			start(t, next)
			testkit.Eventually(t, 4*time.Second, func() bool { return streamMsgs(t, n.JS, commandsStream) == 0 },
				"command gone from the work queue")
			got := poisonHeaders(t, n.JS)
			if !tc.poisoned && len(got) != 0 {
				t.Fatalf("poisoned %v, want nothing", got)
			}
			if tc.poisoned {
				h := got["crash"]
				if reason := h.Get("reason_poisoned"); len(got) != 1 || !strings.Contains(reason, "failed at its last delivery") ||
					!strings.Contains(reason, "still down") || h.Get(jsqueue.DeliveredKey) != strconv.Itoa(limit+1) {
					t.Fatalf("poisoned %v, want the command at delivery %d", got, limit+1)
				}
			}
			time.Sleep(1200 * time.Millisecond) // past ack_wait: nothing comes again
			if tries := p.count("crash"); tries != limit+1 {
				t.Fatalf("tried %d times, want %d", tries, limit+1)
			}
		})
	}
}

// records keeps the messages logged at Info and above.
type records struct {
	mu   sync.Mutex
	msgs []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func (r *records) has(msg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		if m == msg {
			return true
		}
	}
	return false
}

// A command whose last delivery runs out of time, whether at ack_wait or
// when a stopping worker's drain timeout cancels it, can never come back: it
// must end in the poison stream, not stay in the work queue unread.
func TestCommandOutOfTimeAtItsLastDeliveryIsPoisoned(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ackWait time.Duration
		// handle runs the command "late"; release lets it return.
		handle func(ctx context.Context, release <-chan struct{}) error
		// stop stops the worker once the command runs.
		stop   bool
		reason string
		within time.Duration // from the start of the command to its poisoning
	}{
		{"the handler gives up at ack_wait", time.Second, func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			return ctx.Err()
		}, false, "failed at its last delivery: lastdelivery.late (late): context deadline exceeded", 3 * time.Second},
		{"the handler ignores its deadline", time.Second, func(ctx context.Context, release <-chan struct{}) error {
			<-release
			return nil
		}, false, "no verdict at its last delivery", 4 * time.Second},
		{"the handler is cancelled by the stop", 30 * time.Second, func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			return ctx.Err()
		}, true, "failed at its last delivery: lastdelivery.late (late): context", 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testkit.StartNATS(t, false)
			workQueue(t, n.JS, "lastdelivery", 1, 100, tc.ackWait)
			p := newProbe()
			release := make(chan struct{})
			defer close(release)
			w := worker(n.JS, map[string]commands.Handler{
				"lastdelivery.late": func(ctx context.Context, data []byte) (time.Duration, error) {
					p.record(data)
					return 0, tc.handle(ctx, release)
				}})
			w.Stream, w.Consumer, w.DrainTimeout = "LASTDELIVERY", "work", 300*time.Millisecond
			enqueue(t, n.JS, "lastdelivery.late", "late")
			stop := start(t, w)
			testkit.Eventually(t, 3*time.Second, func() bool { return p.count("late") == 1 }, "command running")
			if tc.stop {
				if err := stop(); err != nil {
					t.Fatal(err)
				}
			}
			testkit.Eventually(t, tc.within, func() bool { return streamMsgs(t, n.JS, poisonStream) == 1 }, "command poisoned")
			if got := poisoned(t, n.JS)["late"]; got[0] != "lastdelivery.late" || !strings.Contains(got[1], tc.reason) {
				t.Fatalf("poisoned %v, want reason %q", got, tc.reason)
			}
			testkit.Eventually(t, 2*time.Second, func() bool { return streamMsgs(t, n.JS, "LASTDELIVERY") == 0 },
				"poisoned command gone from the work queue")
		})
	}
}

// A command pulled at its last delivery but not started when the worker
// stops has not failed: it is handed back, and its next delivery, past the
// limit, is its try. Only at the consumer's max_deliver, after which
// JetStream would never deliver it again, is it poisoned instead.
func TestCommandPulledAtItsLastDeliveryWhenTheWorkerStops(t *testing.T) {
	for _, tc := range []struct {
		name          string
		maxDeliver    int // the consumer's
		maxDeliveries int // the worker's
		poisoned      bool
	}{
		{"at the worker's limit it is handed back", -1, 1, false},
		{"at the consumer's max_deliver it is poisoned", 1, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testkit.StartNATS(t, false)
			workQueue(t, n.JS, "lastdelivery", tc.maxDeliver, 100, 30*time.Second)
			p := newProbe()
			proceed := make(chan struct{})
			w := worker(n.JS, map[string]commands.Handler{
				"lastdelivery.queued": func(ctx context.Context, data []byte) (time.Duration, error) {
					if id, _ := p.record(data); id != "quick" {
						<-proceed
					}
					return 0, nil
				}})
			w.Stream, w.Consumer, w.Concurrency, w.MaxDeliveries = "LASTDELIVERY", "work", 2, tc.maxDeliveries
			// As in TestStopLetsCommandsUnderWayFinish, the pull that follows the
			// quick command brings one command to run and one to wait.
			for _, id := range []string{"quick", "r1", "r2", "pulled"} {
				enqueue(t, n.JS, "lastdelivery.queued", id)
			}
			stop := start(t, w)
			consumer, err := n.JS.Consumer(context.Background(), "LASTDELIVERY", "work")
			if err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, 3*time.Second, func() bool {
				info, err := consumer.Info(context.Background())
				return err == nil && p.distinct() == 3 && info.NumAckPending == 3
			}, "two commands running and one pulled")
			stopped := make(chan error, 1)
			go func() { stopped <- stop() }()
			time.Sleep(100 * time.Millisecond)
			close(proceed)
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
			if p.count("r1") != 1 || p.count("r2") != 1 || p.count("pulled") != 0 {
				t.Fatalf("handled r1 %d, r2 %d, pulled %d times", p.count("r1"), p.count("r2"), p.count("pulled"))
			}
			if tc.poisoned {
				testkit.Eventually(t, 2*time.Second, func() bool { return streamMsgs(t, n.JS, poisonStream) == 1 }, "pulled command poisoned")
				if got := poisoned(t, n.JS); !strings.Contains(got["pulled"][1], "not run at its last delivery") {
					t.Fatalf("poisoned %v, want the pulled command", got)
				}
				if left := streamMsgs(t, n.JS, "LASTDELIVERY"); left != 0 {
					t.Fatalf("%d left in the work queue", left)
				}
				return
			}
			if got := streamMsgs(t, n.JS, poisonStream); got != 0 {
				t.Fatalf("%d poisoned, want none", got)
			}
			// Handed back at once, not after ack_wait (30 s).
			next := worker(n.JS, map[string]commands.Handler{"lastdelivery.queued": func(ctx context.Context, data []byte) (time.Duration, error) {
				p.record(data)
				return 0, nil
			}})
			next.Stream, next.Consumer, next.MaxDeliveries = "LASTDELIVERY", "work", tc.maxDeliveries
			start(t, next)
			testkit.Eventually(t, 3*time.Second, func() bool { return p.count("pulled") == 1 && streamMsgs(t, n.JS, "LASTDELIVERY") == 0 },
				"the pulled command handled by the next worker")
			if got := streamMsgs(t, n.JS, poisonStream); got != 0 {
				t.Fatalf("%d poisoned, want none", got)
			}
		})
	}
}

func TestCommandIsLoggedAsPoisonedOnlyOnceStored(t *testing.T) {
	n := testkit.StartNATS(t, false)
	workQueue(t, n.JS, "lastdelivery", 1, 100, 30*time.Second)
	p := newProbe()
	logs := &records{}
	w := worker(n.JS, map[string]commands.Handler{
		"lastdelivery.malformed": func(ctx context.Context, data []byte) (time.Duration, error) {
			p.record(data)
			return 0, fmt.Errorf("%w: cannot decode", commands.ErrUnprocessable)
		}})
	// No stream stores this subject: every poison publish fails.
	w.Stream, w.Consumer, w.PoisonSubject, w.Log = "LASTDELIVERY", "work", "nowhere", slog.New(logs)
	enqueue(t, n.JS, "lastdelivery.malformed", "malformed")
	start(t, w)
	testkit.Eventually(t, 3*time.Second, func() bool { return p.count("malformed") == 1 }, "command handled")
	time.Sleep(500 * time.Millisecond)
	if logs.has("command poisoned") {
		t.Fatalf("logged as poisoned, though it was not stored: %v", logs.msgs)
	}
}

func TestWorkerHoldsNoMoreThanItsConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name                string
		maxAckPending       int // 0: the declared worker_commands
		concurrency, within int
	}{
		{"declared consumer", 0, 3, 3},
		{"max_ack_pending below the concurrency", 2, 10, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testkit.StartNATS(t, false)
			subject := "commands.test.busy"
			w := worker(n.JS, nil)
			if tc.maxAckPending > 0 {
				workQueue(t, n.JS, "bounded", 0, tc.maxAckPending, 30*time.Second)
				subject, w.Stream, w.Consumer = "bounded.busy", "BOUNDED", "work"
			}
			consumer, err := n.JS.Consumer(context.Background(), w.Stream, w.Consumer)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var running, runningMax, ackPendingMax, done int
			w.Concurrency = tc.concurrency
			w.Handlers = map[string]commands.Handler{subject: func(ctx context.Context, data []byte) (time.Duration, error) {
				mu.Lock()
				running++
				runningMax = max(runningMax, running)
				mu.Unlock()
				if info, err := consumer.Info(ctx); err == nil {
					mu.Lock()
					ackPendingMax = max(ackPendingMax, info.NumAckPending)
					mu.Unlock()
				}
				time.Sleep(30 * time.Millisecond)
				mu.Lock()
				running--
				done++
				mu.Unlock()
				return 0, nil
			}}
			const count = 30
			for i := range count {
				enqueue(t, n.JS, subject, fmt.Sprintf("b%d", i))
			}
			start(t, w)
			testkit.Eventually(t, 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return done == count }, "all handled")
			mu.Lock()
			defer mu.Unlock()
			if runningMax != tc.within {
				t.Fatalf("%d commands ran at once, want %d", runningMax, tc.within)
			}
			if ackPendingMax > 2*tc.within {
				t.Fatalf("%d commands unacknowledged at once, want at most %d", ackPendingMax, 2*tc.within)
			}
		})
	}
}

// A command pulled ahead waits in the worker until a handler is free; its
// ack_wait starts again when it is handed to one, so that the server does
// not deliver it to another worker while it runs.
func TestCommandPulledAheadGetsItsAckWaitFromItsStart(t *testing.T) {
	n := testkit.StartNATS(t, false)
	workQueue(t, n.JS, "ahead", 0, 100, time.Second)
	p := newProbe()
	w := worker(n.JS, map[string]commands.Handler{
		"ahead.work": func(ctx context.Context, data []byte) (time.Duration, error) {
			if id, _ := p.record(data); id == "quick" {
				return 0, nil
			}
			time.Sleep(700 * time.Millisecond)
			return 0, nil
		}})
	w.Stream, w.Consumer, w.Concurrency = "AHEAD", "work", 2
	// As in TestStopLetsCommandsUnderWayFinish, the pull that follows the
	// quick command brings one command to run and one to wait: "waiting"
	// starts 700 ms after its delivery and runs for 700 ms, past ack_wait.
	ids := []string{"quick", "first", "second", "waiting"}
	for _, id := range ids {
		enqueue(t, n.JS, "ahead.work", id)
	}
	start(t, w)
	testkit.Eventually(t, 5*time.Second, func() bool { return p.count("waiting") > 0 && streamMsgs(t, n.JS, "AHEAD") == 0 },
		"every command handled")
	time.Sleep(500 * time.Millisecond)
	for _, id := range ids {
		if got := p.count(id); got != 1 {
			t.Fatalf("%s handled %d times", id, got)
		}
	}
}

// leftovers lists the goroutines still running code of the worker, its
// adapter or watermill.
func leftovers() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "ThreeDotsLabs/watermill") || strings.Contains(g, "rafiki/commands.") || strings.Contains(g, "rafiki/commands/jsqueue.") {
			out = append(out, g)
		}
	}
	return out
}

func TestStopLetsCommandsUnderWayFinish(t *testing.T) {
	for _, tc := range []struct {
		name     string
		work     time.Duration // how long a command takes, unless cancelled
		drain    time.Duration
		finished bool // whether the commands under way complete
	}{
		{"commands finish within the drain timeout", 300 * time.Millisecond, 5 * time.Second, true},
		{"commands that outlast it are cancelled", 30 * time.Second, 300 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testkit.StartNATS(t, false)
			p := newProbe()
			var mu sync.Mutex
			var finished, cancelled int
			w := worker(n.JS, map[string]commands.Handler{
				"commands.test.slow": func(ctx context.Context, data []byte) (time.Duration, error) {
					if id, _ := p.record(data); id == "s0" {
						return 0, nil
					}
					select {
					case <-time.After(tc.work):
						mu.Lock()
						finished++
						mu.Unlock()
						return 0, nil
					case <-ctx.Done():
						mu.Lock()
						cancelled++
						mu.Unlock()
						return 0, ctx.Err()
					}
				}})
			w.Concurrency, w.DrainTimeout = 2, tc.drain
			const count = 6
			for i := range count {
				enqueue(t, n.JS, "commands.test.slow", fmt.Sprintf("s%d", i))
			}
			stop := start(t, w)
			// s0 is quick; the pull that follows it brings one command to
			// run and one to wait in the buffer.
			consumer, err := n.JS.Consumer(context.Background(), commandsStream, workerConsumer)
			if err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, 5*time.Second, func() bool {
				info, err := consumer.Info(context.Background())
				return err == nil && p.distinct() == 3 && info.NumAckPending == 3
			}, "two commands under way and one pulled")
			began := time.Now()
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(began); took > tc.drain+2*time.Second {
				t.Fatalf("stop took %s", took)
			}
			mu.Lock()
			if tc.finished && (finished != 2 || cancelled != 0) || !tc.finished && (finished != 0 || cancelled != 2) {
				t.Fatalf("%d finished, %d cancelled", finished, cancelled)
			}
			mu.Unlock()
			if tc.finished {
				if got := streamMsgs(t, n.JS, commandsStream); got != count-3 {
					t.Fatalf("%d commands left after stop, want %d", got, count-3)
				}
			}
			testkit.Eventually(t, 2*time.Second, func() bool { return len(leftovers()) == 0 }, "goroutines left: %v", leftovers())

			// What the stopped worker had pulled but not started is handed
			// back at once, not after ack_wait (60 s).
			next := worker(n.JS, map[string]commands.Handler{"commands.test.slow": func(ctx context.Context, data []byte) (time.Duration, error) {
				p.record(data)
				return 0, nil
			}})
			next.FailureBackoff = 100 * time.Millisecond
			start(t, next)
			testkit.Eventually(t, 3*time.Second, func() bool { return p.distinct() == count && streamMsgs(t, n.JS, commandsStream) == 0 },
				"the remaining commands handled by the next worker")
		})
	}
}

// A handler is chosen by the command's subject, or by a filter that matches
// it; a subject no handler matches is poisoned.
func TestHandlerIsChosenBySubjectOrFilter(t *testing.T) {
	n := testkit.StartNATS(t, false)
	var mu sync.Mutex
	ran := map[string]string{}
	handler := func(name string) commands.Handler {
		return func(ctx context.Context, data []byte) (time.Duration, error) {
			var c struct{ ID string }
			_ = json.Unmarshal(data, &c)
			mu.Lock()
			ran[c.ID] = name
			mu.Unlock()
			return 0, nil
		}
	}
	start(t, worker(n.JS, map[string]commands.Handler{
		"commands.test.exact": handler("exact"),
		"commands.*.token":    handler("token"),
		"commands.rest.>":     handler("rest"),
	}))
	want := map[string]string{"exact": "exact", "token": "token", "rest1": "rest", "rest2": "rest"}
	enqueue(t, n.JS, "commands.test.exact", "exact")
	enqueue(t, n.JS, "commands.any.token", "token")
	enqueue(t, n.JS, "commands.rest.a", "rest1")
	enqueue(t, n.JS, "commands.rest.a.b", "rest2")
	for _, unmatched := range []string{"commands.any.token.more", "commands.rest", "commands.test.exactly"} {
		enqueue(t, n.JS, unmatched, unmatched)
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return streamMsgs(t, n.JS, poisonStream) == 3 },
		"the commands no handler matches poisoned")
	testkit.Eventually(t, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ran) >= len(want)
	}, "the matched commands handled")
	mu.Lock()
	defer mu.Unlock()
	for id, name := range want {
		if ran[id] != name {
			t.Errorf("command %s handled by %q, want %q", id, ran[id], name)
		}
	}
	if len(ran) != len(want) {
		t.Errorf("handled %v, want only %v", ran, want)
	}
}
