package main_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/testkit"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildRafiki builds the binary once for the tests of this package.
func buildRafiki(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rafiki-cmd-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "rafiki")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// TestDevLifecycle runs the real binary as a user would: dev serves and
// answers signed requests, a second dev on the same ports fails clearly,
// SIGTERM drains and exits cleanly, and the tools read the stored events.
func TestDevLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildRafiki(t)
	ports := map[string]int{}
	for _, v := range []string{"OPEN_PAYMENTS_PORT", "ADMIN_PORT", "CONNECTOR_PORT", "AUTH_PORT", "INTROSPECTION_PORT",
		"INTERACTION_PORT", "AUTH_ADMIN_PORT", "SERVICE_API_PORT", "ADMIN_UI_PORT", "EMBEDDED_NATS_PORT"} {
		ports[v] = testkit.FreePort(t)
	}
	databaseURL, authDatabaseURL := testkit.NewDatabase(t), testkit.NewDatabase(t)
	dataDir := t.TempDir()
	env := append(os.Environ(), "DATA_DIR="+dataDir, "DATABASE_URL="+databaseURL, "AUTH_DATABASE_URL="+authDatabaseURL,
		"REDIS_URL="+testkit.RedisURL(), "ADMIN_API_SECRET=lifecycle-secret", "NATS_URL=", "EVENT_SECRETS_KEY=",
		"OPERATOR_TENANT_ID=7a4a7bd5-5bb7-4c61-a1a9-3f5c1d0d1e55", "EXAMPLE_WALLET_PORT=0")
	for v, p := range ports {
		env = append(env, fmt.Sprintf("%s=%d", v, p))
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	dev := exec.Command(bin, "dev")
	dev.Env = env
	var devOut bytes.Buffer
	dev.Stdout, dev.Stderr = &devOut, &devOut
	dev.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dev.Process.Kill() }()
	for v, p := range ports {
		if v == "EMBEDDED_NATS_PORT" {
			continue
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/healthz", p)
		testkit.Eventually(t, 30*time.Second, func() bool {
			resp, err := http.Get(url)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		}, "%s (%s) never became healthy; output:\n%s", url, v, &devOut)
	}

	op := &adminclient.Client{URL: fmt.Sprintf("http://127.0.0.1:%d/graphql", ports["ADMIN_PORT"]),
		TenantID: "7a4a7bd5-5bb7-4c61-a1a9-3f5c1d0d1e55", Secret: "lifecycle-secret"}
	var created struct {
		CreateAsset struct{ Asset struct{ ID string } } `json:"createAsset"`
	}
	if err := op.Do(context.Background(), `mutation { createAsset(input: {code: "USD", scale: 2}) { asset { id } } }`, nil, &created); err != nil {
		t.Fatalf("createAsset: %v\n%s", err, &devOut)
	}
	assetID := created.CreateAsset.Asset.ID
	var tenant struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := op.Do(context.Background(), `mutation { createTenant(input: {apiSecret: "lifecycle-api-plain", idpSecret: "lifecycle-idp-plain"}) { tenant { id } } }`,
		nil, &tenant); err != nil {
		t.Fatalf("createTenant: %v\n%s", err, &devOut)
	}
	// Without EVENT_SECRETS_KEY, dev keeps its key in DATA_DIR, readable by
	// its owner only.
	keyFile := filepath.Join(dataDir, "event-secrets.key")
	info, err := os.Stat(keyFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("dev's key file: %v %v", info, err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	checkAdminUI(t, bin, env, ports, "7a4a7bd5-5bb7-4c61-a1a9-3f5c1d0d1e55", "lifecycle-secret", assetID)
	// rafiki gql signs as the operator of the environment.
	out, err := run("gql", "query { whoami { id isOperator } }")
	if err != nil || !strings.Contains(out, `"isOperator": true`) {
		t.Fatalf("gql: %v\n%s", err, out)
	}

	out, err = run("dev")
	if err == nil || !strings.Contains(out, "already in use") {
		t.Fatalf("second dev: err %v, output:\n%s", err, out)
	}

	if err := dev.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- dev.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("dev exited with %v after SIGTERM:\n%s", err, &devOut)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("dev did not exit within 20s of SIGTERM:\n%s", &devOut)
	}
	if !strings.Contains(devOut.String(), "stopped") {
		t.Fatalf("dev did not report a clean stop:\n%s", &devOut)
	}

	// The tools find the events dev stored, from the store on disk.
	out, err = run("events", assetID)
	if err != nil || !strings.Contains(out, "asset.created") {
		t.Fatalf("events: %v\n%s", err, out)
	}
	out, err = run("events", assetID, "--at", time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil || !strings.Contains(out, `"Code": "USD"`) {
		t.Fatalf("events --at: %v\n%s", err, out)
	}
	out, err = run("replay", "assets")
	if err != nil || !strings.Contains(out, "replayed assets: 1 events") {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	// The tools print no secret; replaying tenants opens them with dev's
	// key, which stays as it was.
	out, err = run("events", tenant.CreateTenant.Tenant.ID)
	if err != nil || !strings.Contains(out, "tenant.created") || !strings.Contains(out, `"apiSecret":"[redacted]"`) ||
		strings.Contains(out, "lifecycle-") || strings.Contains(out, "enc:v1:") {
		t.Fatalf("events of a tenant: %v\n%s", err, out)
	}
	out, err = run("replay", "tenants")
	if err != nil || !strings.Contains(out, "replayed tenants") {
		t.Fatalf("replay tenants: %v\n%s", err, out)
	}
	// The grants read model is in the auth database, which dev created and
	// migrated.
	out, err = run("replay", "grants")
	if err != nil || !strings.Contains(out, "replayed grants: 0 events") {
		t.Fatalf("replay grants: %v\n%s", err, out)
	}
	var grantsCheckpoint int
	if err := testkit.Pool(t, authDatabaseURL).QueryRow(context.Background(),
		`SELECT count(*) FROM projection_checkpoints WHERE name = 'grants'`).Scan(&grantsCheckpoint); err != nil || grantsCheckpoint != 1 {
		t.Fatalf("the auth database's grants checkpoint: %d %v", grantsCheckpoint, err)
	}
	out, err = run("replay", "nothing")
	if err == nil || !strings.Contains(out, "grants") || !strings.Contains(out, "tenants") {
		t.Fatalf("replay of no projection names every projection: %v\n%s", err, out)
	}
	if again, err := os.ReadFile(keyFile); err != nil || string(again) != string(key) {
		t.Fatalf("dev's key file changed: %v", err)
	}
	var apiSecret string
	if err := testkit.Pool(t, databaseURL).QueryRow(context.Background(), `SELECT api_secret FROM rm_tenants.tenants WHERE id = $1`,
		tenant.CreateTenant.Tenant.ID).Scan(&apiSecret); err != nil || apiSecret != "lifecycle-api-plain" {
		t.Fatalf("the replayed tenant's secret: %q %v", apiSecret, err)
	}
	out, err = run("streams", "apply")
	if err != nil || !strings.Contains(out, "0 created, 0 updated") {
		t.Fatalf("streams apply: %v\n%s", err, out)
	}

	// The ledger balances; after a corrupted write it names the account.
	out, err = run("ledger", "check")
	if err != nil || !strings.Contains(out, "every ledger balances") {
		t.Fatalf("ledger check: %v\n%s", err, out)
	}
	db := testkit.Pool(t, databaseURL)
	if _, err := db.Exec(context.Background(), `UPDATE ledger_accounts SET credits_posted = credits_posted + 5 WHERE id = $1`, assetID); err != nil {
		t.Fatal(err)
	}
	out, err = run("ledger", "check")
	if err == nil || !strings.Contains(out, "account "+assetID) {
		t.Fatalf("ledger check of a corrupted ledger: err %v\n%s", err, out)
	}
}

// A tool run where no store is (a shell without DATA_DIR, say) says where
// it looked and makes nothing there: no store, no key.
func TestToolsMakeNoStore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildRafiki(t)
	dataDir := t.TempDir()
	cmd := exec.Command(bin, "events", "7a4a7bd5-5bb7-4c61-a1a9-3f5c1d0d1e55")
	cmd.Env = append(os.Environ(), "DATA_DIR="+dataDir, "NATS_URL=", "EVENT_SECRETS_KEY=",
		fmt.Sprintf("EMBEDDED_NATS_PORT=%d", testkit.FreePort(t)))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no store at "+filepath.Join(dataDir, "nats")) {
		t.Fatalf("events without a store: %v\n%s", err, out)
	}
	if entries, err := os.ReadDir(dataDir); err != nil || len(entries) != 0 {
		t.Fatalf("the tool left %d entries in DATA_DIR (%v)", len(entries), err)
	}
}
