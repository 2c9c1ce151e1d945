package systemtest

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/testkit"
)

// buildDir holds the binaries the tests build.
var buildDir string

// binary is a main package built once per test run, on first use, into
// buildDir.
type binary struct {
	name, pkg string
	once      sync.Once
	path      string
	err       error
}

func (b *binary) get(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		b.path = filepath.Join(buildDir, b.name)
		b.err = goBuild(b.path, b.pkg)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

var (
	rafikiBuild = &binary{name: "rafiki", pkg: "github.com/rafiki-go/rafiki/cmd/rafiki"}
	natsBuild   = &binary{name: "nats-server", pkg: "github.com/nats-io/nats-server/v2"}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rafiki-systemtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goBuild builds a main package of this module or of one it requires, at
// the version go.mod names.
func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	output, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, output)
	}
	return nil
}

func rafikiBinary(t testing.TB) string { return rafikiBuild.get(t) }

func natsServerBinary(t testing.TB) string { return natsBuild.get(t) }

// H is one test's harness: the processes it started and the folder their
// output goes to. The folder is kept when the test fails.
type H struct {
	t      testing.TB
	logDir string
	mu     sync.Mutex
	procs  []*Process
	names  map[string]int
}

func newHarness(t testing.TB) *H {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the rafiki binary and its dependencies as processes")
	}
	dir, err := os.MkdirTemp("", "rafiki-systemtest-"+regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	h := &H{t: t, logDir: dir, names: map[string]int{}}
	// Registered first, so it runs after every process has been stopped.
	t.Cleanup(func() {
		if !t.Failed() {
			if os.Getenv("SYSTEMTEST_KEEP") == "" {
				os.RemoveAll(dir)
			} else {
				t.Logf("process output kept in %s", dir)
			}
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, p := range h.procs {
			t.Logf("---- %s, last lines of %s:\n%s", p.Name, p.LogPath, tail(p.LogPath, 40))
		}
		t.Logf("process output kept in %s", dir)
	})
	return h
}

// dir makes a folder for a process's data; it goes with the test.
func (h *H) dir(name string) string {
	d := filepath.Join(h.t.TempDir(), name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		h.t.Fatal(err)
	}
	return d
}

// Process is a child process whose output goes to a file.
type Process struct {
	Name      string
	LogPath   string
	HealthURL string // the base of its /readyz, when it serves one
	cmd       *exec.Cmd
	done      chan struct{}
	err       error // how it exited, once done is closed
}

// Start runs bin with exactly env. Each start of a name gets a log file of
// its own (dev.log, dev-2.log, …). The process is killed when the test
// ends, and when the test binary dies.
func (h *H) Start(name string, env []string, bin string, args ...string) *Process {
	h.t.Helper()
	return h.start(name, env, nil, bin, args...)
}

func (h *H) start(name string, env []string, cred *syscall.Credential, bin string, args ...string) *Process {
	h.t.Helper()
	h.mu.Lock()
	h.names[name]++
	logName := name
	if n := h.names[name]; n > 1 {
		logName = fmt.Sprintf("%s-%d", name, n)
	}
	h.mu.Unlock()
	logPath := filepath.Join(h.logDir, logName+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		h.t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Name: logName, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	h.t.Cleanup(p.Kill)
	return p
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitExit waits for the process to end by itself, failing the test when it
// still runs after timeout.
func (p *Process) WaitExit(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s still runs %s on:\n%s", p.Name, timeout, p.Output())
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends sig (SIGTERM, or SIGINT for a fast PostgreSQL shutdown) and
// waits up to timeout. A process still running then is made to print its
// goroutines (SIGQUIT, for Go programs) and killed, and Stop fails with
// that. Stop returns how the process exited otherwise.
func (p *Process) Stop(sig syscall.Signal, timeout time.Duration) error {
	if p.Exited() {
		return fmt.Errorf("%s had already exited: %v", p.Name, p.err)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
	}
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.Kill()
	}
	return fmt.Errorf("%s did not exit within %s of %s; its goroutines are at the end of %s", p.Name, timeout, sig, p.LogPath)
}

// Dump makes a Go process print every goroutine's stack to its log and
// exit: for a process that stopped answering.
func (p *Process) Dump() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.Kill()
	}
}

// DumpDuring runs a request that hangs in the background and dumps the
// process's goroutines while it is in flight, so that the dump shows where
// it waits.
func (p *Process) DumpDuring(request func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go request(ctx)
	time.Sleep(time.Second)
	p.Dump()
}

// Output is everything the process wrote so far.
func (p *Process) Output() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// WaitOutput waits until the process has written substr, and fails the
// test if it exits or the timeout passes first.
func (p *Process) WaitOutput(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.Output(), substr) {
			return
		}
		if p.Exited() {
			t.Fatalf("%s exited (%v) before writing %q", p.Name, p.err, substr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not write %q within %s", p.Name, substr, timeout)
}

// WaitLine waits until the process has written a line holding every one
// of parts, and fails the test if it exits or the timeout passes first.
func (p *Process) WaitLine(t testing.TB, timeout time.Duration, parts ...string) {
	t.Helper()
	if err := p.AwaitLine(timeout, parts...); err != nil {
		t.Fatal(err)
	}
}

// AwaitLine is WaitLine returning the failure.
func (p *Process) AwaitLine(timeout time.Duration, parts ...string) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.HasLine(parts...) {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%s exited (%v) before writing a line with %q", p.Name, p.err, parts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not write a line with %q within %s", p.Name, parts, timeout)
}

// HasLine reports whether the process has written a line holding every
// one of parts.
func (p *Process) HasLine(parts ...string) bool {
	for line := range strings.Lines(p.Output()) {
		all := true
		for _, part := range parts {
			all = all && strings.Contains(line, part)
		}
		if all {
			return true
		}
	}
	return false
}

func tail(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var last []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		last = append(last, s.Text())
		if len(last) > lines {
			last = last[1:]
		}
	}
	return strings.Join(last, "\n")
}

