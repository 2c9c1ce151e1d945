package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/testkit"
)

// probe answers a health endpoint of the admin listener: the status code
// and what each check found.
func (s *system) probe(t *testing.T, path string) (int, map[string]string) {
	t.Helper()
	base := strings.TrimSuffix(s.adminURL, "/graphql")
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var report struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(body, &report); err != nil {
		t.Fatalf("%s: %v: %s", path, err, body)
	}
	return resp.StatusCode, report.Checks
}

const assetsQuery = `{ assets(first: 1) { edges { node { id } } } }`

// A request that cannot get a database connection ends at its deadline with
// SERVICE_UNAVAILABLE, and readiness says why, while liveness holds.
func TestDeadlineAndReadinessWhenThePoolIsExhausted(t *testing.T) {
	s := startSystem(t, false, func(c *config.Config) {
		c.DatabaseURL += "&pool_max_conns=1"
		c.RequestTimeout = 1500 * time.Millisecond
		c.ReadYourWritesTimeout = time.Second
	})
	ctx := context.Background()
	testkit.Eventually(t, 5*time.Second, func() bool { status, _ := s.probe(t, "/healthz"); return status == http.StatusOK }, "ready")
	if _, checks := s.probe(t, "/healthz"); checks["postgres"] != "ok" || checks["redis"] != "ok" {
		t.Fatalf("healthz before: %v", checks)
	}
	held, err := s.running.Deps.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err = s.operator.Do(ctx, assetsQuery, nil, nil)
	if took := time.Since(began); code(t, err) != "SERVICE_UNAVAILABLE" || took > 3*time.Second {
		t.Fatalf("query with the pool held: %v after %s, want SERVICE_UNAVAILABLE after about 1.5 s", err, took)
	}
	time.Sleep(time.Second) // past the cached answer
	if status, checks := s.probe(t, "/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(checks["postgres"], "no connection from the pool") {
		t.Fatalf("readyz with the pool held: %d %v", status, checks)
	}
	if status, _ := s.probe(t, "/healthz"); status != http.StatusServiceUnavailable {
		t.Fatalf("healthz with the pool held: %d", status)
	}
	if status, _ := s.probe(t, "/livez"); status != http.StatusOK {
		t.Fatalf("livez with the pool held: %d", status)
	}
	held.Release()
	if err := s.operator.Do(ctx, assetsQuery, nil, nil); err != nil {
		t.Fatalf("query after the pool was freed: %v", err)
	}
	testkit.Eventually(t, 5*time.Second, func() bool { status, _ := s.probe(t, "/healthz"); return status == http.StatusOK }, "ready again")
}

// While the NATS server is down, changes fail at once with
// SERVICE_UNAVAILABLE and readiness says so; once it is back, the same
// process serves again and nothing acknowledged before is lost.
func TestNATSOutage(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	before, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.nats.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	testkit.StopNATS(s.nats)
	testkit.Eventually(t, 5*time.Second, func() bool { return !s.running.Deps.NC.IsConnected() }, "client saw the server go")
	began := time.Now()
	_, err = createAsset(ctx, s.operator, "EUR", 2, nil)
	if took := time.Since(began); code(t, err) != "SERVICE_UNAVAILABLE" || took > time.Second {
		t.Fatalf("create while NATS is down: %v after %s, want SERVICE_UNAVAILABLE at once", err, took)
	}
	time.Sleep(time.Second) // past the cached answer
	if status, checks := s.probe(t, "/healthz"); status != http.StatusServiceUnavailable || checks["nats"] == "ok" {
		t.Fatalf("healthz while NATS is down: %d %v", status, checks)
	}

	testkit.StartNATSAgain(t, s.nats, port, false)
	var after assetOut
	testkit.Eventually(t, 30*time.Second, func() bool {
		after, err = createAsset(ctx, s.operator, "EUR", 2, nil)
		return err == nil
	}, "create after NATS came back: %v", err)
	for _, id := range []string{before.ID, after.ID} {
		if got, err := getAsset(ctx, s.operator, id); err != nil || got.ID != id {
			t.Fatalf("asset %s after the outage: %+v %v", id, got, err)
		}
	}
	testkit.Eventually(t, 10*time.Second, func() bool { status, _ := s.probe(t, "/healthz"); return status == http.StatusOK }, "ready again")
}

