package app_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/streams"
	"github.com/rafiki-go/rafiki/testkit"
)

// closedURL is an address on which nothing listens.
func closedURL(t *testing.T, scheme string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return scheme + "://" + addr
}

func serviceConfig(t *testing.T, natsURL string, replicas int) config.Config {
	return config.Config{
		OperatorTenantID: uuid.NewString(), AdminAPISecret: "operator", AdminSignatureVersion: 1,
		DatabaseURL: testkit.NewDatabase(t), AuthDatabaseURL: testkit.NewDatabase(t), RedisURL: testkit.RedisURL(), NATSURL: natsURL, NATSStreamReplicas: replicas,
		ReadYourWritesTimeout: time.Second, RequestTimeout: 2 * time.Second, ShutdownTimeout: 5 * time.Second,
		IncomingPaymentExpiryMax: 30 * 24 * time.Hour, QuoteLifespan: 5 * time.Minute, OutgoingPaymentRetryAttempts: 5,
		StreamSecret: make([]byte, 32), EventSecretsKey: testkit.EventSecretsKey,
		AuthServerURL: "http://localhost:3006", CookieKey: "cookie-key-of-the-tests",
	}
}

// A service other than dev refuses to start on streams that differ from
// streams.yaml, names each difference, and changes none of them; dev makes
// them match.
func TestServicesRefuseStreamsThatDiffer(t *testing.T) {
	n := testkit.StartNATS(t, false)
	ctx := context.Background()
	events, err := n.JS.Stream(ctx, app.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := events.CachedInfo().Config
	declared := cfg.Duplicates
	cfg.Duplicates = declared / 2
	if _, err := n.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := n.JS.DeleteConsumer(ctx, app.EventsStream, "projection_peers"); err != nil {
		t.Fatal(err)
	}

	for _, set := range []app.Set{{Backend: true}, {Worker: true}} {
		r, err := app.Start(ctx, serviceConfig(t, n.URL, 0), testLogger(), set, false)
		if err == nil {
			r.Stop(ctx)
			t.Fatalf("%+v started on streams that differ from streams.yaml", set)
		}
		var mismatch *streams.MismatchError
		if !errors.As(err, &mismatch) || len(mismatch.Mismatches) != 2 {
			t.Fatalf("%+v: %v, want the two differences", set, err)
		}
		for _, part := range []string{
			fmt.Sprintf("stream EVENTS: duplicate_window declared %s, found %s", declared, declared/2),
			"consumer projection_peers on stream EVENTS: missing",
			"rafiki streams apply",
		} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("%+v: %q does not say %q", set, err, part)
			}
		}
	}
	events, err = n.JS.Stream(ctx, app.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := events.CachedInfo().Config.Duplicates; got != declared/2 {
		t.Fatalf("a refused start changed the duplicate window to %s", got)
	}
	if _, err := n.JS.Consumer(ctx, app.EventsStream, "projection_peers"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("a refused start created projection_peers: %v", err)
	}

	d, err := app.Open(ctx, serviceConfig(t, n.URL, 0), testLogger(), app.Set{Backend: true, Auth: true, Worker: true}, true)
	if err != nil {
		t.Fatalf("dev: %v", err)
	}
	defer d.Close()
	if left, err := streams.Check(ctx, n.JS, d.Streams, 0); err != nil || len(left) != 0 {
		t.Fatalf("after dev started: %v %v", left, err)
	}
}

// NATS_STREAM_REPLICAS, when set, must be what the streams have; unset, a
// service takes what they have.
func TestServicesCheckReplicasOnlyWhenSet(t *testing.T) {
	n := testkit.StartNATS(t, false)
	ctx := context.Background()
	_, err := app.Open(ctx, serviceConfig(t, n.URL, 3), testLogger(), app.Set{Backend: true}, false)
	if err == nil || !strings.Contains(err.Error(), "stream EVENTS: replicas declared 3, found 1") {
		t.Fatalf("open with 3 replicas on R1 streams: %v", err)
	}
	for _, replicas := range []int{0, 1} {
		d, err := app.Open(ctx, serviceConfig(t, n.URL, replicas), testLogger(), app.Set{Backend: true}, false)
		if err != nil {
			t.Fatalf("replicas %d: %v", replicas, err)
		}
		d.Close()
	}
}

