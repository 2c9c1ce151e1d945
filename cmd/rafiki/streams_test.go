package main_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/secrets"
	"github.com/rafiki-go/rafiki/testkit"
)

// closedAddress is a local address on which nothing listens.
func closedAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestOnlyStreamsApplyChangesStreams runs the tools and services, without
// NATS_STREAM_REPLICAS, against a server whose event stream differs from
// streams.yaml (as a production stream's replicas would from a shell
// without the setting): the tools run and change nothing, and each opens
// only what it reads; backend and worker refuse to start, naming the
// difference; `rafiki streams check` reports it, and only `rafiki streams
// apply` changes it.
func TestOnlyStreamsApplyChangesStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildRafiki(t)
	n := testkit.StartNATS(t, false)
	ctx := context.Background()
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tenantID := uuid.NewString()
	keys, err := secrets.New(n.JS, app.KeysStream, testkit.EventSecretsKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.NewHandler(handlers.SealSecrets(store, keys), tenantID, "test.rafiki", "").EnsureOperator(ctx, "secret"); err != nil {
		t.Fatal(err)
	}
	events, err := n.JS.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	cfg := events.CachedInfo().Config
	declared := cfg.Duplicates
	cfg.Duplicates = declared / 2
	if _, err := n.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	before := testkit.DeclaredConfigs(t, n.JS)

	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NATS_STREAM_REPLICAS=") {
			base = append(base, kv)
		}
	}
	databaseURL, authDatabaseURL := testkit.NewDatabase(t), testkit.NewDatabase(t)
	closedNATS := "nats://" + closedAddress(t)
	closedPostgres := "postgres://postgres@" + closedAddress(t) + "/none?sslmode=disable"
	closedRedis := "redis://" + closedAddress(t)
	run := func(set map[string]string, args ...string) (string, error) {
		t.Helper()
		env := append([]string{}, base...)
		env = append(env, "DATA_DIR="+t.TempDir(), "AUTH_DATABASE_URL="+authDatabaseURL, "ADMIN_API_SECRET=tools-secret", "OPERATOR_TENANT_ID="+tenantID,
			"EVENT_SECRETS_KEY="+base64.StdEncoding.EncodeToString(testkit.EventSecretsKey),
			fmt.Sprintf("OPEN_PAYMENTS_PORT=%d", testkit.FreePort(t)), fmt.Sprintf("ADMIN_PORT=%d", testkit.FreePort(t)),
			fmt.Sprintf("CONNECTOR_PORT=%d", testkit.FreePort(t)), fmt.Sprintf("EMBEDDED_NATS_PORT=%d", testkit.FreePort(t)))
		for k, v := range set {
			env = append(env, k+"="+v)
		}
		runCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := exec.CommandContext(runCtx, bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	unchanged := func(after string) {
		t.Helper()
		now := testkit.DeclaredConfigs(t, n.JS)
		for name, cfg := range before {
			if now[name] != cfg {
				t.Fatalf("%s changed %s:\nbefore %s\nafter  %s", name, after, cfg, now[name])
			}
		}
	}

	// The audit needs NATS only.
	out, err := run(map[string]string{"NATS_URL": n.URL, "DATABASE_URL": closedPostgres, "REDIS_URL": closedRedis}, "events", tenantID)
	if err != nil || !strings.Contains(out, "tenant.created") {
		t.Fatalf("events with no Postgres or Redis: %v\n%s", err, out)
	}
	unchanged("by rafiki events")

	// The ledger check reads the ledger and the events that explain it; it
	// does not migrate the ledger's database.
	out, err = run(map[string]string{"NATS_URL": n.URL, "DATABASE_URL": databaseURL}, "ledger", "check")
	if err == nil || !strings.Contains(out, "rafiki migrate") {
		t.Fatalf("ledger check of an unmigrated database: %v\n%s", err, out)
	}
	out, err = run(map[string]string{"NATS_URL": closedNATS, "DATABASE_URL": databaseURL}, "replay", "tenants")
	if err == nil {
		t.Fatalf("replay with no NATS: %s", out)
	}
	if out, err := run(map[string]string{"NATS_URL": closedNATS, "DATABASE_URL": databaseURL}, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err = run(map[string]string{"NATS_URL": n.URL, "DATABASE_URL": databaseURL, "REDIS_URL": closedRedis}, "ledger", "check")
	if err != nil || !strings.Contains(out, "every ledger balances") {
		t.Fatalf("ledger check with no Redis: %v\n%s", err, out)
	}
	unchanged("by rafiki ledger check")

	// A replay reads NATS and writes read models.
	out, err = run(map[string]string{"NATS_URL": n.URL, "DATABASE_URL": databaseURL, "REDIS_URL": closedRedis}, "replay", "tenants")
	if err != nil || !strings.Contains(out, "replayed tenants: 1 events") {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	unchanged("by rafiki replay")

	// Services other than dev refuse to start, naming the difference.
	want := fmt.Sprintf("stream EVENTS: duplicate_window declared %s, found %s", declared, declared/2)
	for _, service := range []string{"backend", "worker"} {
		out, err = run(map[string]string{"NATS_URL": n.URL, "DATABASE_URL": databaseURL, "REDIS_URL": testkit.RedisURL()}, service)
		if err == nil || !strings.Contains(out, want) {
			t.Fatalf("%s on streams that differ: %v, want %q in\n%s", service, err, want, out)
		}
	}
	out, err = run(map[string]string{"NATS_URL": n.URL}, "streams", "check")
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("streams check: %v\n%s", err, out)
	}
	unchanged("by a refused start or a check")

	out, err = run(map[string]string{"NATS_URL": n.URL}, "streams", "apply")
	if err != nil || !strings.Contains(out, fmt.Sprintf("updated stream EVENTS: duplicate_window %s -> %s", declared/2, declared)) ||
		!strings.Contains(out, "0 created, 1 updated") {
		t.Fatalf("streams apply: %v\n%s", err, out)
	}
	out, err = run(map[string]string{"NATS_URL": n.URL}, "streams", "check")
	if err != nil || !strings.Contains(out, "the server matches") {
		t.Fatalf("streams check after apply: %v\n%s", err, out)
	}
}
