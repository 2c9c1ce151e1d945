package systemtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// connectJetStream connects the test to a NATS server.
func connectJetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("nats at %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// NATSServer is a nats-server process with JetStream and its store.
type NATSServer struct {
	h           *H
	Name        string
	Port        int
	MonitorPort int // 0 when it has no monitoring listener
	StoreDir    string
	args        []string
	Proc        *Process
}

// NATSServer starts a single nats-server with JetStream on a free port.
func (h *H) NATSServer(name string) *NATSServer {
	h.t.Helper()
	port := freePorts(h.t, 1)[0]
	n := &NATSServer{h: h, Name: name, Port: port, StoreDir: h.dir(name)}
	n.args = []string{"-js", "-sd", n.StoreDir, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-n", name}
	n.Start()
	return n
}

// NATSCluster starts three nats-servers forming one JetStream cluster,
// each with a monitoring listener.
func (h *H) NATSCluster() []*NATSServer {
	h.t.Helper()
	ports := freePorts(h.t, 9)
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3+i]))
	}
	var nodes []*NATSServer
	for i := range 3 {
		name := fmt.Sprintf("nats-%d", i+1)
		n := &NATSServer{h: h, Name: name, Port: ports[i], MonitorPort: ports[6+i], StoreDir: h.dir(name)}
		n.args = []string{"-js", "-sd", n.StoreDir, "-a", "127.0.0.1", "-p", strconv.Itoa(n.Port), "-n", name,
			"-m", strconv.Itoa(n.MonitorPort),
			"--cluster_name", "rafiki-system", "--cluster", fmt.Sprintf("nats://127.0.0.1:%d", ports[3+i]),
			"--routes", strings.Join(routes, ",")}
		n.Proc = h.Start(n.Name, baseEnv(), natsServerBinary(h.t), n.args...)
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		n.waitJetStream(30 * time.Second)
	}
	// JetStream answers once a meta leader is elected, a moment before
	// the leader counts every peer online: a stream of three replicas
	// asked for then finds "no suitable peers for placement".
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range nodes {
		for {
			online, err := n.metaPeersOnline()
			if err == nil && online == len(nodes) {
				break
			}
			if time.Now().After(deadline) {
				h.t.Fatalf("%s: the cluster's %d peers not all online within 30s (%d, %v)", n.Name, len(nodes), online, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The meta leader places replicas only on servers whose state it has
	// heard since, a moment later still ("no suitable peers for placement,
	// peer offline"): the cluster is ready once a stream of three replicas
	// can be made.
	js := connectJetStream(h.t, fmt.Sprintf("nats://127.0.0.1:%d", nodes[0].Port))
	ctx := context.Background()
	probe := jetstream.StreamConfig{Name: "PLACEMENT_PROBE", Subjects: []string{"placement.probe"}, Replicas: len(nodes), Storage: jetstream.MemoryStorage}
	for {
		_, err := js.CreateStream(ctx, probe)
		if err == nil {
			if err := js.DeleteStream(ctx, probe.Name); err != nil {
				h.t.Fatalf("delete the placement probe: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no stream of %d replicas placed within 30s: %v", len(nodes), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	js.Conn().Close()
	return nodes
}

// metaPeersOnline is how many peers of the JetStream meta group the server
// knows online, itself included, once it knows a leader.
func (n *NATSServer) metaPeersOnline() (int, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/jsz", n.MonitorPort))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var jsz struct {
		Meta *struct {
			Leader   string `json:"leader"`
			Replicas []struct {
				Offline bool `json:"offline"`
			} `json:"replicas"`
		} `json:"meta_cluster"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jsz); err != nil {
		return 0, fmt.Errorf("%s jsz: %w", n.Name, err)
	}
	if jsz.Meta == nil || jsz.Meta.Leader == "" {
		return 0, nil
	}
	online := 1
	for _, r := range jsz.Meta.Replicas {
		if !r.Offline {
			online++
		}
	}
	return online, nil
}

// URL is the server's client URL.
func (n *NATSServer) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.Port) }

// ClientNames are the names of the client connections the server holds,
// from its monitoring listener.
func (n *NATSServer) ClientNames() ([]string, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/connz?limit=1024", n.MonitorPort))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var connz struct {
		Connections []struct {
			Name string `json:"name"`
		} `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&connz); err != nil {
		return nil, fmt.Errorf("%s connz: %w", n.Name, err)
	}
	var names []string
	for _, c := range connz.Connections {
		names = append(names, c.Name)
	}
	return names, nil
}

// Start runs the server (again) on its port and store.
func (n *NATSServer) Start() {
	n.h.t.Helper()
	n.Proc = n.h.Start(n.Name, baseEnv(), natsServerBinary(n.h.t), n.args...)
	n.waitJetStream(15 * time.Second)
}

// waitJetStream waits until the server answers JetStream requests, which
// in a cluster means that a meta leader has been elected.
func (n *NATSServer) waitJetStream(timeout time.Duration) {
	t := n.h.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if n.Proc.Exited() {
			t.Fatalf("%s exited: %v", n.Name, n.Proc.err)
		}
		last = func() error {
			nc, err := nats.Connect(n.URL(), nats.Timeout(time.Second))
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err = js.AccountInfo(ctx)
			return err
		}()
		if last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: JetStream not available within %s: %v", n.Name, timeout, last)
}

// RedisServer is a redis-server process that keeps nothing on disk.
type RedisServer struct {
	h    *H
	Port int
	Proc *Process
}

// missing skips a test whose dependency this machine lacks, except under
// CI=true, where every scenario must run.
func (h *H) missing(format string, args ...any) {
	h.t.Helper()
	if os.Getenv("CI") == "true" {
		h.t.Fatalf(format+" (CI=true: every scenario must run)", args...)
	}
	h.t.Skipf(format, args...)
}

// RedisServer starts a redis-server on a free port.
func (h *H) RedisServer() *RedisServer {
	h.t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		h.missing("redis-server is not installed, and this test stops and starts a Redis of its own: %v", err)
	}
	r := &RedisServer{h: h, Port: freePorts(h.t, 1)[0]}
	r.start(bin)
	return r
}

func (r *RedisServer) start(bin string) {
	r.h.t.Helper()
	r.Proc = r.h.Start("redis", baseEnv(), bin, "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.h.dir("redis"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.Port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if r.Proc.Exited() || time.Now().After(deadline) {
			r.h.t.Fatalf("redis-server on %d did not start: %v", r.Port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Start runs the server again on its port.
func (r *RedisServer) Start() {
	r.h.t.Helper()
	bin, _ := exec.LookPath("redis-server")
	r.start(bin)
}

// URL is the server's REDIS_URL.
func (r *RedisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// PostgresServer is a PostgreSQL instance of the test's own: its own data
// folder, port and socket folder. PostgreSQL refuses to run as root, so a
// test running as root runs it as the user postgres.
type PostgresServer struct {
	h    *H
	Port int
	Dir  string
	cred *syscall.Credential
	Proc *Process
}

// PostgresServer initialises and starts an instance with trust auth.
func (h *H) PostgresServer() *PostgresServer {
	h.t.Helper()
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		h.missing("initdb is not installed, and this test restarts a PostgreSQL of its own: %v", err)
	}
	dir, err := os.MkdirTemp("", "rafiki-systemtest-pg-")
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { os.RemoveAll(dir) })
	s := &PostgresServer{h: h, Port: freePorts(h.t, 1)[0], Dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			h.missing("PostgreSQL refuses to run as root, and there is no user postgres to run it as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			h.t.Fatal(err)
		}
	}
	cmd := exec.Command(initdb, "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	cmd.Env = append(baseEnv(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		h.t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.Start()
	return s
}

// Start runs the postmaster on the instance's data, as a child of the test.
func (s *PostgresServer) Start() {
	s.h.t.Helper()
	bin, err := exec.LookPath("postgres")
	if err != nil {
		s.h.t.Fatal(err)
	}
	s.Proc = s.h.start("postgres", append(baseEnv(), "LC_ALL=C"), s.cred, bin, "-D", filepath.Join(s.Dir, "data"),
		"-p", strconv.Itoa(s.Port), "-k", s.Dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
		"-c", "max_connections=200")
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		cancel()
		if err == nil {
			c.Close(context.Background())
			return
		}
		if s.Proc.Exited() || time.Now().After(deadline) {
			s.h.t.Fatalf("postgres on %d did not start: %v", s.Port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Restart shuts the instance down as `pg_ctl restart -m fast` does (SIGINT:
// sessions are ended, then a clean shutdown), waits for down, and starts
// it again.
func (s *PostgresServer) Restart(down time.Duration) {
	s.h.t.Helper()
	if err := s.Proc.Stop(syscall.SIGINT, 30*time.Second); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			s.h.t.Fatalf("postgres fast shutdown: %v", err)
		}
	}
	time.Sleep(down)
	s.Start()
}

// URL is a connection URL for a database of the instance.
func (s *PostgresServer) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, database)
}
