package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStreamSenderPaysAWalletAddress has the reference STREAM sender
// (ilp-protocol-stream over ilp-plugin-http, pinned in package.json) pay a
// wallet address of `rafiki dev` through its connector, with the credentials
// the wallet address's SPSP endpoint hands out, as a Web Monetization
// sender does: the sender is told everything was delivered, and the wallet
// address holds it.
func TestStreamSenderPaysAWalletAddress(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed to run the reference STREAM sender: %v", err)
	}
	root := repositoryRoot(t)
	h := newHarness(t)
	r := h.NewRafiki(nil)
	startDev(t, r)
	op, assetID := operatorWithAsset(t, r, 15*time.Second)
	ctx := context.Background()
	wa, err := createWalletAddress(ctx, op, assetID, "/web-monetized", "")
	if err != nil {
		t.Fatalf("createWalletAddress: %v", err)
	}
	if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": assetID, "staticIlpAddress": "test.interop-sender", "initialLiquidity": "100000",
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{"interop-token"}},
			"outgoing": map[string]any{"authToken": "unused", "endpoint": "http://127.0.0.1:9/unused"}}}}, nil); err != nil {
		t.Fatalf("createPeer: %v", err)
	}

	req, _ := http.NewRequest(http.MethodGet, wa.Address, nil)
	req.Header.Set("Accept", "application/spsp4+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var spsp struct {
		Destination string `json:"destination_account"`
		Secret      string `json:"shared_secret"`
	}
	err = json.NewDecoder(resp.Body).Decode(&spsp)
	resp.Body.Close()
	if err != nil || spsp.Destination == "" {
		t.Fatalf("SPSP at %s: %v %+v", wa.Address, err, spsp)
	}

	runCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, filepath.Join(root, "scripts", "interop", "stream-pay.mjs"))
	cmd.Dir = root
	cmd.Env = append(baseEnv(),
		fmt.Sprintf("CONNECTOR_URL=http://127.0.0.1:%d", r.Ports["CONNECTOR_PORT"]),
		"PEER_TOKEN=interop-token", "DESTINATION="+spsp.Destination, "SHARED_SECRET="+spsp.Secret, "AMOUNT=12345")
	out, err := cmd.CombinedOutput()
	t.Logf("stream-pay.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("stream-pay.mjs: %v", err)
	}
	var result struct {
		Sent, Delivered, SourceAccount, DestinationAssetCode string
		DestinationAssetScale                                int
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &result); err != nil {
		t.Fatalf("stream-pay.mjs printed %q: %v", lines[len(lines)-1], err)
	}
	if result.Sent != "12345" || result.Delivered != "12345" || result.SourceAccount != "test.interop-sender" ||
		result.DestinationAssetCode != "USD" || result.DestinationAssetScale != 2 {
		t.Fatalf("the sender's view: %+v", result)
	}
	var got struct {
		WalletAddress struct{ Liquidity *string } `json:"walletAddress"`
	}
	if err := op.Do(ctx, `query($id: String!) { walletAddress(id: $id) { liquidity } }`, map[string]any{"id": wa.ID}, &got); err != nil {
		t.Fatal(err)
	}
	if got.WalletAddress.Liquidity == nil || *got.WalletAddress.Liquidity != "12345" {
		t.Fatalf("the wallet address holds %v, want 12345", got.WalletAddress.Liquidity)
	}
}

// TestIncomingPaymentPaidOverStream is the whole receiving side with the
// reference clients: the Open Payments SDK gets a grant and creates an
// incoming payment on `rafiki dev`'s resource server, the reference STREAM
// sender pays it through the connector with the credentials the payment
// answered, and the SDK reads it back completed (full view with its token,
// public view without), then creates and completes another.
func TestIncomingPaymentPaidOverStream(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed to run the reference clients: %v", err)
	}
	root := repositoryRoot(t)
	h := newHarness(t)
	r := h.NewRafiki(nil)
	startDev(t, r)
	op, assetID := operatorWithAsset(t, r, 15*time.Second)
	ctx := context.Background()
	client, keyID, keyFile := registerClient(t, op, assetID, "/paying-client")
	receiver, err := createWalletAddress(ctx, op, assetID, "/payee", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": assetID, "staticIlpAddress": "test.interop-payer", "initialLiquidity": "100000",
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{"payer-token"}},
			"outgoing": map[string]any{"authToken": "unused", "endpoint": "http://127.0.0.1:9/unused"}}}}, nil); err != nil {
		t.Fatalf("createPeer: %v", err)
	}
	run := func(script string, extra []string, args ...string) map[string]any {
		t.Helper()
		// Each run asks for the same grant; signatures name their second
		// and the authorization server takes each signature once, so two
		// runs within one second would send one signature twice.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		runCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(runCtx, node, append([]string{filepath.Join(root, "scripts", "interop", script)}, args...)...)
		cmd.Dir = root
		cmd.Env = append(append(baseEnv(), "CLIENT_WA="+client.Address, "KEY_ID="+keyID, "PRIVATE_KEY="+keyFile,
			"RECEIVER_WA="+receiver.Address, "AMOUNT=5000"), extra...)
		out, err := cmd.CombinedOutput()
		t.Logf("%s %v:\n%s", script, args, out)
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var result map[string]any
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &result); err != nil {
			t.Fatalf("%s printed %q: %v", script, lines[len(lines)-1], err)
		}
		return result
	}

	created := run("incoming.mjs", nil, "create")
	id, _ := created["id"].(string)
	address, _ := created["ilpAddress"].(string)
	secret, _ := created["sharedSecret"].(string)
	if id == "" || address == "" || secret == "" || created["completed"] != false {
		t.Fatalf("created %+v", created)
	}
	paid := run("stream-pay.mjs", []string{fmt.Sprintf("CONNECTOR_URL=http://127.0.0.1:%d", r.Ports["CONNECTOR_PORT"]),
		"PEER_TOKEN=payer-token", "DESTINATION=" + address, "SHARED_SECRET=" + secret})
	if paid["delivered"] != "5000" {
		t.Fatalf("the sender's view: %+v", paid)
	}
	seen := run("incoming.mjs", nil, "check", id)
	if seen["received"] != "5000" || seen["publicReceived"] != "5000" || seen["wasCompleted"] != true || seen["completed"] != true {
		t.Fatalf("the payment after it was paid: %+v", seen)
	}

	other := run("incoming.mjs", nil, "create")
	closed := run("incoming.mjs", nil, "check", other["id"].(string))
	if closed["received"] != "0" || closed["wasCompleted"] != false || closed["completed"] != true || closed["listed"] != float64(2) {
		t.Fatalf("an unpaid payment completed by its client: %+v", closed)
	}
}
