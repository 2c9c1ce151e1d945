package systemtest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestPostgresRestart restarts the PostgreSQL `rafiki dev` uses (a fast
// shutdown, as `pg_ctl restart -m fast`, and 3 s down) in the middle of a burst of signed
// createWalletAddress calls: the service recovers by itself, without a
// restart; calls after the recovery succeed, acknowledged ones are kept and
// the read models equal a full replay. Calls that fail meanwhile fail with
// SERVICE_UNAVAILABLE, or TIMEOUT when their change was stored.
func TestPostgresRestart(t *testing.T) {
	h := newHarness(t)
	pg := h.PostgresServer()
	r := h.NewRafiki(map[string]string{"DATABASE_URL": pg.URL("rafiki")})
	dev := startDev(t, r)
	op, assetID := operatorWithAsset(t, r, 20*time.Second)
	ctx := context.Background()
	const calls = 300
	b := startBurst(op, assetID, "restart", calls, 10)
	b.waitAcked(t, 80, 60*time.Second)
	// Down for a few seconds, as a restart on a busy machine may be, so
	// that calls meet PostgreSQL gone, not only their sessions ended.
	restartBegan := time.Now()
	pg.Restart(3 * time.Second)
	t.Logf("PostgreSQL restarted in %s", time.Since(restartBegan).Round(time.Millisecond))
	b.wait(t, 2*time.Minute)
	t.Logf("burst: %s", b.summary())
	var unavailable []string
	for _, c := range b.calls {
		if c.Err != nil && !outageCode(errorCode(c.Err)) {
			unavailable = append(unavailable, fmt.Sprintf("%s after %s: %v", c.Path, c.Took.Round(time.Millisecond), c.Err))
		}
	}
	if len(unavailable) > 0 {
		t.Errorf("calls failed otherwise than with SERVICE_UNAVAILABLE or TIMEOUT while PostgreSQL restarted:\n%s", firstLines(unavailable, 10))
	}

	recovered := time.Now()
	deadline := recovered.Add(30 * time.Second)
	for {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := createWalletAddress(callCtx, op, assetID, "/probe", "probe")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			dev.DumpDuring(func(ctx context.Context) { _ = listQuery(ctx, op) })
			t.Fatalf("createWalletAddress still fails 30s after PostgreSQL came back: %v; goroutines in %s", err, dev.LogPath)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("calls succeed again %s after the burst ended", time.Since(recovered).Round(time.Millisecond))
	if dev.Exited() {
		t.Fatalf("dev exited: %v", dev.err)
	}
	checkAfterOutage(t, r, dev, op, assetID, b, "restart", connectJetStream(t, r.EmbeddedNATSURL()), "after the recovery", nil)
	if n := len(grepLines(dev.Output(), "rebuilding")); n > 0 {
		t.Errorf("a read model was rebuilt: %s", fmt.Sprint(grepLines(dev.Output(), "rebuilding")))
	}
}
