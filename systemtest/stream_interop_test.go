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
