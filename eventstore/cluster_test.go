package eventstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/testkit"
)

// A store reads every event acknowledged before it asks, on a stream of
// three replicas whose direct gets a replica answers before it holds them:
// a follower applies a message a moment after the leader acknowledges it,
// and a restarted one answers once 90 % caught up. A client answering
// every direct get with "no message", often before the replicas do, plays
// such a replica.
func TestReplicatedStoreReadsPastALaggingReplica(t *testing.T) {
	nodes := testkit.StartNATSCluster(t, 3)
	ctx := context.Background()
	var hits atomic.Int64 // direct gets the lagging replica answered
	nc, js := testkit.Dial(t, nodes[0].ClientURL())
	lagging, err := nc.Subscribe("$JS.API.DIRECT.GET.EVENTS", func(m *nats.Msg) {
		hits.Add(1)
		reply := nats.NewMsg(m.Reply)
		reply.Header.Set("Status", "404")
		reply.Header.Set("Description", "Message Not Found")
		_ = nc.PublishMsg(reply)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lagging.Unsubscribe() })
	s, err := eventstore.Open(ctx, js, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	const rounds = 100
	missed := 0
	for i := range rounds {
		subject := fmt.Sprintf("events.t1.test.acked%d", i)
		first, err := s.Append(ctx, []eventstore.Message{msg(subject, subject+"-1", 0)})
		if err != nil {
			t.Fatal(err)
		}
		second, err := s.Append(ctx, []eventstore.Message{msg(subject, subject+"-2", first[0])})
		if err != nil {
			t.Fatal(err)
		}
		envs, version, err := s.Load(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		if len(envs) != 2 || version != second[0] {
			missed++
			continue
		}
		after, version, err := s.LoadAfter(ctx, subject, first[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != 1 || version != second[0] {
			missed++
		}
	}
	if hits.Load() == 0 {
		t.Fatal("the lagging replica was never asked")
	}
	if missed > 0 {
		t.Fatalf("%d of %d loads missed acknowledged events", missed, rounds)
	}
}
