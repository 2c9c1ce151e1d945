package systemtest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	rafiki "github.com/rafiki-go/rafiki"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/streams"
	"github.com/rafiki-go/rafiki/testkit"
)

// rig is the harness (H) as benchmarks use it, with what only they need.
type rig struct{ *H }

func newRig(tb testing.TB) *rig { return &rig{newHarness(tb)} }

// rafiki configures an installation as H.NewRafiki does, on dataDir and
// the database dbName of the shared PostgreSQL and the auth database
// dbName_auth, which the services create when they are missing; the caller
// decides whether they outlive the benchmark.
func (g *rig) rafiki(dataDir, dbName, tenantID, secret string, set map[string]string) *Rafiki {
	g.t.Helper()
	ports := freePorts(g.t, len(portVars))
	r := &Rafiki{h: g.H, Env: map[string]string{}, Ports: map[string]int{}, TenantID: tenantID, Secret: secret}
	for i, v := range portVars {
		r.Ports[v] = ports[i]
		r.Env[v] = strconv.Itoa(ports[i])
	}
	r.Env["DATA_DIR"] = dataDir
	r.Env["REDIS_URL"] = testkit.RedisURL()
	r.Env["OPERATOR_TENANT_ID"] = tenantID
	r.Env["ADMIN_API_SECRET"] = secret
	r.Env["EVENT_SECRETS_KEY"] = base64.StdEncoding.EncodeToString(testkit.EventSecretsKey)
	r.Env["OPEN_PAYMENTS_URL"] = fmt.Sprintf("http://127.0.0.1:%d", r.Ports["OPEN_PAYMENTS_PORT"])
	r.Env["NATS_URL"] = ""
	r.Env["DATABASE_URL"] = withDatabase(testkit.PostgresURL(), dbName)
	r.Env["AUTH_DATABASE_URL"] = withDatabase(testkit.PostgresURL(), dbName+"_auth")
	for k, v := range set {
		r.Env[k] = v
	}
	r.DatabaseURL = r.Env["DATABASE_URL"]
	return r
}

// freshDatabase names a database of the shared PostgreSQL that is dropped
// when the benchmark ends, with its auth database (rafiki's).
func (g *rig) freshDatabase() string {
	name := fmt.Sprintf("rafiki_bench_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, databaseCounter.Add(1))
	g.t.Cleanup(func() {
		dropDatabase(testkit.PostgresURL(), name)
		dropDatabase(testkit.PostgresURL(), name+"_auth")
	})
	return name
}

// run starts `rafiki <args>` of an installation; set overrides settings
// for this process only.
func (g *rig) run(r *Rafiki, name string, set map[string]string, args ...string) *Process {
	g.t.Helper()
	return g.Start(name, r.Environ(set), rafikiBinary(g.t), args...)
}

// awaitReady waits until a service has said it is ready.
func awaitReady(tb testing.TB, p *Process, timeout time.Duration) {
	tb.Helper()
	if err := p.AwaitLine(timeout, "msg=ready"); err != nil {
		tb.Fatal(err)
	}
}

// natsServer starts a nats-server with JetStream on a free port and a store
// of its own, with the server's default settings, as NATSServer does.
func (g *rig) natsServer(name string) (url string, p *Process) {
	g.t.Helper()
	port := freePorts(g.t, 1)[0]
	store := filepath.Join(g.t.TempDir(), name)
	p = g.Start(name, baseEnv(), natsServerBinary(g.t), "-js", "-sd", store, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-n", name)
	url = fmt.Sprintf("nats://127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := jetStreamAnswers(url); err == nil {
			return url, p
		} else if p.Exited() || time.Now().After(deadline) {
			g.t.Fatalf("%s: JetStream not available: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jetStreamAnswers(url string) error {
	js, closeConn, err := jetStreamAt(url)
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

// lastEvents is, for each projection, the stream sequence of the last
// event its consumer's filter matches (0 when none).
func lastEvents(ctx context.Context, js jetstream.JetStream) (map[string]uint64, error) {
	decl, err := streams.Parse(rafiki.StreamsYAML)
	if err != nil {
		return nil, err
	}
	stream, err := js.Stream(ctx, app.EventsStream)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, p := range app.Projections(nil) {
		consumer, ok := decl.Consumer(projections.ConsumerName(p))
		if !ok || len(consumer.FilterSubjects) != 1 {
			return nil, fmt.Errorf("streams.yaml declares no consumer %s with one filter", projections.ConsumerName(p))
		}
		msg, err := stream.GetLastMsgForSubject(ctx, consumer.FilterSubjects[0])
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			out[p.Name()] = 0
		case err != nil:
			return nil, fmt.Errorf("last event of %s: %w", p.Name(), err)
		default:
			out[p.Name()] = msg.Sequence
		}
	}
	return out, nil
}

// checkpointSequences reads projection_checkpoints.
func checkpointSequences(ctx context.Context, pool *pgxpool.Pool) (map[string]uint64, error) {
	rows, err := pool.Query(ctx, `SELECT name, sequence FROM projection_checkpoints`)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	var name string
	var seq int64
	_, err = pgx.ForEachRow(rows, []any{&name, &seq}, func() error {
		out[name] = uint64(seq)
		return nil
	})
	return out, err
}

// awaitCaughtUp waits until every projection's checkpoint has reached the
// last event of its filter, as waitCaughtUp does, and returns the
// checkpoints.
func awaitCaughtUp(tb testing.TB, pool *pgxpool.Pool, js jetstream.JetStream, timeout time.Duration, progress func(behind map[string]uint64)) map[string]uint64 {
	tb.Helper()
	ctx := context.Background()
	last, err := lastEvents(ctx, js)
	if err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	report := time.Now()
	for {
		got, err := checkpointSequences(ctx, pool)
		if err != nil && time.Now().After(deadline) {
			tb.Fatal(err)
		}
		behind := map[string]uint64{}
		for name, want := range last {
			if got[name] < want {
				behind[name] = want - got[name]
			}
		}
		if err == nil && len(behind) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("projections behind their last events after %s: %v (checkpoints %v, last events %v)", timeout, behind, got, last)
		}
		if progress != nil && time.Since(report) > 10*time.Second {
			progress(behind)
			report = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leaseHolders names, for each projection whose lease is held, the
// application_name of the connection holding it (see leaders).
func leaseHolders(ctx context.Context, pool *pgxpool.Pool) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range projectionNames() {
		key := uint64(leaseKey(name))
		var holder string
		err := pool.QueryRow(ctx, `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
			int64(key>>32), int64(key&0xffffffff)).Scan(&holder)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, err
		default:
			out[name] = holder
		}
	}
	return out, nil
}

// readyz reports whether GET /readyz on a port answers 200, and what it
// answered.
func readyz(client *http.Client, port int) (bool, string) {
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK, fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

// loadAverage is the 1-minute load average, as text.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// logTime is the time= of a service's first log line holding every one of
// parts.
func logTime(p *Process, parts ...string) (time.Time, bool) {
	for line := range strings.Lines(p.Output()) {
		all := true
		for _, part := range parts {
			all = all && strings.Contains(line, part)
		}
		if !all || !strings.HasPrefix(line, "time=") {
			continue
		}
		stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err == nil {
			return at, true
		}
	}
	return time.Time{}, false
}

// jetStreamAt connects to a NATS server; closeConn closes the connection.
func jetStreamAt(url string) (js jetstream.JetStream, closeConn func(), err error) {
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second), nats.SyncQueueLen(8192))
	if err != nil {
		return nil, nil, fmt.Errorf("nats at %s: %w", url, err)
	}
	js, err = jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return js, nc.Close, nil
}
