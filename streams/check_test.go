package streams_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/rafiki-go/rafiki/streams"
)

// declared is the declaration the check tests compare servers with; each
// case sets a server up from an edited copy of it.
const declared = `streams:
  - name: S
    subjects: ["s.>", "t.>"]
    storage: file
    retention: limits
    deny_delete: true
    deny_purge: true
    allow_atomic: true
    allow_direct: true
    duplicate_window: 10m
  - name: Q
    subjects: ["q.>"]
    retention: workqueue
    allow_msg_schedules: true
consumers:
  - stream: S
    name: c
    filter_subjects: ["s.a.>"]
    ack_policy: all
    ack_wait: 30s
    max_ack_pending: 100
    max_deliver: -1
`

func parse(t *testing.T, yaml string) streams.Declaration {
	t.Helper()
	d, err := streams.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// edit replaces one part of the declaration, which must hold it once.
func edit(t *testing.T, from, to string) string {
	t.Helper()
	if strings.Count(declared, from) != 1 {
		t.Fatalf("the declaration holds %q %d times", from, strings.Count(declared, from))
	}
	return strings.Replace(declared, from, to, 1)
}

func TestCheckNamesEachMismatch(t *testing.T) {
	consumer := "  - stream: S\n    name: c\n"
	for _, tc := range []struct {
		name, from, to string
		want           []streams.Mismatch
		// immutable: the server refuses to change this on an existing
		// stream or consumer, and Apply's error names the change.
		immutable string
	}{
		{"subjects", `["s.>", "t.>"]`, `["s.>"]`, []streams.Mismatch{{Stream: "S", Field: "subjects", Declared: "[s.>, t.>]", Found: "[s.>]"}}, ""},
		{"storage", "storage: file", "storage: memory", []streams.Mismatch{{Stream: "S", Field: "storage", Declared: "file", Found: "memory"}}, "update stream S (storage memory -> file)"},
		{"retention", "retention: limits", "retention: interest", []streams.Mismatch{{Stream: "S", Field: "retention", Declared: "limits", Found: "interest"}}, ""},
		{"deny delete", "deny_delete: true", "deny_delete: false", []streams.Mismatch{{Stream: "S", Field: "deny_delete", Declared: "true", Found: "false"}}, ""},
		{"deny purge", "deny_purge: true", "deny_purge: false", []streams.Mismatch{{Stream: "S", Field: "deny_purge", Declared: "true", Found: "false"}}, ""},
		{"atomic", "allow_atomic: true", "allow_atomic: false", []streams.Mismatch{{Stream: "S", Field: "allow_atomic", Declared: "true", Found: "false"}}, ""},
		{"direct", "allow_direct: true", "allow_direct: false", []streams.Mismatch{{Stream: "S", Field: "allow_direct", Declared: "true", Found: "false"}}, ""},
		{"duplicate window", "duplicate_window: 10m", "duplicate_window: 5m", []streams.Mismatch{{Stream: "S", Field: "duplicate_window", Declared: "10m0s", Found: "5m0s"}}, ""},
		{"schedules", "allow_msg_schedules: true", "allow_msg_schedules: false", []streams.Mismatch{{Stream: "Q", Field: "allow_msg_schedules", Declared: "true", Found: "false"}}, ""},
		{"filter", `["s.a.>"]`, `["s.b.>"]`, []streams.Mismatch{{Stream: "S", Consumer: "c", Field: "filter_subjects", Declared: "[s.a.>]", Found: "[s.b.>]"}}, ""},
		{"ack policy", "ack_policy: all", "ack_policy: explicit", []streams.Mismatch{{Stream: "S", Consumer: "c", Field: "ack_policy", Declared: "all", Found: "explicit"}}, "update consumer c on stream S (ack_policy explicit -> all)"},
		{"ack wait", "ack_wait: 30s", "ack_wait: 20s", []streams.Mismatch{{Stream: "S", Consumer: "c", Field: "ack_wait", Declared: "30s", Found: "20s"}}, ""},
		{"max ack pending", "max_ack_pending: 100", "max_ack_pending: 50", []streams.Mismatch{{Stream: "S", Consumer: "c", Field: "max_ack_pending", Declared: "100", Found: "50"}}, ""},
		{"max deliver", "max_deliver: -1", "max_deliver: 50", []streams.Mismatch{{Stream: "S", Consumer: "c", Field: "max_deliver", Declared: "-1", Found: "50"}}, ""},
		{"missing stream", "  - name: Q\n    subjects: [\"q.>\"]\n    retention: workqueue\n    allow_msg_schedules: true\n", "", []streams.Mismatch{{Stream: "Q"}}, ""},
		{"missing consumer", "consumers:\n" + consumer, "consumers:\n  - stream: S\n    name: other\n", []streams.Mismatch{{Stream: "S", Consumer: "c"}}, ""},
		// What the declaration leaves open is the server's: the order of
		// subjects, and an unlimited max_deliver asked for as 0.
		{"subjects in another order", `["s.>", "t.>"]`, `["t.>", "s.>"]`, nil, ""},
		{"unlimited deliveries as 0", "max_deliver: -1", "max_deliver: 0", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := startServer(t)
			ctx := context.Background()
			log := slog.New(slog.DiscardHandler)
			if _, err := streams.Apply(ctx, js, parse(t, edit(t, tc.from, tc.to)), 0, log); err != nil {
				t.Fatal(err)
			}
			decl := parse(t, declared)
			got, err := streams.Check(ctx, js, decl, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("check found %v, want %v", got, tc.want)
			}

			// Apply reports each change and leaves nothing to find, except
			// what the server cannot change on an existing stream.
			changes, err := streams.Apply(ctx, js, decl, 0, log)
			if tc.immutable != "" {
				if err == nil || !strings.Contains(err.Error(), tc.immutable) {
					t.Fatalf("apply: %+v %v; want an error naming %q", changes, err, tc.immutable)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var created, updated []string
			for _, m := range tc.want {
				if m.Field == "" {
					created = append(created, strings.TrimSuffix(m.String(), ": missing"))
				} else {
					updated = append(updated, strings.Split(m.String(), ":")[0]+": "+m.Field+" "+m.Found+" -> "+m.Declared)
				}
			}
			if !slices.Equal(changes.Created, created) || !slices.Equal(changes.Updated, updated) {
				t.Fatalf("apply reported %+v, want created %v, updated %v", changes, created, updated)
			}
			if left, err := streams.Check(ctx, js, decl, 0); err != nil || len(left) != 0 {
				t.Fatalf("after apply: %v %v", left, err)
			}
		})
	}
}

func TestCheckMissingStreamNamesItsConsumers(t *testing.T) {
	js := startServer(t)
	got, err := streams.Check(context.Background(), js, parse(t, declared), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []streams.Mismatch{{Stream: "S"}, {Stream: "Q"}, {Stream: "S", Consumer: "c"}}
	if !slices.Equal(got, want) {
		t.Fatalf("check of an empty server found %v, want %v", got, want)
	}
	err = &streams.MismatchError{Mismatches: got}
	for _, part := range []string{"stream S: missing", "stream Q: missing", "consumer c on stream S: missing", "rafiki streams apply"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("%q does not say %q", err, part)
		}
	}
}

// Replicas come from NATS_STREAM_REPLICAS: set, they must match; unset
// (0), any number does.
func TestCheckReplicas(t *testing.T) {
	js := startServer(t)
	ctx := context.Background()
	decl := parse(t, declared)
	if _, err := streams.Apply(ctx, js, decl, 0, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		replicas int
		want     []streams.Mismatch
	}{
		{0, nil},
		{1, nil},
		{3, []streams.Mismatch{
			{Stream: "S", Field: "replicas", Declared: "3", Found: "1"},
			{Stream: "Q", Field: "replicas", Declared: "3", Found: "1"},
		}},
	} {
		got, err := streams.Check(ctx, js, decl, tc.replicas)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("replicas %d: check found %v, want %v", tc.replicas, got, tc.want)
		}
	}
	if _, err := streams.Check(ctx, js, decl, -1); err == nil {
		t.Error("check accepted -1 replicas")
	}
}

// Settings the declaration leaves to the server (defaults it fills in) or
// does not name at all (limits an operator set) are no mismatch, and an
// update keeps them.
func TestCheckIgnoresWhatIsNotDeclared(t *testing.T) {
	js := startServer(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	open := parse(t, `streams:
  - name: S
    subjects: ["s.>"]
consumers:
  - stream: S
    name: c
`)
	if _, err := streams.Apply(ctx, js, open, 0, log); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "S")
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if cfg.Duplicates == 0 {
		t.Fatal("the server chose no duplicate window")
	}
	cfg.MaxMsgs, cfg.Description = 1000, "set by hand"
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	c, err := js.Consumer(ctx, "S", "c")
	if err != nil {
		t.Fatal(err)
	}
	if cc := c.CachedInfo().Config; cc.AckWait == 0 || cc.MaxAckPending == 0 {
		t.Fatalf("the server chose no ack wait or max ack pending: %+v", cc)
	}
	if got, err := streams.Check(ctx, js, open, 0); err != nil || len(got) != 0 {
		t.Fatalf("check: %v %v", got, err)
	}

	// An update of a declared field keeps the rest.
	moved := parse(t, `streams:
  - name: S
    subjects: ["s.>", "u.>"]
consumers:
  - stream: S
    name: c
`)
	changes, err := streams.Apply(ctx, js, moved, 0, log)
	if err != nil || !slices.Equal(changes.Updated, []string{"stream S: subjects [s.>] -> [s.>, u.>]"}) {
		t.Fatalf("apply: %+v %v", changes, err)
	}
	s, err = js.Stream(ctx, "S")
	if err != nil {
		t.Fatal(err)
	}
	after := s.CachedInfo().Config
	if after.MaxMsgs != 1000 || after.Description != "set by hand" || after.Duplicates != cfg.Duplicates {
		t.Fatalf("apply lost settings it does not declare: %+v", after)
	}
}

// Without NATS_STREAM_REPLICAS a new stream has one replica. (That an
// existing stream keeps its replicas needs a cluster: systemtest's
// TestStreamReplicasChangeOnlyByApply.)
func TestApplyCreatesOneReplicaUnlessSet(t *testing.T) {
	js := startServer(t)
	ctx := context.Background()
	decl := parse(t, declared)
	changes, err := streams.Apply(ctx, js, decl, 0, slog.New(slog.DiscardHandler))
	if err != nil || len(changes.Created) != 3 {
		t.Fatalf("apply: %+v %v", changes, err)
	}
	for _, name := range []string{"S", "Q"} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.CachedInfo().Config.Replicas; r != 1 {
			t.Fatalf("stream %s created with %d replicas, want 1", name, r)
		}
	}
	if _, err := streams.Apply(ctx, js, decl, -1, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("apply accepted -1 replicas")
	}
}
