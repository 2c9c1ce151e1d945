package systemtest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/app"
)

// outageBound is the longest a signed call may take while a dependency is
// down: it must fail, not wait for the dependency to come back.
const outageBound = 6 * time.Second

// TestNATSOutage stops the nats-server `rafiki dev` uses in the middle of a
// burst of signed createWalletAddress calls and starts it again: while it
// is down, calls fail within outageBound with an error the client can
// read; after, calls succeed again without a restart, no acknowledged
// wallet address is lost and the read models equal a full replay.
func TestNATSOutage(t *testing.T) {
	h := newHarness(t)
	ns := h.NATSServer("nats")
	r := h.NewRafiki(map[string]string{"NATS_URL": ns.URL()})
	dev := r.Start("dev", nil, "dev")
	r.WaitReady(t, dev, 90*time.Second)
	op := r.Operator(30 * time.Second)
	ctx := context.Background()
	assetID, err := createAsset(ctx, op, "USD", 2)
	if err != nil {
		t.Fatalf("createAsset: %v", err)
	}
	const calls = 300
	b := startBurst(op, assetID, "outage", calls, 10)
	b.waitAcked(t, 80, 60*time.Second)
	if err := ns.Proc.Stop(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatalf("stop nats-server: %v", err)
	}
	down := time.Now()
	// Long enough that a call waiting for the server to come back would
	// take more than outageBound.
	time.Sleep(outageBound + 2*time.Second)
	up := time.Now()
	ns.Start()
	b.wait(t, 2*time.Minute)
	t.Logf("burst: %s", b.summary())
	checkOutageCalls(t, b, down, up)

	deadline := time.Now().Add(20 * time.Second)
	for {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := createWalletAddress(callCtx, op, assetID, "/after", "")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("createWalletAddress still fails 20s after nats-server came back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	base := r.OpenPaymentsURL()
	checkAcknowledged(t, op, base, b.calls)
	acked := len(b.acknowledged())
	retried, stored := retryUnacknowledged(t, op, assetID, base, b.calls)
	t.Logf("%d acknowledged and all found after the outage; %d retried with their idempotency keys, of which %d had been stored",
		acked, retried, stored)
	pool := r.Pool(t)
	js := connectJetStream(t, ns.URL())
	waitCaughtUp(t, pool, js, 30*time.Second)
	checkNoDuplicates(t, pool, js, base, "outage", calls)
	live := dumpReadModels(t, pool)
	if err := dev.Stop(syscall.SIGTERM, 20*time.Second); err != nil {
		t.Fatalf("dev after SIGTERM: %v", err)
	}
	replayAll(t, r)
	compareDumps(t, live, dumpReadModels(t, pool))
}

// checkOutageCalls fails the test unless every call under way while the
// server was down ended within outageBound of the moment it went down or
// of the call's start, whichever came later, and those that failed did so
// with an error the client can read. As the outage lasts longer than
// outageBound, a call that waited for the server to come back fails this.
func checkOutageCalls(t *testing.T, b *burst, down, up time.Time) {
	t.Helper()
	var during []*call
	for _, c := range b.calls {
		if !c.At.IsZero() && c.At.Before(up) && c.At.Add(c.Took).After(down) {
			during = append(during, c)
		}
	}
	if len(during) == 0 {
		t.Fatal("no call was under way while the server was down")
	}
	waited := func(c *call) time.Duration {
		if c.At.Before(down) {
			return c.At.Add(c.Took).Sub(down)
		}
		return c.Took
	}
	sort.Slice(during, func(i, j int) bool { return waited(during[i]) > waited(during[j]) })
	var problems []string
	sent := 0
	for _, c := range during {
		if c.At.After(down) {
			sent++
		}
		switch {
		case waited(c) > outageBound:
			problems = append(problems, fmt.Sprintf("%s waited %s while the server was down, then %s", c.Path, waited(c).Round(time.Millisecond), outcome(c)))
		case !c.Acked:
			if msg := serviceError(c.Err); msg != "" {
				problems = append(problems, c.Path+": "+msg)
			}
		}
	}
	t.Logf("%d calls under way while the server was down (%d sent meanwhile); the longest waited %s, then %s",
		len(during), sent, waited(during[0]).Round(time.Millisecond), outcome(during[0]))
	if len(problems) > 0 {
		t.Errorf("calls while the server was down (%s):\n%s", up.Sub(down).Round(time.Millisecond), firstLines(problems, 10))
	}
}

func outcome(c *call) string {
	if c.Acked {
		return "succeeded"
	}
	return fmt.Sprintf("failed: %v", c.Err)
}

func firstLines(lines []string, n int) string {
	out := ""
	for i, l := range lines {
		if i == n {
			return out + fmt.Sprintf("… %d more", len(lines)-n)
		}
		out += l + "\n"
	}
	return out
}

// TestNATSClusterNodeLoss runs `rafiki dev` on a three-node JetStream
// cluster with every stream replicated three times, kills (SIGKILL) the
// node leading the event stream in the middle of a burst of signed
// createWalletAddress calls, and checks that the service goes on with two
// nodes and that every acknowledged write is kept.
func TestNATSClusterNodeLoss(t *testing.T) {
	h := newHarness(t)
	nodes := h.NATSCluster()
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL())
	}
	r := h.NewRafiki(map[string]string{"NATS_URL": strings.Join(urls, ","), "NATS_STREAM_REPLICAS": "3"})
	if out, err := r.Run(time.Minute, "streams", "apply"); err != nil || !strings.Contains(out, "streams applied") {
		t.Fatalf("rafiki streams apply: %v\n%s", err, out)
	}
	js := connectJetStream(t, strings.Join(urls, ","))
	ctx := context.Background()
	stream, err := js.Stream(ctx, app.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if replicas := stream.CachedInfo().Config.Replicas; replicas != 3 {
		t.Fatalf("%s has %d replicas, want 3", app.EventsStream, replicas)
	}
	dev := r.Start("dev", nil, "dev")
	r.WaitReady(t, dev, 90*time.Second)
	op := r.Operator(30 * time.Second)
	assetID, err := createAsset(ctx, op, "USD", 2)
	if err != nil {
		t.Fatalf("createAsset: %v", err)
	}
	const calls = 300
	b := startBurst(op, assetID, "cluster", calls, 10)
	b.waitAcked(t, 80, 60*time.Second)
	info, err := stream.Info(ctx)
	if err != nil || info.Cluster == nil {
		t.Fatalf("%s cluster info: %+v, %v", app.EventsStream, info, err)
	}
	var killed *NATSServer
	for _, n := range nodes {
		if n.Name == info.Cluster.Leader {
			killed = n
		}
	}
	if killed == nil {
		t.Fatalf("%s is led by %q, none of the nodes", app.EventsStream, info.Cluster.Leader)
	}
	killed.Proc.Kill()
	b.wait(t, 2*time.Minute)
	t.Logf("killed %s, the leader of %s; burst: %s", killed.Name, app.EventsStream, b.summary())

	deadline := time.Now().Add(30 * time.Second)
	for {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := createWalletAddress(callCtx, op, assetID, "/probe", "probe")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("createWalletAddress still fails 30s after %s was killed: %v", killed.Name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	after := startBurst(op, assetID, "after", 50, 10)
	after.wait(t, time.Minute)
	if n := len(after.acknowledged()); n != 50 {
		t.Fatalf("with two nodes left %d of 50 calls succeeded: %s", n, after.summary())
	}
	base := r.OpenPaymentsURL()
	checkAcknowledged(t, op, base, b.calls)
	acked := len(b.acknowledged())
	retried, stored := retryUnacknowledged(t, op, assetID, base, b.calls)
	t.Logf("%d acknowledged and all found with two nodes; %d retried with their idempotency keys, of which %d had been stored",
		acked, retried, stored)
	pool := r.Pool(t)
	waitCaughtUp(t, pool, js, 30*time.Second)
	checkNoDuplicates(t, pool, js, base, "cluster", calls)
	checkNoDuplicates(t, pool, js, base, "after", 50)
	live := dumpReadModels(t, pool)
	if err := dev.Stop(syscall.SIGTERM, 20*time.Second); err != nil {
		t.Fatalf("dev after SIGTERM: %v", err)
	}
	replayAll(t, r)
	compareDumps(t, live, dumpReadModels(t, pool))
}
