// Package testkit starts the real dependencies tests need: an embedded
// nats-server with the declared streams, a fresh Postgres database, Redis.
package testkit

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	rafiki "github.com/rafiki-go/rafiki"
	"github.com/rafiki-go/rafiki/natsembed"
	"github.com/rafiki-go/rafiki/secrets"
	"github.com/rafiki-go/rafiki/streams"
)

// NATS is an embedded server with the project's streams applied.
type NATS struct {
	Server   *server.Server
	Conn     *nats.Conn
	JS       jetstream.JetStream
	URL      string
	StoreDir string // what the server was started with
}

// StartNATS runs a fresh server whose store lives in the test's temp dir.
func StartNATS(t testing.TB, syncAlways bool) *NATS {
	t.Helper()
	dir := t.TempDir()
	ns, err := natsembed.Start(natsembed.Options{Port: -1, StoreDir: dir, SyncAlways: syncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	n := connect(t, ns.Server)
	n.Server, n.StoreDir = ns.Server, dir
	return n
}

// RestartNATS shuts the server down and starts a new one on the same store,
// as a restarted process does; the old connection is closed.
func RestartNATS(t testing.TB, n *NATS, syncAlways bool) *NATS {
	t.Helper()
	n.Conn.Close()
	StopNATS(n)
	ns := StartNATSAgain(t, n, -1, syncAlways)
	restarted := connect(t, ns)
	restarted.Server, restarted.StoreDir = ns, n.StoreDir
	return restarted
}

// StopNATS shuts the server down; its clients stay, reconnecting.
func StopNATS(n *NATS) {
	n.Server.Shutdown()
	n.Server.WaitForShutdown()
}

// StartNATSAgain starts a server on the stopped one's store, on port (-1:
// any free port; the old one's port lets its clients reconnect).
func StartNATSAgain(t testing.TB, n *NATS, port int, syncAlways bool) *server.Server {
	t.Helper()
	ns, err := natsembed.Start(natsembed.Options{Port: port, StoreDir: n.StoreDir, SyncAlways: syncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns.Server
}

// Dial connects to a server, closed after the test, and answers a
// JetStream client on the connection.
func Dial(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func connect(t testing.TB, ns *server.Server) *NATS {
	t.Helper()
	nc, js := Dial(t, ns.ClientURL(), nats.SyncQueueLen(8192))
	decl, err := streams.Parse(rafiki.StreamsYAML)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := streams.Apply(ctx, js, decl, 1, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return &NATS{Conn: nc, JS: js, URL: ns.ClientURL()}
}

// PostgresURL is the server tests create their databases on.
func PostgresURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

var dbCounter atomic.Int64

// NewDatabase creates an empty database for one test and drops it after.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		t.Fatalf("connect to postgres: %v", err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("rafiki_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, dbCounter.Add(1))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), PostgresURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDatabase(PostgresURL(), name)
}

func withDatabase(url, name string) string {
	base, query, _ := strings.Cut(url, "?")
	i := strings.LastIndex(base, "/")
	out := base[:i+1] + name
	if query != "" {
		out += "?" + query
	}
	return out
}

// Pool opens a pool on a database and closes it after the test.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// SeqScans answers how many times a table was read whole, counting the
// scans of every connection: a connection's counts reach the shared
// statistics once it has been idle for a second, so it waits for that
// first.
func SeqScans(t testing.TB, pool *pgxpool.Pool, table string) int64 {
	t.Helper()
	time.Sleep(2500 * time.Millisecond)
	var n int64
	if err := pool.QueryRow(context.Background(), `SELECT seq_scan FROM pg_stat_user_tables WHERE relname = $1`, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// IndexBlocks answers how many blocks of an index were read, from the
// cache or not, counting every connection, as SeqScans does.
func IndexBlocks(t testing.TB, pool *pgxpool.Pool, index string) int64 {
	t.Helper()
	time.Sleep(2500 * time.Millisecond)
	var n int64
	if err := pool.QueryRow(context.Background(), `SELECT idx_blks_hit + idx_blks_read FROM pg_statio_user_indexes WHERE indexrelname = $1`,
		index).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// RedisURL is the Redis tests use.
func RedisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// Redis connects to the test Redis.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Eventually polls cond until it holds or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("not true after %s: "+msg, append([]any{timeout}, args...)...)
}

// OpenPaymentsSpec is the path of one of the Open Payments OpenAPI specs
// (auth-server.yaml, resource-server.yaml, wallet-address-server.yaml) as
// the npm package @interledger/open-payments ships them; scripts/test-deps.sh
// installs its pinned version below the module root.
func OpenPaymentsSpec(t testing.TB, name string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("Open Payments spec %s: %v", name, err)
	}
	path := filepath.Join(root, "node_modules", "@interledger", "open-payments", "dist", "openapi", "specs", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Open Payments spec %s: %v; install the test packages with ./scripts/test-deps.sh (make test runs it)", name, err)
	}
	return path
}

// moduleRoot is the nearest folder at or above the working directory that
// holds go.mod; go test runs in the package's folder.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod in %s or any folder above it", wd)
		}
	}
}

// EventSecretsKey is the master key of the keyrings tests make.
var EventSecretsKey = func() []byte {
	sum := sha256.Sum256([]byte("rafiki-go testkit event secrets key"))
	return sum[:]
}()

// Keyring seals and opens event secrets on the server's EVENT_KEYS stream
// with EventSecretsKey.
func Keyring(t testing.TB, js jetstream.JetStream) *secrets.Keyring {
	t.Helper()
	k, err := secrets.New(js, "EVENT_KEYS", EventSecretsKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// DeclaredConfigs is the configuration and creation time of every stream and
// consumer streams.yaml declares, as the server reports them: two calls
// compare equal only if nothing was changed or recreated in between.
func DeclaredConfigs(t testing.TB, js jetstream.JetStream) map[string]string {
	t.Helper()
	decl, err := streams.Parse(rafiki.StreamsYAML)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out := map[string]string{}
	for _, s := range decl.Streams {
		st, err := js.Stream(ctx, s.Name)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(st.CachedInfo().Config)
		out["stream "+s.Name] = st.CachedInfo().Created.String() + " " + string(b)
	}
	for _, c := range decl.Consumers {
		cons, err := js.Consumer(ctx, c.Stream, c.Name)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(cons.CachedInfo().Config)
		out["consumer "+c.Name] = cons.CachedInfo().Created.String() + " " + string(b)
	}
	return out
}

// PlanningPool opens a pool of one connection on url that counts every
// statement Postgres plans for it: a statement whose plan Postgres keeps is
// planned only for its first executions, one it plans afresh every time
// (or whose kept plan it throws away) at each. Postgres tells of each
// planning as a log message (log_planner_stats), which a superuser may
// have sent to the client.
func PlanningPool(t testing.TB, url string) (*pgxpool.Pool, *atomic.Int64) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	cfg.ConnConfig.RuntimeParams["log_planner_stats"] = "on"
	cfg.ConnConfig.RuntimeParams["client_min_messages"] = "log"
	plans := &atomic.Int64{}
	cfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if strings.HasPrefix(n.Message, "PLANNER STATISTICS") {
			plans.Add(1)
		}
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, plans
}

// PlannedAfterWarmUp runs round ten times, for Postgres to settle on the
// plans it keeps, then n times, and answers how many statements it planned
// during those n, as plans (from PlanningPool) counts them.
func PlannedAfterWarmUp(plans *atomic.Int64, n int, round func()) int64 {
	for range 10 {
		round()
	}
	before := plans.Load()
	for range n {
		round()
	}
	return plans.Load() - before
}

// ClusterNode is one embedded server of a cluster, which can be stopped
// and started again on its store and ports.
type ClusterNode struct {
	*server.Server
	opts *server.Options
}

// Restart shuts the node down and starts it again on the same store.
func (n *ClusterNode) Restart(t testing.TB) {
	t.Helper()
	n.Shutdown()
	n.WaitForShutdown()
	n.start(t)
}

func (n *ClusterNode) start(t testing.TB) {
	t.Helper()
	ns, err := server.NewServer(n.opts.Clone())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatalf("%s not ready after 10s", n.opts.ServerName)
	}
	n.Server = ns
}

// StartNATSCluster runs nodes embedded servers forming one JetStream
// cluster, with the project's streams applied with a replica on every node;
// it answers once a stream of that many replicas can be placed.
func StartNATSCluster(t testing.TB, nodes int) []*ClusterNode {
	t.Helper()
	routePorts := make([]int, nodes)
	for i := range routePorts {
		routePorts[i] = freePort(t)
	}
	var routes []string
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	var cluster []*ClusterNode
	for i, p := range routePorts {
		n := &ClusterNode{opts: &server.Options{
			ServerName: fmt.Sprintf("node-%d", i+1),
			Host:       "127.0.0.1", Port: freePort(t),
			JetStream: true, StoreDir: t.TempDir(),
			NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "rafiki-test", Host: "127.0.0.1", Port: p},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		}}
		n.start(t)
		cluster = append(cluster, n)
	}
	_, js := Dial(t, cluster[0].ClientURL())
	decl, err := streams.Parse(rafiki.StreamsYAML)
	if err != nil {
		t.Fatal(err)
	}
	// The meta leader places replicas only on peers it has heard from, a
	// moment after the cluster answers at all.
	Eventually(t, 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := streams.Apply(ctx, js, decl, nodes, slog.New(slog.DiscardHandler))
		return err == nil
	}, "the cluster of %d nodes never took the streams", nodes)
	return cluster
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
