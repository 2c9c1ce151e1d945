package systemtest

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGracefulRestart stops `rafiki dev` with SIGTERM and starts it again
// on the same data: the read models are kept as they are (no rebuild, the
// same checkpoints and schemas), and the first signed query is answered
// within 2 s of the admin port opening.
func TestGracefulRestart(t *testing.T) {
	h := newHarness(t)
	r := h.NewRafiki(nil)
	dev := startDev(t, r)
	op, assetID := operatorWithAsset(t, r, 15*time.Second)
	ctx := context.Background()
	for i := range 20 {
		if _, err := createWalletAddress(ctx, op, assetID, fmt.Sprintf("/before-%d", i), ""); err != nil {
			t.Fatalf("createWalletAddress: %v", err)
		}
	}
	pool := r.Pool(t)
	js := connectJetStream(t, r.EmbeddedNATSURL())
	waitCaughtUp(t, pool, js, 30*time.Second)
	before, oidsBefore := checkpoints(t, pool), schemaOIDs(t, pool)
	for _, name := range []string{"tenants", "assets", "wallet_addresses"} {
		if before[name] == 0 {
			t.Fatalf("projection %s has applied nothing: %+v", name, before)
		}
	}
	if err := dev.Stop(syscall.SIGTERM, 20*time.Second); err != nil {
		t.Fatalf("dev after SIGTERM: %v", err)
	}
	if !dev.HasLine("msg=stopped") {
		t.Fatal("dev did not report a clean stop")
	}

	dev2 := r.Start("dev", nil, "dev")
	opened := waitPort(t, dev2, r.Ports["ADMIN_PORT"], 60*time.Second)
	deadline := opened.Add(2 * time.Second)
	var attempts int
	var lastErr error
	for {
		attempts++
		qctx, cancel := context.WithDeadline(ctx, deadline)
		lastErr = listQuery(qctx, op)
		cancel()
		if lastErr == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lastErr != nil {
		dev2.DumpDuring(func(ctx context.Context) { _ = listQuery(ctx, op) })
		t.Fatalf("no signed query answered within 2s of the admin port opening (%d attempts, last: %v); goroutines in %s",
			attempts, lastErr, dev2.LogPath)
	}
	t.Logf("first signed query answered %s after the admin port opened (%d attempts)", time.Since(opened).Round(time.Millisecond), attempts)
	r.WaitReady(t, dev2, 30*time.Second)
	for name := range before {
		if err := dev2.AwaitLine(15*time.Second, `msg="projection following"`, "projection="+name+" "); err != nil {
			dev2.DumpDuring(func(ctx context.Context) { _ = listQuery(ctx, op) })
			t.Fatalf("%v; rebuilds:\n%s\ngoroutines in %s", err, grepLines(dev2.Output(), "rebuilding"), dev2.LogPath)
		}
	}
	if dev2.HasLine("rebuilding") {
		t.Errorf("a read model was rebuilt after a graceful restart:\n%s", grepLines(dev2.Output(), "rebuilding"))
	}
	if after := checkpoints(t, pool); !maps.Equal(before, after) {
		t.Errorf("checkpoints moved across the restart: before %v, after %v", before, after)
	}
	if oidsAfter := schemaOIDs(t, pool); !maps.Equal(oidsBefore, oidsAfter) {
		t.Errorf("read model schemas were replaced across the restart: before %v, after %v", oidsBefore, oidsAfter)
	}
	wa, err := createWalletAddress(ctx, op, assetID, "/after", "")
	if err != nil {
		t.Fatalf("createWalletAddress after the restart: %v", err)
	}
	got, err := walletAddressByURL(ctx, op, r.OpenPaymentsURL()+"/after")
	if err != nil || got == nil || got.ID != wa.ID {
		t.Fatalf("wallet address created after the restart: %+v, %v", got, err)
	}
}

// TestKillDuringWrites kills `rafiki dev` (SIGKILL) in the middle of 300
// signed createWalletAddress calls from 25 clients and starts it again:
// every acknowledged wallet address is there, retries of the others with
// their idempotency keys succeed, nothing is duplicated, and every read
// model equals a full replay.
func TestKillDuringWrites(t *testing.T) {
	h := newHarness(t)
	r := h.NewRafiki(nil)
	dev := startDev(t, r)
	op, assetID := operatorWithAsset(t, r, 20*time.Second)
	const calls = 300
	b := startBurst(op, assetID, "crash", calls, 25)
	b.waitAcked(t, 100, 60*time.Second)
	dev.Kill()
	b.wait(t, 60*time.Second)
	t.Logf("burst: %s", b.summary())

	dev2 := r.Start("dev", nil, "dev")
	r.WaitReady(t, dev2, 60*time.Second)
	probe(t, dev2, op, 10*time.Second)
	base := r.OpenPaymentsURL()
	checkAcknowledged(t, op, base, b.calls)
	acked := len(b.acknowledged())
	retried, stored := retryUnacknowledged(t, op, assetID, base, b.calls)
	t.Logf("%d acknowledged before the kill and all found after; %d retried with their idempotency keys, of which %d had been stored",
		acked, retried, stored)
	checkAcknowledged(t, op, base, b.calls)

	pool := r.Pool(t)
	js := connectJetStream(t, r.EmbeddedNATSURL())
	waitCaughtUp(t, pool, js, 30*time.Second)
	checkNoDuplicates(t, pool, js, base, "crash", calls)
	live := dumpReadModels(t, pool)
	if err := dev2.Stop(syscall.SIGTERM, 20*time.Second); err != nil {
		t.Fatalf("dev after SIGTERM: %v", err)
	}
	replayAll(t, r)
	compareDumps(t, live, dumpReadModels(t, pool))
}

func grepLines(text, substr string) string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, substr) {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}

