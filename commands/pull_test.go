package commands_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/testkit"
)

// A pull lost on its way, as one is with a node of a cluster or its
// consumer's leader, costs the worker two missed heartbeats: it pulls
// again and goes on, where it used to wait 30 s and then stop.
func TestWorkerPullsAgainWhenItsPullIsLost(t *testing.T) {
	n := testkit.StartNATS(t, false)
	dropper := testkit.StartDropper(t, n.URL)
	js := dropper.JetStream(t)
	p := newProbe()
	w := worker(js, map[string]commands.Handler{"commands.test.pull": func(_ context.Context, data []byte) (time.Duration, error) {
		p.record(data)
		return 0, nil
	}})
	logs := &records{}
	w.Log = slog.New(logs)
	start(t, w)
	enqueue(t, n.JS, "commands.test.pull", "before")
	testkit.Eventually(t, 10*time.Second, func() bool { return p.count("before") == 1 }, "the first command handled")

	// The server restarts: the pull it held is gone with it, and the one
	// the worker sends once it has reconnected is lost.
	dropper.RestartLosingPulls(t, n)
	lost := time.Now()
	testkit.Eventually(t, 10*time.Second, n.Conn.IsConnected, "the test's connection back")
	enqueue(t, n.JS, "commands.test.pull", "after")
	testkit.Eventually(t, 40*time.Second, func() bool { return p.count("after") == 1 }, "the command enqueued after the lost pull handled")
	took := time.Since(lost)
	t.Logf("handled the command enqueued after the pull was lost %s after", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("the worker handled a command again only %s after its pull was lost, want within 5s", took.Round(time.Millisecond))
	}
	if !logs.has("no heartbeat from the consumer; pulling again") {
		t.Error("the lost pull was not noticed from the missing heartbeats")
	}
}

// An enqueue whose publish goes unanswered, as one does that a stream's
// leader took down with its node, is sent again after two seconds rather
// than failing at its deadline, and the command is stored once.
func TestEnqueueUnansweredIsSentAgain(t *testing.T) {
	n := testkit.StartNATS(t, false)
	dropper := testkit.StartDropper(t, n.URL)
	js := dropper.JetStream(t)
	dropper.Drop("commands.test.lost")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	began := time.Now()
	done := make(chan error, 1)
	go func() {
		done <- commands.Enqueue(ctx, js, "commands.test.lost", "lost-once", map[string]string{"ID": "lost-once"})
	}()
	testkit.Eventually(t, 5*time.Second, func() bool { return dropper.Dropped() > 0 }, "the first publish dropped")
	dropper.Drop("")
	if err := <-done; err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	took := time.Since(began)
	t.Logf("enqueued %s after its first publish was lost", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("enqueued only after %s, want within 5s", took.Round(time.Millisecond))
	}
	if got := streamMsgs(t, n.JS, commandsStream); got != 1 {
		t.Fatalf("%d commands stored, want 1", got)
	}
}