// freePorts answers n distinct free ports for the processes.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	return testkit.FreePorts(t, n)
}

// waitPort waits until a port of the process accepts connections and
// returns when it first did.
func waitPort(t testing.TB, p *Process, port int, timeout time.Duration) time.Time {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond)
		if err == nil {
			c.Close()
			return time.Now()
		}
		if p.Exited() {
			t.Fatalf("%s exited (%v) before %s accepted connections", p.Name, p.err, addr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s accepted no connection within %s", p.Name, addr, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// baseEnv is the little a child needs from the test's environment; every
// setting of the services is given explicitly.
func baseEnv() []string {
	var env []string
	for _, name := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// portVars are the listeners' variables of config/config.go.
var portVars = []string{"OPEN_PAYMENTS_PORT", "ADMIN_PORT", "CONNECTOR_PORT", "AUTH_PORT", "INTROSPECTION_PORT",
	"INTERACTION_PORT", "AUTH_ADMIN_PORT", "SERVICE_API_PORT", "ADMIN_UI_PORT", "EMBEDDED_NATS_PORT"}

// Rafiki is the configuration of one rafiki installation: its ports, data
// folder, database and operator. Its processes are started from it.
type Rafiki struct {
	h           *H
	Env         map[string]string
	Ports       map[string]int
	DatabaseURL string
	TenantID    string
	Secret      string
}

var databaseCounter atomic.Int64

// NewRafiki configures an installation on the shared Redis and on a fresh
// database of the shared PostgreSQL, which the services create; set names
// settings to change, such as NATS_URL, DATABASE_URL or REDIS_URL.
func (h *H) NewRafiki(set map[string]string) *Rafiki {
	h.t.Helper()
	ports := freePorts(h.t, len(portVars))
	r := &Rafiki{h: h, Env: map[string]string{}, Ports: map[string]int{},
		TenantID: uuid.NewString(), Secret: "operator-" + uuid.NewString()}
	for i, v := range portVars {
		r.Ports[v] = ports[i]
		r.Env[v] = strconv.Itoa(ports[i])
	}
	r.Env["DATA_DIR"] = h.dir("rafiki-data")
	r.Env["REDIS_URL"] = testkit.RedisURL()
	r.Env["OPERATOR_TENANT_ID"] = r.TenantID
	r.Env["ADMIN_API_SECRET"] = r.Secret
	r.Env["EVENT_SECRETS_KEY"] = base64.StdEncoding.EncodeToString(testkit.EventSecretsKey)
	r.Env["OPEN_PAYMENTS_URL"] = fmt.Sprintf("http://127.0.0.1:%d", r.Ports["OPEN_PAYMENTS_PORT"])
	r.Env["NATS_URL"] = ""
	// A blank installation: no example wallet seeding demo accounts and
	// taking the webhooks, unless a test asks for one.
	r.Env["EXAMPLE_WALLET_PORT"] = "0"
	for k, v := range set {
		r.Env[k] = v
	}
	if _, ok := set["DATABASE_URL"]; !ok {
		name := fmt.Sprintf("rafiki_system_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, databaseCounter.Add(1))
		// A small request pool: the shared server's connections are
		// shared with every other test running meanwhile.
		r.Env["DATABASE_URL"] = withParam(withDatabase(testkit.PostgresURL(), name), "pool_max_conns", "4")
		h.t.Cleanup(func() { dropDatabase(testkit.PostgresURL(), name) })
	}
	if _, ok := set["AUTH_DATABASE_URL"]; !ok {
		// The auth service's read models are the installation's own too:
		// a database shared between installations would be led by one
		// installation's workers and counted in another's stream.
		name := fmt.Sprintf("rafiki_system_auth_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, databaseCounter.Add(1))
		r.Env["AUTH_DATABASE_URL"] = withParam(withDatabase(testkit.PostgresURL(), name), "pool_max_conns", "4")
		h.t.Cleanup(func() { dropDatabase(testkit.PostgresURL(), name) })
	}
	r.DatabaseURL = r.Env["DATABASE_URL"]
	return r
}

func withDatabase(url, name string) string {
	base, query, _ := strings.Cut(url, "?")
	out := base[:strings.LastIndex(base, "/")+1] + name
	if query != "" {
		out += "?" + query
	}
	return out
}

// withParam adds a connection parameter to a PostgreSQL URL.
func withParam(url, key, value string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + key + "=" + value
}

func dropDatabase(serverURL, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return
	}
	defer c.Close(ctx)
	_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// Environ is the process environment, with set overriding the
// installation's settings.
func (r *Rafiki) Environ(set map[string]string) []string {
	env := baseEnv()
	merged := map[string]string{}
	for k, v := range r.Env {
		merged[k] = v
	}
	for k, v := range set {
		merged[k] = v
	}
	for k, v := range merged {
		env = append(env, k+"="+v)
	}
	return env
}

// Start runs `rafiki <args>` as a service; set overrides settings for this
// process only.
func (r *Rafiki) Start(name string, set map[string]string, args ...string) *Process {
	r.h.t.Helper()
	p := r.h.Start(name, r.Environ(set), rafikiBinary(r.h.t), args...)
	switch {
	case args[0] == "dev" || args[0] == "backend":
		p.HealthURL = fmt.Sprintf("http://127.0.0.1:%d", r.Ports["ADMIN_PORT"])
	case args[0] == "worker" && set["WORKER_HEALTH_PORT"] != "":
		p.HealthURL = "http://127.0.0.1:" + set["WORKER_HEALTH_PORT"]
	}
	return p
}

// Run runs a rafiki tool to its end, within timeout, and returns its
// output.
func (r *Rafiki) Run(timeout time.Duration, args ...string) (string, error) {
	r.h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, rafikiBinary(r.h.t), args...)
	cmd.Env = r.Environ(nil)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("rafiki %s: not done within %s", strings.Join(args, " "), timeout)
	}
	return string(out), err
}

// ApplyStreams runs `rafiki streams apply`: a backend or worker refuses to
// start on a NATS server whose streams differ from streams.yaml, and only
// the tool (and dev) makes them match.
func (r *Rafiki) ApplyStreams(t testing.TB) string {
	t.Helper()
	out, err := r.Run(time.Minute, "streams", "apply")
	if err != nil || !strings.Contains(out, "streams applied") {
		t.Fatalf("rafiki streams apply: %v\n%s", err, out)
	}
	return out
}

// AdminURL is the backend admin GraphQL endpoint.
func (r *Rafiki) AdminURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/graphql", r.Ports["ADMIN_PORT"])
}

// OpenPaymentsURL is the base of wallet address URLs.
func (r *Rafiki) OpenPaymentsURL() string { return r.Env["OPEN_PAYMENTS_URL"] }

// EmbeddedNATSURL is where `rafiki dev` serves its embedded NATS.
func (r *Rafiki) EmbeddedNATSURL() string {
	return fmt.Sprintf("nats://127.0.0.1:%d", r.Ports["EMBEDDED_NATS_PORT"])
}

// Operator is a client signing as the operator tenant; each request gives
// up after timeout.
func (r *Rafiki) Operator(timeout time.Duration) *adminclient.Client {
	return &adminclient.Client{URL: r.AdminURL(), TenantID: r.TenantID, Secret: r.Secret,
		HTTP: &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

// WaitReady waits until a service process has said it is ready and, when
// it serves health endpoints (the admin listener of dev and backend, a
// worker's WORKER_HEALTH_PORT), its readiness (/readyz) is 200.
func (r *Rafiki) WaitReady(t testing.TB, p *Process, timeout time.Duration) {
	t.Helper()
	p.WaitOutput(t, "msg=ready", timeout)
	if p.HealthURL == "" {
		return
	}
	url := p.HealthURL + "/readyz"
	deadline := time.Now().Add(timeout)
	for {
		status, body, err := getBody(url, time.Second)
		if err == nil && status == http.StatusOK {
			return
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("%s: %s not OK within %s: %d %s %v", p.Name, url, timeout, status, body, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Pool connects the test to the installation's database.
func (r *Rafiki) Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return testkit.Pool(t, r.DatabaseURL)
}