// `rafiki dev` started on another store than the one its database's read
// models were built from (DATA_DIR is relative to the working directory by
// default) refuses to start, naming the store, instead of rebuilding every
// read model from a new, empty stream; started on its own store again, it
// finds everything.
func TestStartOnAnotherStoreIsRefused(t *testing.T) {
	h := newHarness(t)
	r := h.NewRafiki(nil)
	dev := startDev(t, r)
	op, assetID := operatorWithAsset(t, r, 15*time.Second)
	ctx := context.Background()
	if _, err := createWalletAddress(ctx, op, assetID, "/kept", ""); err != nil {
		t.Fatalf("createWalletAddress: %v", err)
	}
	waitCaughtUp(t, r.Pool(t), connectJetStream(t, r.EmbeddedNATSURL()), 30*time.Second)
	if err := dev.Stop(syscall.SIGTERM, 20*time.Second); err != nil {
		t.Fatalf("dev after SIGTERM: %v", err)
	}

	other := h.dir("another-data-dir")
	elsewhere := r.Start("dev-elsewhere", map[string]string{"DATA_DIR": other}, "dev")
	elsewhere.WaitExit(t, 60*time.Second)
	out := elsewhere.Output()
	if !strings.Contains(out, "not the stream the read models were built from") || !strings.Contains(out, other) {
		t.Fatalf("dev on another store did not say why it stopped:\n%s", out)
	}
	if strings.Contains(out, "msg=ready") || strings.Contains(out, "rebuilding it") {
		t.Fatalf("dev on another store served or rebuilt a read model:\n%s", out)
	}

	again := startDev(t, r)
	defer again.Stop(syscall.SIGTERM, 20*time.Second)
	wa, err := walletAddressByURL(ctx, op, r.OpenPaymentsURL()+"/kept")
	if err != nil || wa == nil {
		t.Fatalf("the wallet address made before is gone: %v %v", wa, err)
	}
}

// A second `rafiki dev` on the DATA_DIR of one running (other ports, the
// same databases) is refused, naming the store, and the first serves on:
// two servers on one store write the same files and each drops the other's
// acknowledged events.
func TestSecondDevOnOneStoreIsRefused(t *testing.T) {
	h := newHarness(t)
	r := h.NewRafiki(nil)
	dev := startDev(t, r)
	op, assetID := operatorWithAsset(t, r, 15*time.Second)
	second := h.NewRafiki(map[string]string{"DATA_DIR": r.Env["DATA_DIR"], "DATABASE_URL": r.Env["DATABASE_URL"],
		"AUTH_DATABASE_URL": r.Env["AUTH_DATABASE_URL"], "OPERATOR_TENANT_ID": r.TenantID, "ADMIN_API_SECRET": r.Secret})
	other := second.Start("dev-second", nil, "dev")
	other.WaitExit(t, 60*time.Second)
	if out := other.Output(); !strings.Contains(out, "in use by another process") || !strings.Contains(out, r.Env["DATA_DIR"]) {
		t.Fatalf("the second dev did not say why it stopped:\n%s", out)
	}
	if _, err := createWalletAddress(context.Background(), op, assetID, "/after-the-second", ""); err != nil {
		t.Fatalf("the first dev after the second was refused: %v", err)
	}
	if err := dev.Stop(syscall.SIGTERM, 20*time.Second); err != nil {
		t.Fatalf("dev after SIGTERM: %v", err)
	}
}