// A worker without a backend serves its health endpoints on
// WORKER_HEALTH_PORT, and only when it is set.
func TestWorkerHealthEndpoints(t *testing.T) {
	n := testkit.StartNATS(t, false)
	port := testkit.FreePort(t)
	cfg := config.Config{
		OperatorTenantID: uuid.NewString(), AdminAPISecret: "operator", AdminSignatureVersion: 1,
		DatabaseURL: testkit.NewDatabase(t), AuthDatabaseURL: testkit.NewDatabase(t), RedisURL: testkit.RedisURL(), NATSURL: n.URL, NATSStreamReplicas: 1,
		ReadYourWritesTimeout: time.Second, RequestTimeout: 2 * time.Second, ShutdownTimeout: 5 * time.Second,
		IncomingPaymentExpiryMax: 30 * 24 * time.Hour, QuoteLifespan: 5 * time.Minute, OutgoingPaymentRetryAttempts: 5,
		StreamSecret: make([]byte, 32), WorkerHealthPort: port, EventSecretsKey: testkit.EventSecretsKey,
	}
	r, err := app.Start(context.Background(), cfg, testLogger(), app.Set{Worker: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Stop(stop)
	}()
	if len(r.Listeners) != 1 || r.Listeners[0].Name != app.WorkerHealthListener {
		t.Fatalf("a worker's listeners: %+v", r.Listeners)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	var body string
	testkit.Eventually(t, 10*time.Second, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	}, "worker ready: %s", body)
	for _, check := range []string{`"postgres":"ok"`, `"auth_postgres":"ok"`, `"nats":"ok"`, `"projections":"ok"`, `"webhooks":"ok"`} {
		if !strings.Contains(body, check) {
			t.Fatalf("worker readiness %s lacks %s", body, check)
		}
	}
	resp, err := http.Get(base + "/livez")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("worker liveness: %v %v", resp, err)
	}
	resp.Body.Close()

	cfg.WorkerHealthPort = 0
	quiet, err := app.Start(context.Background(), cfg, testLogger(), app.Set{Worker: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		quiet.Stop(stop)
	}()
	if len(quiet.Listeners) != 0 {
		t.Fatalf("a worker without WORKER_HEALTH_PORT listens on %+v", quiet.Listeners)
	}
}

// An event a projection cannot apply is set aside: the projection goes on
// (a mutation after it is answered from its read model), and readiness
// still passes but tells of it, in every listener's answer.
func TestReadinessShowsEventsSetAside(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	env := events.Envelope{ID: uuid.New(), Type: events.AssetCreated{}.EventType(), SchemaVersion: 1, AggregateType: "asset",
		AggregateID: "not-a-uuid", TenantID: s.running.Config.OperatorTenantID, Time: time.Now(),
		Data: []byte(`{"code":"XXX","scale":2,"ledger":99999}`)}
	data, err := events.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	subject := fmt.Sprintf("events.%s.asset.not-a-uuid", env.TenantID)
	if _, err := s.running.Deps.JS.Publish(ctx, subject, data); err != nil {
		t.Fatal(err)
	}
	want := "ok: events set aside (projection_set_aside): assets 1"
	var checks map[string]string
	var status int
	testkit.Eventually(t, 10*time.Second, func() bool {
		status, checks = s.probe(t, "/readyz")
		return checks["projections"] == want
	}, "readiness does not tell of the event set aside: %d %v", status, checks)
	if status != http.StatusOK {
		t.Fatalf("readiness with an event set aside: %d %v, want 200", status, checks)
	}
	if _, err := createAsset(ctx, s.operator, "USD", 2, nil); err != nil {
		t.Fatalf("create an asset after the event set aside: %v", err)
	}
}
