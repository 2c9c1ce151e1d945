package systemtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	rafiki "github.com/rafiki-go/rafiki"
	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/streams"
)

const (
	// requestTimeout is REQUEST_TIMEOUT_MS as the tests set it (its
	// default): no request may take longer.
	requestTimeout = 10 * time.Second
	// freshBound is the longest a call sent while NATS is known to be down
	// may take: the store refuses it at once.
	freshBound = 2 * time.Second
	// noticeGrace is how long after the server went away a call may still
	// be sent as if it were there: the client's connection has not seen
	// it go yet.
	noticeGrace = 500 * time.Millisecond
)

// TestNATSOutage stops the nats-server `rafiki dev` uses in the middle of a
// burst of signed createWalletAddress calls, for longer than a request's
// deadline, and starts it again. While it is down, calls sent fail at once
// with SERVICE_UNAVAILABLE and calls under way end by their deadline; after,
// calls succeed again without a restart, no acknowledged wallet address is
// lost and the read models equal a full replay.
func TestNATSOutage(t *testing.T) {
	h := newHarness(t)
	ns := h.NATSServer("nats")
	r := h.NewRafiki(map[string]string{"NATS_URL": ns.URL(), "REQUEST_TIMEOUT_MS": fmt.Sprint(requestTimeout.Milliseconds())})
	dev := startDev(t, r)
	op, assetID := operatorWithAsset(t, r, 30*time.Second)
	ctx := context.Background()
	const calls = 300
	b := startBurst(op, assetID, "outage", calls, 10)
	b.waitAcked(t, 80, 60*time.Second)
	if err := ns.Proc.Stop(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatalf("stop nats-server: %v", err)
	}
	down := time.Now()
	// Calls sent one after another while the server is down, whatever the
	// burst's clients are doing.
	var probes []*call
	outage := requestTimeout + 2*time.Second
	time.Sleep(noticeGrace)
	for i := 0; time.Since(down) < outage-freshBound; i++ {
		c := &call{Path: fmt.Sprintf("/down-%d", i), Key: fmt.Sprintf("down-%d", i), At: time.Now()}
		wa, err := createWalletAddress(ctx, op, assetID, c.Path, c.Key)
		c.Took, c.Err = time.Since(c.At), err
		c.Acked, c.ID = err == nil, wa.ID
		probes = append(probes, c)
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(outage - time.Since(down))
	up := time.Now()
	ns.Start()
	b.wait(t, 2*time.Minute)
	t.Logf("burst: %s", b.summary())
	checkOutageCalls(t, append(probes, b.calls...), down, up)

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
	var storedProbes int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM rm_wallet_addresses.wallet_addresses WHERE address LIKE $1`, base+"/down-%").Scan(&storedProbes); err != nil {
		t.Fatal(err)
	}
	if storedProbes != 0 {
		t.Errorf("%d calls refused while the server was down were stored", storedProbes)
	}
	live := dumpReadModels(t, pool)
	if err := dev.Stop(syscall.SIGTERM, 20*time.Second); err != nil {
		t.Fatalf("dev after SIGTERM: %v", err)
	}
	replayAll(t, r)
	compareDumps(t, live, dumpReadModels(t, pool))
}

// checkOutageCalls fails the test unless every call under way while the
// server was down behaved: one sent once the service could know the server
// was gone failed within freshBound with SERVICE_UNAVAILABLE; one sent
// before ended within requestTimeout of the server going down, and if it
// failed, with SERVICE_UNAVAILABLE or TIMEOUT.
func checkOutageCalls(t *testing.T, calls []*call, down, up time.Time) {
	t.Helper()
	var fresh, inFlight []*call
	for _, c := range calls {
		switch {
		case c.At.IsZero() || !c.At.Before(up) || !c.At.Add(c.Took).After(down):
		case c.At.After(down.Add(noticeGrace)):
			fresh = append(fresh, c)
		default:
			inFlight = append(inFlight, c)
		}
	}
	if len(fresh) == 0 {
		t.Fatal("no call was sent while the server was down")
	}
	var problems []string
	slowestFresh := fresh[0]
	for _, c := range fresh {
		if c.Took > slowestFresh.Took {
			slowestFresh = c
		}
		switch {
		case c.Took > freshBound:
			problems = append(problems, fmt.Sprintf("%s, sent %s after the server went down, took %s, then %s",
				c.Path, c.At.Sub(down).Round(time.Millisecond), c.Took.Round(time.Millisecond), outcome(c)))
		case c.Acked:
			problems = append(problems, fmt.Sprintf("%s, sent %s after the server went down, succeeded", c.Path, c.At.Sub(down).Round(time.Millisecond)))
		case errorCode(c.Err) != "SERVICE_UNAVAILABLE":
			problems = append(problems, fmt.Sprintf("%s, sent while the server was down, failed with %v, not SERVICE_UNAVAILABLE", c.Path, c.Err))
		}
	}
	var longest time.Duration
	for _, c := range inFlight {
		waited := c.At.Add(c.Took).Sub(down)
		longest = max(longest, waited)
		switch {
		case waited > requestTimeout+time.Second:
			problems = append(problems, fmt.Sprintf("%s, under way when the server went down, ended %s later, past the request deadline, then %s",
				c.Path, waited.Round(time.Millisecond), outcome(c)))
		case !c.Acked && !outageCode(errorCode(c.Err)):
			problems = append(problems, fmt.Sprintf("%s, under way when the server went down, failed with %v, not SERVICE_UNAVAILABLE or TIMEOUT", c.Path, c.Err))
		}
	}
	t.Logf("while the server was down (%s): %d calls sent, the slowest answered after %s (%s); %d under way, the last ended %s after it went down",
		up.Sub(down).Round(time.Millisecond), len(fresh), slowestFresh.Took.Round(time.Millisecond), outcome(slowestFresh), len(inFlight), longest.Round(time.Millisecond))
	if len(problems) > 0 {
		t.Errorf("calls while the server was down:\n%s", firstLines(problems, 10))
	}
}

// errorCode is the GraphQL code of a call's error, from a 200 or a 5xx.
func errorCode(err error) string {
	var status *adminclient.StatusError
	var errs adminclient.Errors
	switch {
	case errors.As(err, &errs):
	case errors.As(err, &status):
		var body struct{ Errors adminclient.Errors }
		if json.Unmarshal([]byte(status.Body), &body) != nil || len(body.Errors) == 0 {
			return ""
		}
		errs = body.Errors
	default:
		return ""
	}
	return errs[0].Code()
}

func outcome(c *call) string {
	if c.Acked {
		return "succeeded"
	}
	return fmt.Sprintf("failed: %v", c.Err)
}

// nodeLossBound is how soon writes must resume after a node of the
// cluster is lost: the stream's followers wait 4 to 9 s (nats-server's
// election timeouts) before they elect a new leader, and a request the
// lost leader left unanswered is sent again every 2 s.
const nodeLossBound = 12 * time.Second

// outageCode reports whether a call's error code is one a dependency's
// outage may cause: the dependency did not answer (SERVICE_UNAVAILABLE),
// or the change was stored and its read model had not shown it in time
// (TIMEOUT).
func outageCode(code string) bool { return code == "SERVICE_UNAVAILABLE" || code == "TIMEOUT" }

// connectedNode finds the node holding the client connection named name.
func connectedNode(t *testing.T, nodes []*NATSServer, name string) *NATSServer {
	t.Helper()
	var found []*NATSServer
	for _, n := range nodes {
		names, err := n.ClientNames()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(names, name) {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d nodes hold a connection named %q, want 1", len(found), name)
	}
	return found[0]
}

// leadStream makes node the leader of a stream (a step-down of the leader
// in its favour) and waits until it is.
func leadStream(t *testing.T, js jetstream.JetStream, streamName, node string) {
	t.Helper()
	stream, err := js.Stream(context.Background(), streamName)
	if err != nil {
		t.Fatal(err)
	}
	lead(t, js, streamName, "$JS.API.STREAM.LEADER.STEPDOWN."+streamName, node, func(ctx context.Context) (*jetstream.ClusterInfo, error) {
		info, err := stream.Info(ctx)
		if err != nil {
			return nil, err
		}
		return info.Cluster, nil
	})
}

// leadConsumer makes node the leader of a durable consumer and waits until
// it is.
func leadConsumer(t *testing.T, js jetstream.JetStream, streamName, consumerName, node string) {
	t.Helper()
	cons, err := js.Consumer(context.Background(), streamName, consumerName)
	if err != nil {
		t.Fatal(err)
	}
	lead(t, js, consumerName, "$JS.API.CONSUMER.LEADER.STEPDOWN."+streamName+"."+consumerName, node, func(ctx context.Context) (*jetstream.ClusterInfo, error) {
		info, err := cons.Info(ctx)
		if err != nil {
			return nil, err
		}
		return info.Cluster, nil
	})
}

// lead asks the leader of what to step down in node's favour until node
// leads it.
func lead(t *testing.T, js jetstream.JetStream, what, stepDownSubject, node string, cluster func(context.Context) (*jetstream.ClusterInfo, error)) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := cluster(ctx)
		if err == nil && info != nil && info.Leader == node {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not led by %s after 30s: %+v %v", what, node, info, err)
		}
		if err == nil && info != nil && info.Leader != "" {
			msg, err := js.Conn().Request(stepDownSubject, []byte(fmt.Sprintf(`{"placement":{"preferred":%q}}`, node)), 5*time.Second)
			if err != nil {
				t.Logf("step-down of %s's leader: %v", what, err)
			} else if !strings.Contains(string(msg.Data), `"success":true`) {
				t.Logf("step-down of %s's leader: %s", what, msg.Data)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
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
// cluster with every stream replicated three times, and kills (SIGKILL) a
// node in the middle of a burst of signed createWalletAddress calls. The
// node is made the leader of the event stream and of the consumer of the
// wallet addresses' read model first, so that the stream's leader and the
// pull of the read model the calls wait for are lost at once; it is the
// node dev is connected to, whose connection is lost too, or another, which
// dev hears nothing from. The service goes on with two nodes within a few
// seconds, and every acknowledged write is kept.
func TestNATSClusterNodeLoss(t *testing.T) {
	for _, devsNode := range []bool{true, false} {
		name := "connected"
		if !devsNode {
			name = "other"
		}
		t.Run(name, func(t *testing.T) { natsClusterNodeLoss(t, devsNode) })
	}
}

func natsClusterNodeLoss(t *testing.T, devsNode bool) {
	h := newHarness(t)
	nodes := h.NATSCluster()
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL())
	}
	r := h.NewRafiki(map[string]string{"NATS_URL": strings.Join(urls, ","), "NATS_STREAM_REPLICAS": "3",
		"REQUEST_TIMEOUT_MS": fmt.Sprint(requestTimeout.Milliseconds())})
	r.ApplyStreams(t)
	js := connectJetStream(t, strings.Join(urls, ","))
	ctx := context.Background()
	stream, err := js.Stream(ctx, app.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if replicas := stream.CachedInfo().Config.Replicas; replicas != 3 {
		t.Fatalf("%s has %d replicas, want 3", app.EventsStream, replicas)
	}
	dev := startDev(t, r)
	killed := connectedNode(t, nodes, "rafiki")
	if !devsNode {
		killed = nodes[(slices.Index(nodes, killed)+1)%len(nodes)]
	}
	leadStream(t, js, app.EventsStream, killed.Name)
	// The read model the calls wait for loses its consumer's leader too,
	// and with it the pull its runner waits on.
	leadConsumer(t, js, app.EventsStream, projections.ConsumerName(projections.WalletAddresses{}), killed.Name)
	op, assetID := operatorWithAsset(t, r, 30*time.Second)
	const calls = 300
	b := startBurst(op, assetID, "cluster", calls, 10)
	b.waitAcked(t, 80, 60*time.Second)
	killed.Proc.Kill()
	killedAt := time.Now()
	b.wait(t, 2*time.Minute)
	t.Logf("killed %s (dev's node: %t), the leader of %s; burst: %s", killed.Name, devsNode, app.EventsStream, b.summary())
	var problems []string
	var firstSuccess time.Time
	for _, c := range b.calls {
		end := c.At.Add(c.Took)
		switch {
		case c.Took > requestTimeout+time.Second:
			problems = append(problems, fmt.Sprintf("%s took %s, past the request deadline, then %s", c.Path, c.Took.Round(time.Millisecond), outcome(c)))
		case c.Acked && c.At.After(killedAt) && (firstSuccess.IsZero() || end.Before(firstSuccess)):
			firstSuccess = end
		case c.Err != nil && !outageCode(errorCode(c.Err)):
			problems = append(problems, fmt.Sprintf("%s failed with %v, not SERVICE_UNAVAILABLE or TIMEOUT", c.Path, c.Err))
		}
	}
	// Calls that fail at once may all be spent before the election ends:
	// then the probes below tell when writes resumed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := createWalletAddress(callCtx, op, assetID, "/probe", "probe")
		cancel()
		if err == nil {
			if firstSuccess.IsZero() {
				firstSuccess = time.Now()
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("createWalletAddress still fails 30s after %s was killed: %v", killed.Name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the first call sent after the kill to succeed ended %s after it", firstSuccess.Sub(killedAt).Round(time.Millisecond))
	// docs/OPERATIONS.md: writes go on once the stream has elected a new
	// leader.
	if firstSuccess.Sub(killedAt) > nodeLossBound {
		problems = append(problems, fmt.Sprintf("writes resumed only %s after the kill (bound %s)", firstSuccess.Sub(killedAt).Round(time.Millisecond), nodeLossBound))
	}
	if len(problems) > 0 {
		t.Errorf("calls while a node was lost:\n%s", firstLines(problems, 10))
	}
	// The tools run once the node is back and every stream answers again,
	// as an operator runs them.
	checkAfterOutage(t, r, dev, op, assetID, b, "cluster", js, "with two nodes left", func() {
		killed.Start()
		waitStreamsAnswer(t, js, 30*time.Second)
	})
}

// waitStreamsAnswer waits until every declared stream and consumer answers
// an info request: after a node comes back, each elects its leader in its
// time, and the tools ask them all.
func waitStreamsAnswer(t *testing.T, js jetstream.JetStream, timeout time.Duration) {
	t.Helper()
	decl, err := streams.Parse(rafiki.StreamsYAML)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	await := func(what string, ask func(ctx context.Context) error) {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := ask(ctx)
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not answer %s after the node came back: %v", what, timeout, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, st := range decl.Streams {
		await("stream "+st.Name, func(ctx context.Context) error { _, err := js.Stream(ctx, st.Name); return err })
	}
	for _, c := range decl.Consumers {
		await("consumer "+c.Name, func(ctx context.Context) error { _, err := js.Consumer(ctx, c.Stream, c.Name); return err })
	}
}
