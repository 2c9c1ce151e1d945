package outcomes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/connector/outcomes"
	"github.com/rafiki-go/rafiki/testkit"
)

const tenantID = "00000000-0000-4000-8000-000000000002"

// received reads every ReceiveIncomingPayment on the command queue, by
// payment, summing what they tell.
func received(t *testing.T, js jetstream.JetStream) (map[string]commands.ReceiveIncomingPayment, int) {
	t.Helper()
	ctx := context.Background()
	stream, err := js.Stream(ctx, "COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]commands.ReceiveIncomingPayment{}
	messages := 0
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		if msg.Subject != commands.ReceiveIncomingPaymentSubject {
			t.Fatalf("message on %s", msg.Subject)
		}
		if msg.Header.Get(jetstream.MsgIDHeader) == "" {
			t.Fatal("message without an id")
		}
		var c commands.ReceiveIncomingPayment
		if err := json.Unmarshal(msg.Data, &c); err != nil {
			t.Fatal(err)
		}
		messages++
		sum := out[c.IncomingPaymentID]
		sum.TenantID, sum.IncomingPaymentID = c.TenantID, c.IncomingPaymentID
		sum.Packets += c.Packets
		sum.Amount += c.Amount
		out[c.IncomingPaymentID] = sum
	}
	return out, messages
}

// Packets for one payment become one message however many they are; each
// payment's message tells all its packets; a stop sends what is left.
func TestPublisherBatchesByPayment(t *testing.T) {
	n := testkit.StartNATS(t, false)
	p, err := outcomes.NewPublisher(n.Conn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const payments, packets = 50, 40
	for i := range packets {
		for j := range payments {
			p.Received(tenantID, fmt.Sprintf("payment-%d", j), uint64(i+1))
		}
	}
	if s := p.Stats(); s.Pending != payments || s.Dropped != 0 {
		t.Fatalf("stats before sending %+v", s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	testkit.Eventually(t, 5*time.Second, func() bool { return p.Stats().Published == payments }, "tallies not sent")
	got, messages := received(t, n.JS)
	if messages != payments || len(got) != payments {
		t.Fatalf("%d messages for %d payments, want one each", messages, len(got))
	}
	for id, c := range got {
		if c.TenantID != tenantID || c.Packets != packets || c.Amount != packets*(packets+1)/2 {
			t.Fatalf("payment %s told %+v", id, c)
		}
	}
	// What arrives as it stops is sent before Run returns.
	p.Received(tenantID, "last", 7)
	cancel()
	<-done
	got, _ = received(t, n.JS)
	if c := got["last"]; c.Packets != 1 || c.Amount != 7 {
		t.Fatalf("the last packet told %+v", c)
	}
	if s := p.Stats(); s.Published != payments+1 || s.Pending != 0 {
		t.Fatalf("stats at the end %+v", s)
	}
}

// A payment paid by a stream of packets gets a message every repeatAfter,
// each telling all its packets since the last; a payment paid once
// meanwhile is told at once.
func TestPublisherPacesAPayment(t *testing.T) {
	n := testkit.StartNATS(t, false)
	p, err := outcomes.NewPublisher(n.Conn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go p.Run(ctx)
	start := time.Now()
	var packets uint64
	for time.Since(start) < time.Second {
		p.Received(tenantID, "hot", 1)
		packets++
		if packets == 10 {
			p.Received(tenantID, "once", 5)
		}
		time.Sleep(100 * time.Microsecond)
	}
	// Sent once nothing waits and a message is acknowledged for every
	// packet.
	var got map[string]commands.ReceiveIncomingPayment
	var messages int
	testkit.Eventually(t, 5*time.Second, func() bool {
		if p.Stats().Pending > 0 {
			return false
		}
		got, messages = received(t, n.JS)
		return got["hot"].Packets == packets && got["once"].Packets == 1
	}, "tallies not sent")
	if hot := got["hot"]; hot.Packets != packets || hot.Amount != packets {
		t.Fatalf("the hot payment told %+v, want %d packets", hot, packets)
	}
	if once := got["once"]; once.Packets != 1 || once.Amount != 5 {
		t.Fatalf("the other payment told %+v", once)
	}
	// A second of packets, one message at most every repeatAfter, and the
	// other payment's one.
	if limit := int(time.Since(start)/outcomes.RepeatAfter) + 2; messages > limit {
		t.Fatalf("%d messages for a second of packets, want at most %d", messages, limit)
	}
	t.Logf("%d packets in %d messages", packets, messages)
}

// While the server is away the tallies wait, however many packets come;
// they are sent when it is back.
func TestPublisherWaitsForTheServer(t *testing.T) {
	n := testkit.StartNATS(t, false)
	p, err := outcomes.NewPublisher(n.Conn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go p.Run(ctx)
	port := n.Server.Addr().(*net.TCPAddr).Port
	testkit.StopNATS(n)
	testkit.Eventually(t, 5*time.Second, func() bool { return !n.Conn.IsConnected() }, "client saw the server go")
	for i := range 1000 {
		p.Received(tenantID, fmt.Sprintf("payment-%d", i%10), 1)
	}
	time.Sleep(300 * time.Millisecond)
	if s := p.Stats(); s.Pending != 10 || s.Published != 0 || s.Dropped != 0 {
		t.Fatalf("while the server is away %+v", s)
	}
	testkit.StartNATSAgain(t, n, port, false)
	testkit.Eventually(t, 15*time.Second, func() bool { return p.Stats().Published == 10 }, "tallies not sent after the server came back")
	got, _ := received(t, n.JS)
	if len(got) != 10 {
		t.Fatalf("%d payments told", len(got))
	}
	for id, c := range got {
		if c.Packets != 100 || c.Amount != 100 {
			t.Fatalf("payment %s told %+v", id, c)
		}
	}
}

// Past the payments it can hold, a packet for another payment is dropped
// and counted; packets for payments held are still tallied.
func TestPublisherDropsPastItsBound(t *testing.T) {
	n := testkit.StartNATS(t, false)
	p, err := outcomes.NewPublisher(n.Conn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := range outcomes.PendingMax {
		p.Received(tenantID, fmt.Sprint(i), 1)
	}
	p.Received(tenantID, "one more", 1)
	p.Received(tenantID, "0", 1)
	if s := p.Stats(); s.Pending != outcomes.PendingMax || s.Dropped != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// BenchmarkReceived is what a packet pays to tell its outcome:
//
//	go test -run '^$' -bench Received -benchmem ./connector/outcomes/
func BenchmarkReceived(b *testing.B) {
	n := testkit.StartNATS(b, false)
	p, err := outcomes.NewPublisher(n.Conn, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Received(tenantID, "payment", 1)
		}
	})
}
