package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/testkit"
)

// The backend's connector forwards a packet between two peers made through
// the admin API, moving their liquidity, and learns of a peer created
// after it started.
func TestConnectorForwardsBetweenPeers(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	fulfillment := [32]byte{7}
	received := make(chan ilp.Prepare, 1)
	nextHop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p, err := ilp.DecodePrepare(body)
		if err != nil || r.Header.Get("Authorization") != "Bearer to-bob" {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		received <- p
		reply, _ := ilp.EncodeFulfill(ilp.Fulfill{Fulfillment: fulfillment})
		_, _ = w.Write(reply)
	}))
	defer nextHop.Close()
	createPeer := func(address, incoming, outgoing, endpoint string) string {
		var out struct {
			CreatePeer struct{ Peer struct{ ID string } } `json:"createPeer"`
		}
		if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
			"assetId": usd.ID, "staticIlpAddress": address, "initialLiquidity": "1000",
			"http": map[string]any{"incoming": map[string]any{"authTokens": []string{incoming}},
				"outgoing": map[string]any{"authToken": outgoing, "endpoint": endpoint}}}}, &out); err != nil {
			t.Fatal(err)
		}
		return out.CreatePeer.Peer.ID
	}
	alice := createPeer("test.alice", "from-alice", "to-alice", "http://127.0.0.1:9/unused")
	bob := createPeer("test.bob", "from-bob", "to-bob", nextHop.URL)

	connectorURL, err := s.running.URL(app.ConnectorListener)
	if err != nil {
		t.Fatal(err)
	}
	send := func(amount uint64, destination string) ilp.Packet {
		t.Helper()
		body, _ := ilp.EncodePrepare(ilp.Prepare{Amount: amount, ExpiresAt: time.Now().Add(10 * time.Second).Truncate(time.Millisecond),
			ExecutionCondition: sha256.Sum256(fulfillment[:]), Destination: destination})
		req, _ := http.NewRequest(http.MethodPost, connectorURL, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer from-alice")
		req.Header.Set("Content-Type", connector.ContentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		reply, err := ilp.DecodeAny(raw)
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("connector answered %d %x: %v", resp.StatusCode, raw, err)
		}
		return reply
	}
	// Bob was created a moment ago: the connector learns of it from its
	// events, shortly.
	var reply ilp.Packet
	testkit.Eventually(t, 5*time.Second, func() bool {
		reply = send(250, "test.bob.wallet")
		_, ok := reply.(ilp.Fulfill)
		if !ok {
			t.Logf("reply %+v", reply)
		}
		return ok
	}, "the connector did not forward to a new peer")
	if p := <-received; p.Amount != 250 || p.Destination != "test.bob.wallet" {
		t.Fatalf("bob received %+v", p)
	}
	liquidity := func(id string) string {
		return *liquidityOf(t, s, `query($id: String!) { peer(id: $id) { liquidity } }`, id)
	}
	if a, b := liquidity(alice), liquidity(bob); a != "750" || b != "1250" {
		t.Fatalf("liquidity alice %s bob %s, want 750 and 1250", a, b)
	}
	if rj, ok := send(1, "test.nobody").(ilp.Reject); !ok || rj.Code != ilp.CodeUnreachable || rj.TriggeredBy != "test.rafiki" {
		t.Fatalf("a packet with no route: %+v", rj)
	}
}