// A tool opens only what it asks for: without a database or Redis for
// NATS, without NATS for the ledger, and it does not migrate.
func TestToolsOpenOnlyWhatTheyNeed(t *testing.T) {
	n := testkit.StartNATS(t, false)
	ctx := context.Background()

	cfg := serviceConfig(t, n.URL, 3)
	cfg.DatabaseURL = closedURL(t, "postgres") + "/none?sslmode=disable"
	cfg.RedisURL = closedURL(t, "redis")
	d, err := app.OpenTool(ctx, cfg, testLogger(), app.ToolNeeds{NATS: true}, false)
	if err != nil {
		t.Fatalf("NATS only: %v", err)
	}
	if d.Pool != nil || d.Redis != nil || d.Store != nil {
		t.Fatalf("NATS only opened more: %+v", d)
	}
	d.Close()

	cfg = serviceConfig(t, closedURL(t, "nats"), 0)
	_, err = app.OpenTool(ctx, cfg, testLogger(), app.ToolNeeds{Ledger: true}, false)
	if err == nil || !strings.Contains(err.Error(), "rafiki migrate") {
		t.Fatalf("ledger on an unmigrated database: %v", err)
	}
	pool := testkit.Pool(t, cfg.DatabaseURL)
	var tables int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("a tool created %d tables", tables)
	}
	// A service migrates it; the tool then opens the ledger, NATS unreachable.
	migrated := serviceConfig(t, n.URL, 0)
	migrated.DatabaseURL = cfg.DatabaseURL
	s, err := app.Open(ctx, migrated, testLogger(), app.Set{Backend: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	d, err = app.OpenTool(ctx, cfg, testLogger(), app.ToolNeeds{Ledger: true}, false)
	if err != nil {
		t.Fatalf("ledger without NATS: %v", err)
	}
	if d.Ledger == nil || d.NC != nil {
		t.Fatalf("ledger only: %+v", d)
	}
	d.Close()
}

// A service refuses an event stream shorter than what its read models have
// read, in either database: the backend's, and the auth service's grants,
// which its runner would otherwise rebuild, emptied, from a new stream met
// by mistake (every token then inactive).
func TestServicesRefuseAStreamShorterThanTheirReadModels(t *testing.T) {
	n := testkit.StartNATS(t, false)
	ctx := context.Background()
	cfg := serviceConfig(t, n.URL, 0)
	d, err := app.Open(ctx, cfg, testLogger(), app.Set{Backend: true, Auth: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	for _, c := range []struct {
		name, databaseURL, projection string
		set                           app.Set
		want                          string
	}{
		{"auth", cfg.AuthDatabaseURL, "grants", app.Set{Auth: true}, "AUTH_DATABASE_URL: the read model grants has read up to event 1000"},
		{"backend", cfg.DatabaseURL, "peers", app.Set{Backend: true}, "the read model peers has read up to event 1000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := app.Open(ctx, cfg, testLogger(), c.set, false)
			if err != nil {
				t.Fatalf("before its read model read past the stream: %v", err)
			}
			d.Close()
			pool := testkit.Pool(t, c.databaseURL)
			if _, err := pool.Exec(ctx, `INSERT INTO projection_checkpoints (name, sequence) VALUES ($1, 1000)
				ON CONFLICT (name) DO UPDATE SET sequence = 1000`, c.projection); err != nil {
				t.Fatal(err)
			}
			refused, err := app.Open(ctx, cfg, testLogger(), c.set, false)
			if err == nil {
				refused.Close()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not the stream the read models were built from") {
				t.Fatalf("open on a stream shorter than %s's checkpoint: %v", c.projection, err)
			}
			if _, err := pool.Exec(ctx, `UPDATE projection_checkpoints SET sequence = 0 WHERE name = $1`, c.projection); err != nil {
				t.Fatal(err)
			}
		})
	}
}
