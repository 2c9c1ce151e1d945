package streams_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	rafiki "github.com/rafiki-go/rafiki"
	"github.com/rafiki-go/rafiki/natsembed"
	"github.com/rafiki-go/rafiki/streams"
	"github.com/rafiki-go/rafiki/testkit"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startServer runs an empty embedded server for one test.
func startServer(t *testing.T) jetstream.JetStream {
	t.Helper()
	ns, err := natsembed.Start(natsembed.Options{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	_, js := testkit.Dial(t, ns.ClientURL())
	return js
}

func TestApplyTwiceChangesNothing(t *testing.T) {
	js := startServer(t)
	decl, err := streams.Parse(rafiki.StreamsYAML)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	first, err := streams.Apply(ctx, js, decl, 1, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Created) != len(decl.Streams)+len(decl.Consumers) || len(first.Updated) != 0 {
		t.Fatalf("first apply: %+v", first)
	}
	before := snapshot(t, js, decl)
	second, err := streams.Apply(ctx, js, decl, 1, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Created)+len(second.Updated) != 0 {
		t.Fatalf("second apply changed %+v", second)
	}
	after := snapshot(t, js, decl)
	for name, cfg := range before {
		if after[name] != cfg {
			t.Fatalf("%s changed on the second apply:\n%s\n%s", name, cfg, after[name])
		}
	}

	events, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	cfg := events.CachedInfo().Config
	if !cfg.DenyDelete || !cfg.DenyPurge || cfg.Storage != jetstream.FileStorage || !cfg.AllowAtomicPublish {
		t.Fatalf("EVENTS is not immutable file storage with atomic batches: %+v", cfg)
	}
	if err := events.Purge(ctx); err == nil {
		t.Fatal("EVENTS accepted a purge")
	}

	// A stream changed by hand is brought back to the declaration.
	declared := cfg.Duplicates
	cfg.Duplicates = declared / 2
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	third, err := streams.Apply(ctx, js, decl, 1, log)
	if err != nil || len(third.Created) != 0 || !slices.Equal(third.Updated, []string{"stream EVENTS: duplicate_window 5m0s -> 10m0s"}) {
		t.Fatalf("apply after a manual change: %+v %v", third, err)
	}
	events, _ = js.Stream(ctx, "EVENTS")
	if events.CachedInfo().Config.Duplicates != declared {
		t.Fatalf("duplicate window %s, declared %s", events.CachedInfo().Config.Duplicates, declared)
	}
}

func snapshot(t *testing.T, js jetstream.JetStream, d streams.Declaration) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for _, s := range d.Streams {
		st, err := js.Stream(ctx, s.Name)
		if err != nil {
			t.Fatal(err)
		}
		info := st.CachedInfo()
		out["stream "+s.Name] = info.Created.String() + " " + jsonOf(info.Config)
	}
	for _, c := range d.Consumers {
		cons, err := js.Consumer(ctx, c.Stream, c.Name)
		if err != nil {
			t.Fatal(err)
		}
		info := cons.CachedInfo()
		out["consumer "+c.Name] = info.Created.String() + " " + jsonOf(info.Config)
	}
	return out
}

func TestParseRejectsIncompleteDeclarations(t *testing.T) {
	for name, yaml := range map[string]string{
		"stream without subjects": "streams:\n  - name: A\n",
		"unknown storage":         "streams:\n  - name: A\n    subjects: [a]\n    storage: tape\n",
		"consumer on no stream":   "streams:\n  - name: A\n    subjects: [a]\nconsumers:\n  - stream: B\n    name: c\n",
		"unknown ack policy":      "streams:\n  - name: A\n    subjects: [a]\nconsumers:\n  - stream: A\n    name: c\n    ack_policy: maybe\n",
		"not yaml":                "streams: [",
	} {
		if _, err := streams.Parse([]byte(yaml)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A server set up before commands could be scheduled is brought to the
// declaration: COMMANDS takes message schedules, and the workers' consumer
// leaves the schedules alone.
func TestApplyTurnsOnCommandSchedules(t *testing.T) {
	js := startServer(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	before, err := streams.Parse([]byte(`streams:
  - name: COMMANDS
    subjects: ["commands.>"]
    retention: workqueue
    duplicate_window: 10m
consumers:
  - stream: COMMANDS
    name: worker_commands
    ack_wait: 60s
    max_ack_pending: 1000
    max_deliver: 50
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Apply(ctx, js, before, 1, log); err != nil {
		t.Fatal(err)
	}
	decl, err := streams.Parse(rafiki.StreamsYAML)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Apply(ctx, js, decl, 1, log); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; !cfg.AllowMsgSchedules || len(cfg.Subjects) != 2 {
		t.Fatalf("COMMANDS %+v", cfg)
	}
	c, err := js.Consumer(ctx, "COMMANDS", "worker_commands")
	if err != nil {
		t.Fatal(err)
	}
	if f := c.CachedInfo().Config.FilterSubjects; len(f) != 1 || f[0] != "commands.>" {
		t.Fatalf("worker_commands reads %v", f)
	}
	msg := nats.NewMsg("commands_scheduled.x")
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithScheduleAt(time.Now().Add(time.Hour)),
		jetstream.WithScheduleTarget("commands.test.x")); err != nil {
		t.Fatalf("schedule refused: %v", err)
	}
	again, err := streams.Apply(ctx, js, decl, 1, log)
	if err != nil || len(again.Created)+len(again.Updated) != 0 {
		t.Fatalf("apply again: %+v %v", again, err)
	}
}

// A server whose workers' consumer gave up on a command after 50 deliveries
// (max_deliver), leaving it in the work queue unread when the worker of its
// last delivery crashed, is brought to the declaration: the same consumer,
// with its deliveries unlimited, since the worker limits them itself.
func TestApplyMakesCommandDeliveriesUnlimited(t *testing.T) {
	js := startServer(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	declared := string(rafiki.StreamsYAML)
	const unlimited = "    max_deliver: -1\n"
	head, workers, ok := strings.Cut(declared, "name: worker_commands\n")
	if !ok || !strings.Contains(workers, unlimited) {
		t.Fatalf("streams.yaml does not declare worker_commands with unlimited deliveries")
	}
	before, err := streams.Parse([]byte(head + "name: worker_commands\n" + strings.Replace(workers, unlimited, "    max_deliver: 50\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Apply(ctx, js, before, 1, log); err != nil {
		t.Fatal(err)
	}
	c, err := js.Consumer(ctx, "COMMANDS", "worker_commands")
	if err != nil {
		t.Fatal(err)
	}
	created := c.CachedInfo().Created
	if got := c.CachedInfo().Config.MaxDeliver; got != 50 {
		t.Fatalf("worker_commands set up with max_deliver %d, want 50", got)
	}
	// A command waiting in the queue stays there. The consumer counts it
	// a moment after the stream acknowledged it.
	if _, err := js.Publish(ctx, "commands.test.x", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	pending := func() uint64 {
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.NumPending
	}
	testkit.Eventually(t, 5*time.Second, func() bool { return pending() == 1 }, "worker_commands never counted the command")

	decl, err := streams.Parse(rafiki.StreamsYAML)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := streams.Apply(ctx, js, decl, 1, log)
	if err != nil || len(ch.Created) != 0 || !slices.Equal(ch.Updated, []string{"consumer worker_commands on stream COMMANDS: max_deliver 50 -> -1"}) {
		t.Fatalf("apply: %+v %v", ch, err)
	}
	c, err = js.Consumer(ctx, "COMMANDS", "worker_commands")
	if err != nil {
		t.Fatal(err)
	}
	info := c.CachedInfo()
	if info.Config.MaxDeliver != -1 {
		t.Fatalf("worker_commands max_deliver %d, want unlimited (-1)", info.Config.MaxDeliver)
	}
	if !info.Created.Equal(created) {
		t.Fatalf("worker_commands created %s (was %s); want the same consumer", info.Created, created)
	}
	testkit.Eventually(t, 5*time.Second, func() bool { return pending() == 1 }, "worker_commands lost its command")
	again, err := streams.Apply(ctx, js, decl, 1, log)
	if err != nil || len(again.Created)+len(again.Updated) != 0 {
		t.Fatalf("apply again: %+v %v", again, err)
	}
}

// Parse accepts only complete declarations, and never panics.
func FuzzParse(f *testing.F) {
	f.Add(string(rafiki.StreamsYAML))
	f.Add(declared)
	f.Add("streams:\n  - name: A\n    subjects: [a]\n    duplicate_window: x\n")
	f.Fuzz(func(t *testing.T, yaml string) {
		d, err := streams.Parse([]byte(yaml))
		if err != nil {
			return
		}
		names := map[string]bool{}
		for _, s := range d.Streams {
			if s.Name == "" || len(s.Subjects) == 0 {
				t.Fatalf("accepted stream %+v", s)
			}
			names[s.Name] = true
			_ = s.StreamConfig(0)
		}
		for _, c := range d.Consumers {
			if c.Name == "" || !names[c.Stream] {
				t.Fatalf("accepted consumer %+v", c)
			}
			_ = c.ConsumerConfig()
		}
	})
}
