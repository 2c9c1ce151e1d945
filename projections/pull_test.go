package projections_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

// A pull lost on its way, as one is with a node of a cluster or its
// consumer's leader, costs a runner two missed heartbeats, not the
// client's default of 30 s: it pulls again and applies what came
// meanwhile.
func TestRunnerPullsAgainWhenItsPullIsLost(t *testing.T) {
	e := setup(t)
	dropper := testkit.StartDropper(t, e.nats.URL)
	js := dropper.JetStream(t)
	log, logs := capture()
	stop := runUntil(projections.NewRunner(e.pool, js, "EVENTS", e.tenants(), log))
	defer stop()
	first := load(t, e, 5, 0)
	testkit.Eventually(t, 20*time.Second, func() bool { return checkpoint(t, e.pool, "tenants") == first }, "caught up")

	// The server restarts: the pull it held is gone with it, and the one
	// the runner sends once it has reconnected is lost.
	dropper.RestartLosingPulls(t, e.nats)
	lost := time.Now()
	testkit.Eventually(t, 10*time.Second, e.nats.Conn.IsConnected, "the writer reconnected")
	last := loadFrom(t, e, 5, 5, 0)
	testkit.Eventually(t, 30*time.Second, func() bool { return checkpoint(t, e.pool, "tenants") == last }, "caught up again")
	took := time.Since(lost)
	t.Logf("applied the events written after the pull was lost %s after", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("the runner applied again only %s after its pull was lost, want within 5s", took.Round(time.Millisecond))
	}
	if !strings.Contains(logs.String(), "no heartbeat from the consumer") {
		t.Errorf("the lost pull was not noticed from the missing heartbeats:\n%s", logs)
	}
}
