package eventstore

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rafiki-go/rafiki/testkit"
)

// A request bound to the link ends as soon as the connection is lost,
// instead of waiting for an answer from a server that is gone; requests
// bound after the reconnection live on.
func TestLinkEndsRequestsOnALostConnection(t *testing.T) {
	n := testkit.StartNATS(t, false)
	nc, err := nats.Connect(n.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	done := make(chan struct{})
	defer close(done)
	l := newLink()
	l.follow(nc, done)
	ctx, unbind := l.bind(context.Background())
	defer unbind()

	u, _ := url.Parse(n.URL)
	port, _ := strconv.Atoi(u.Port())
	lostAt := time.Now()
	testkit.StopNATS(n)
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("a request bound to the link outlived its connection by 2 s")
	}
	if took := time.Since(lostAt); took > time.Second {
		t.Fatalf("the request ended %s after the server went", took)
	}
	if err := lostOr(ctx, ctx.Err()); !errors.Is(err, errConnectionLost) {
		t.Fatalf("ended with %v, want errConnectionLost", err)
	}
	if err := lostOr(context.Background(), errors.New("other")); errors.Is(err, errConnectionLost) {
		t.Fatal("an error of a live request read as a lost connection")
	}

	testkit.StartNATSAgain(t, n, port, false)
	testkit.Eventually(t, 5*time.Second, nc.IsConnected, "reconnected")
	after, unbindAfter := l.bind(context.Background())
	defer unbindAfter()
	select {
	case <-after.Done():
		t.Fatalf("a request bound after the reconnection ended: %v", context.Cause(after))
	case <-time.After(200 * time.Millisecond):
	}
}
