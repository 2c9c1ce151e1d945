package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/stream"
	"github.com/rafiki-go/rafiki/testkit"
)

// The backend's connector receives STREAM money from a peer: into a wallet
// address through the credentials its SPSP endpoint hands out (Web
// Monetization), and into an incoming payment, which completes when it has
// received its amount.
func TestConnectorReceives(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd.ID, "staticIlpAddress": "test.sender", "initialLiquidity": "1000",
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{"from-sender"}},
			"outgoing": map[string]any{"authToken": "to-sender", "endpoint": "http://127.0.0.1:9/unused"}}}}, nil); err != nil {
		t.Fatal(err)
	}
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "carol", "publicName": "Carol"})
	if err != nil {
		t.Fatal(err)
	}
	connectorURL, err := s.running.URL(app.ConnectorListener)
	if err != nil {
		t.Fatal(err)
	}

	pay := func(address string, secret []byte, amount uint64) (uint64, ilp.Packet) {
		t.Helper()
		return payOverSTREAM(t, connectorURL, "from-sender", address, secret, amount)
	}

	// SPSP, as a Web Monetization sender asks for it.
	destination, secret := spspCredentials(t, s, "/carol")
	if got, reply := pay(destination, secret, 120); got != 120 {
		t.Fatalf("paying the wallet address: %+v", reply)
	}
	if got := *liquidityOf(t, s, `query($id: String!) { walletAddress(id: $id) { liquidity } }`, wa.ID); got != "120" {
		t.Fatalf("the wallet address holds %s, want 120", got)
	}

	ip, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID,
		"incomingAmount": map[string]any{"value": "300", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	address, ipSecret, err := s.running.Deps.StreamCredentials.Generate("test.rafiki", stream.Tag{ID: uuid.MustParse(ip.ID)})
	if err != nil {
		t.Fatal(err)
	}
	for _, amount := range []uint64{100, 200} {
		// The read model learns of a new payment a moment after it is
		// made; until then the connector does not know it.
		testkit.Eventually(t, 5*time.Second, func() bool {
			got, _ := pay(address, ipSecret, amount)
			return got == amount
		}, "paying the incoming payment")
	}
	// The packet that reached the amount closed the payment: the next one
	// is refused at once, before the payment's record says COMPLETED.
	if _, reply := pay(address, ipSecret, 1); reply == nil {
		t.Fatal("no answer for a paid payment")
	} else if rj, ok := reply.(ilp.Reject); !ok || rj.Code != ilp.CodeUnreachable {
		t.Fatalf("money for a payment whose amount was reached: %+v", reply)
	}
	testkit.Eventually(t, 5*time.Second, func() bool {
		got, err := getIncomingPayment(ctx, op, ip.ID)
		return err == nil && got.State == "COMPLETED" && got.ReceivedAmount.Value == "300" && got.Liquidity != nil && *got.Liquidity == "300"
	}, "the incoming payment did not complete with 300 received")
	// The connector keeps a receiver it found for a second.
	time.Sleep(1100 * time.Millisecond)
	if _, reply := pay(address, ipSecret, 1); reply == nil {
		t.Fatal("no answer for a completed payment")
	} else if rj, ok := reply.(ilp.Reject); !ok || rj.Code != ilp.CodeUnreachable {
		t.Fatalf("money for a completed payment: %+v", reply)
	}
	if got := *liquidityOf(t, s, `query($id: String!) { peer(id: $id) { liquidity } }`, peerIDByAddress(t, s, "test.sender")); got != "580" {
		t.Fatalf("the sender's liquidity is %s, want 1000 − 120 − 300 = 580", got)
	}
}

func peerIDByAddress(t *testing.T, s *system, address string) string {
	t.Helper()
	var out struct {
		Peers struct {
			Edges []struct {
				Node struct{ ID, StaticIlpAddress string }
			}
		} `json:"peers"`
	}
	if err := s.operator.Do(context.Background(), `{ peers { edges { node { id staticIlpAddress } } } }`, nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, e := range out.Peers.Edges {
		if e.Node.StaticIlpAddress == address {
			return e.Node.ID
		}
	}
	t.Fatalf("no peer %s", address)
	return ""
}

// spspCredentials asks the wallet address server for the STREAM credentials
// of the wallet address at path ("/carol"), as a Web Monetization sender
// does.
func spspCredentials(t *testing.T, s *system, path string) (destination string, secret []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.opURL+path, nil)
	req.Host = "wallet.test"
	req.Header.Set("Accept", "application/spsp4+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var spsp struct {
		Destination string `json:"destination_account"`
		Secret      string `json:"shared_secret"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&spsp); err != nil || resp.StatusCode != http.StatusOK || spsp.Destination == "" {
		t.Fatalf("SPSP %s: %d %v %+v", path, resp.StatusCode, err, spsp)
	}
	secret, err = base64.RawURLEncoding.DecodeString(spsp.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return spsp.Destination, secret
}

// payOverSTREAM sends one STREAM money packet to the credentials through
// the connector at connectorURL, as the peer whose incoming token is token,
// and answers the amount the receiver says it got (0 when it refused the
// packet) with the reply.
func payOverSTREAM(t *testing.T, connectorURL, token, address string, secret []byte, amount uint64) (uint64, ilp.Packet) {
	t.Helper()
	keys, err := stream.NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	data, err := keys.Seal(stream.Packet{Version: stream.Version, Type: stream.TypePrepare, Sequence: 1, PrepareAmount: amount,
		Frames: []stream.Frame{stream.StreamMoney{StreamID: 1, Shares: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := ilp.EncodePrepare(ilp.Prepare{Amount: amount, ExpiresAt: time.Now().Add(10 * time.Second).Truncate(time.Millisecond),
		ExecutionCondition: stream.Condition(keys.Fulfillment(data)), Destination: address, Data: data})
	req, _ := http.NewRequest(http.MethodPost, connectorURL, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", connector.ContentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	reply, err := ilp.DecodeAny(raw)
	if err != nil {
		t.Fatalf("connector answered %d %x: %v", resp.StatusCode, raw, err)
	}
	f, ok := reply.(ilp.Fulfill)
	if !ok {
		return 0, reply
	}
	got, err := keys.Open(f.Data, stream.TypeFulfill)
	if err != nil {
		t.Fatal(err)
	}
	return got.PrepareAmount, reply
}
