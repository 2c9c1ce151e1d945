package systemtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/stream"
)

// TestPacketsFlowThroughANATSOutage sends STREAM money into incoming
// payments of `rafiki dev` while its nats-server is stopped and started
// again, the last packets sent while it is down: the connector fulfils
// packets all along (it needs the databases, not NATS), and once the server
// is back every payment's recorded
// receivedAmount (its events, in the read model) equals what its packets
// brought, and the one whose amount was reached is completed.
func TestPacketsFlowThroughANATSOutage(t *testing.T) {
	h := newHarness(t)
	ns := h.NATSServer("nats")
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	r := h.NewRafiki(map[string]string{"NATS_URL": ns.URL(), "ILP_ADDRESS": "test.outage",
		"STREAM_SECRET": base64.StdEncoding.EncodeToString(secret)})
	startDev(t, r)
	op, assetID := operatorWithAsset(t, r, 30*time.Second)
	ctx := context.Background()
	if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": assetID, "staticIlpAddress": "test.outage-sender", "initialLiquidity": "100000000",
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{"outage-token"}},
			"outgoing": map[string]any{"authToken": "unused", "endpoint": "http://127.0.0.1:9/unused"}}}}, nil); err != nil {
		t.Fatalf("createPeer: %v", err)
	}
	wa, err := createWalletAddress(ctx, op, assetID, "/outage", "")
	if err != nil {
		t.Fatalf("createWalletAddress: %v", err)
	}
	creds, err := stream.NewCredentials(secret)
	if err != nil {
		t.Fatal(err)
	}
	// The first is paid only while NATS is down, and completes then; the
	// others stay open.
	amounts := []string{"100", "100000000", "100000000", "100000000"}
	payments := make([]*outagePayment, len(amounts))
	for i, amount := range amounts {
		id := createIncomingPaymentFor(t, op, wa.ID, amount)
		address, key, err := creds.Generate("test.outage", stream.Tag{ID: uuid.MustParse(id)})
		if err != nil {
			t.Fatal(err)
		}
		keys, err := stream.NewKeys(key)
		if err != nil {
			t.Fatal(err)
		}
		payments[i] = &outagePayment{id: id, address: address, keys: keys}
	}

	connectorURL := fmt.Sprintf("http://127.0.0.1:%d", r.Ports["CONNECTOR_PORT"])
	client := &http.Client{Timeout: 10 * time.Second}
	var fulfilled, rejected atomic.Int64
	// send has 8 senders pay the payments in turn for d.
	send := func(d time.Duration, payments []*outagePayment) {
		until := time.Now().Add(d)
		var senders sync.WaitGroup
		for s := range 8 {
			senders.Go(func() {
				for n := 0; time.Now().Before(until); n++ {
					if payments[(s+n)%len(payments)].send(t, client, connectorURL, 10) {
						fulfilled.Add(1)
					} else {
						rejected.Add(1)
					}
				}
			})
		}
		senders.Wait()
	}
	pool := r.Pool(t)
	// recorded waits until each payment's events record what its packets
	// brought.
	recorded := func(when string) {
		t.Helper()
		for i, p := range payments {
			want := p.fulfilled.Load() * 10
			var got int64
			deadline := time.Now().Add(30 * time.Second)
			for {
				err := pool.QueryRow(ctx, `SELECT received_amount FROM rm_incoming_payments.incoming_payments WHERE id = $1`, p.id).Scan(&got)
				if err == nil && got == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: payment %d records %d received (%v), its packets brought %d", when, i, got, err, want)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}

	// The payments reach the read model, which the connector reads, a
	// moment after they are made.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && payments[len(payments)-1].fulfilled.Load() == 0 {
		send(100*time.Millisecond, payments[1:])
	}
	send(time.Second, payments[1:])
	recorded("NATS up")
	// Nothing is on its way to the workers now: what the packets sent
	// while the server is down bring, only the outcomes the connector holds
	// can tell.
	if err := ns.Proc.Stop(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatalf("stop nats-server: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	before := fulfilled.Load()
	send(1500*time.Millisecond, payments)
	status := readiness(t, r.Ports["CONNECTOR_PORT"])
	send(1500*time.Millisecond, payments)
	fulfilledDown := fulfilled.Load() - before
	ns.Start()
	t.Logf("fulfilled while NATS was down: %d packets; rejected all along: %d; the connector's readiness while down: %s",
		fulfilledDown, rejected.Load(), status)
	if fulfilledDown == 0 {
		t.Fatal("no packet was fulfilled while NATS was down")
	}
	if status == "" {
		t.Error("the connector was not ready while NATS was down")
	}
	recorded("NATS back")

	for i, p := range payments {
		want := p.fulfilled.Load() * 10
		var state string
		if err := pool.QueryRow(ctx, `SELECT state FROM rm_incoming_payments.incoming_payments WHERE id = $1`, p.id).Scan(&state); err != nil {
			t.Fatal(err)
		}
		wantState := "PROCESSING"
		if i == 0 {
			wantState = "COMPLETED"
		}
		if state != wantState {
			t.Errorf("payment %d is %s with %d received, want %s", i, state, want, wantState)
		}
		var got struct {
			IncomingPayment struct{ ReceivedAmount struct{ Value string } } `json:"incomingPayment"`
		}
		if err := op.Do(ctx, `query($id: String!) { incomingPayment(id: $id) { receivedAmount { value } } }`, map[string]any{"id": p.id}, &got); err != nil {
			t.Fatal(err)
		}
		if got.IncomingPayment.ReceivedAmount.Value != fmt.Sprint(want) {
			t.Errorf("payment %d answers %s received, its packets brought %d", i, got.IncomingPayment.ReceivedAmount.Value, want)
		}
	}
}

// outagePayment is an incoming payment and the STREAM keys to pay it.
type outagePayment struct {
	id        string
	address   string
	keys      *stream.Keys
	sequence  atomic.Uint64
	fulfilled atomic.Int64
}

// send sends one STREAM money packet of amount and tells whether it was
// fulfilled; any other answer than a reject fails the test.
func (p *outagePayment) send(t *testing.T, client *http.Client, url string, amount uint64) bool {
	data, err := p.keys.Seal(stream.Packet{Version: stream.Version, Type: stream.TypePrepare, Sequence: p.sequence.Add(1), PrepareAmount: amount,
		Frames: []stream.Frame{stream.StreamMoney{StreamID: 1, Shares: 1}}})
	if err != nil {
		t.Error(err)
		return false
	}
	body, err := ilp.EncodePrepare(ilp.Prepare{Amount: amount, ExpiresAt: time.Now().Add(10 * time.Second).Truncate(time.Millisecond),
		ExecutionCondition: stream.Condition(p.keys.Fulfillment(data)), Destination: p.address, Data: data})
	if err != nil {
		t.Error(err)
		return false
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer outage-token")
	req.Header.Set("Content-Type", connector.ContentType)
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("the connector did not answer: %v", err)
		return false
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	reply, err := ilp.DecodeAny(raw)
	if err != nil {
		t.Errorf("the connector answered %d %x: %v", resp.StatusCode, raw, err)
		return false
	}
	if _, ok := reply.(ilp.Fulfill); ok {
		p.fulfilled.Add(1)
		return true
	}
	return false
}

func createIncomingPaymentFor(t *testing.T, op *adminclient.Client, walletAddressID, amount string) string {
	t.Helper()
	var out struct {
		CreateIncomingPayment struct{ Payment struct{ ID string } } `json:"createIncomingPayment"`
	}
	if err := op.Do(context.Background(), `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": walletAddressID,
			"incomingAmount": map[string]any{"value": amount, "assetCode": "USD", "assetScale": 2}}}, &out); err != nil {
		t.Fatalf("createIncomingPayment: %v", err)
	}
	return out.CreateIncomingPayment.Payment.ID
}

// readiness is the body of a ready answer of a listener's /healthz, empty
// when it is not ready.
func readiness(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Logf("healthz answered %d: %s", resp.StatusCode, body)
		return ""
	}
	return string(body)
}
