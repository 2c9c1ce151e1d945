package systemtest

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestWorkerTakeover runs `rafiki backend` and two `rafiki worker`s against
// a nats-server of their own, kills (SIGKILL) the worker leading the wallet
// address projection in the middle of a burst of signed calls, and checks
// that the other takes over and that nothing is skipped: every
// acknowledged call is visible and every read model equals a full replay.
func TestWorkerTakeover(t *testing.T) {
	h := newHarness(t)
	ns := h.NATSServer("nats")
	r := h.NewRafiki(map[string]string{"NATS_URL": ns.URL()})
	r.ApplyStreams(t)
	backend := r.Start("backend", nil, "backend")
	r.WaitReady(t, backend, 90*time.Second)
	workers := map[string]*Process{}
	healthPorts := freePorts(t, 2)
	for i, name := range []string{"worker-1", "worker-2"} {
		// The application name tells the workers' connections apart in
		// pg_stat_activity, and so which of them holds a lease.
		w := r.Start(name, map[string]string{"DATABASE_URL": withParam(r.DatabaseURL, "application_name", name),
			"WORKER_HEALTH_PORT": fmt.Sprint(healthPorts[i])}, "worker")
		r.WaitReady(t, w, 60*time.Second)
		workers[name] = w
	}
	pool := r.Pool(t)
	leaderOf := func(projection string) string {
		t.Helper()
		var name string
		deadline := time.Now().Add(30 * time.Second)
		for {
			name = leaders(t, pool)[projection]
			if workers[name] != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if workers[name] == nil {
			t.Fatalf("no worker holds the lease of %s; leases: %v; sessions:\n%s", projection, leaders(t, pool), sessions(t, pool))
		}
		return name
	}
	leaderOf("wallet_addresses")

	op, assetID := operatorWithAsset(t, r, 20*time.Second)
	const calls = 300
	b := startBurst(op, assetID, "takeover", calls, 25)
	b.waitAcked(t, 100, 60*time.Second)
	leases := leaders(t, pool)
	killed := leaderOf("wallet_addresses")
	workers[killed].Kill()
	b.wait(t, 120*time.Second)
	t.Logf("leases before the kill %v; killed %s; burst: %s", leases, killed, b.summary())
	survivor := "worker-1"
	if killed == survivor {
		survivor = "worker-2"
	}
	for name, holder := range leases {
		if holder == killed {
			workers[survivor].WaitLine(t, 30*time.Second, `msg="projection following"`, "projection="+name+" ")
		}
	}
	if got := leaderOf("wallet_addresses"); got != survivor {
		t.Fatalf("wallet_addresses is led by %s after %s was killed", got, killed)
	}
	probe(t, backend, op, 10*time.Second)
	r.WaitReady(t, workers[survivor], 10*time.Second)

	base := r.OpenPaymentsURL()
	checkAcknowledged(t, op, base, b.calls)
	acked := len(b.acknowledged())
	retried, stored := retryUnacknowledged(t, op, assetID, base, b.calls)
	t.Logf("%d acknowledged and all found after the takeover; %d retried with their idempotency keys, of which %d had been stored",
		acked, retried, stored)
	js := connectJetStream(t, ns.URL())
	waitCaughtUp(t, pool, js, 30*time.Second)
	checkNoDuplicates(t, pool, js, base, "takeover", calls)
	live := dumpReadModels(t, pool)
	for _, p := range []*Process{backend, workers[survivor]} {
		if err := p.Stop(syscall.SIGTERM, 20*time.Second); err != nil {
			t.Fatalf("%s after SIGTERM: %v", p.Name, err)
		}
	}
	replayAll(t, r)
	compareDumps(t, live, dumpReadModels(t, pool))
}

// sessions lists the database's sessions and the advisory locks they hold.
func sessions(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT a.pid, a.application_name, a.state, coalesce(string_agg(l.classid || ':' || l.objid, ' '), '')
		FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory'
		WHERE a.datname = current_database() GROUP BY 1, 2, 3 ORDER BY 2, 1`)
	if err != nil {
		return err.Error()
	}
	var out []string
	var pid int
	var app, state, locks string
	_, err = pgx.ForEachRow(rows, []any{&pid, &app, &state, &locks}, func() error {
		out = append(out, fmt.Sprintf("pid %d %q %s locks [%s]", pid, app, state, locks))
		return nil
	})
	if err != nil {
		return err.Error()
	}
	return strings.Join(out, "\n")
}
