package systemtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
)

// TestGrantsWithTheOpenPaymentsClient runs the Open Payments SDK
// (@interledger/open-payments, pinned in package.json) against `rafiki
// dev`: a non-interactive grant whose token is rotated and revoked, and an
// interactive grant approved through the identity provider's API, its
// finish hash checked, continued (refused before the wait it was given, 1 s
// here) and cancelled (scripts/interop/grants.mjs).
// Each token is introspected as a resource server would, active while it
// should be and inactive from the answer that rotated or revoked it on.
// The client is a wallet address of the same instance, its key registered
// with createWalletAddressKey, so the authorization server resolves it
// through the instance's own jwks.json.
func TestGrantsWithTheOpenPaymentsClient(t *testing.T) {
	t.Run("http ids", func(t *testing.T) { grantsInterop(t, false) })
	// Rafiki's own development setup: https ids served over plain http, the
	// client told to use http (useHttp), the servers to call http too
	// (USE_HTTP, on outside production) and to accept signatures of the
	// http URLs.
	t.Run("https ids over http", func(t *testing.T) { grantsInterop(t, true) })
}

func grantsInterop(t *testing.T, httpsIDs bool) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed to run the Open Payments SDK: %v", err)
	}
	root := repositoryRoot(t)
	if _, err := os.Stat(filepath.Join(root, "node_modules", "@interledger", "open-payments")); err != nil {
		t.Fatalf("@interledger/open-payments is not installed (scripts/test-deps.sh installs it): %v", err)
	}

	h := newHarness(t)
	idpSecret := "idp-" + randomHex(t, 16)
	set := map[string]string{
		"IDENTITY_SERVER_URL":    "http://127.0.0.1:9/consent",
		"IDENTITY_SERVER_SECRET": idpSecret,
		"WAIT_SECONDS":           "1",
	}
	r := h.NewRafiki(set)
	if httpsIDs {
		auth := fmt.Sprintf("https://localhost:%d", r.Ports["AUTH_PORT"])
		r.Env["OPEN_PAYMENTS_URL"] = fmt.Sprintf("https://localhost:%d", r.Ports["OPEN_PAYMENTS_PORT"])
		r.Env["AUTH_SERVER_URL"], r.Env["AUTH_SERVER_GRANT_URL"] = auth, auth
	}
	startDev(t, r)
	op, assetID := operatorWithAsset(t, r, 15*time.Second)
	ctx := context.Background()
	wa, keyID, keyFile := registerClient(t, op, assetID, "/grant-client")

	runCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, filepath.Join(root, "scripts", "interop", "grants.mjs"))
	cmd.Dir = root
	cmd.Env = append(baseEnv(),
		"CLIENT_WA="+wa.Address,
		"KEY_ID="+keyID,
		"PRIVATE_KEY="+keyFile,
		fmt.Sprintf("INTERACTION_URL=http://127.0.0.1:%d", r.Ports["INTERACTION_PORT"]),
		"IDP_SECRET="+idpSecret,
		"FINISH_URI=http://127.0.0.1:9/finish",
		fmt.Sprintf("INTROSPECTION_URL=http://127.0.0.1:%d/", r.Ports["INTROSPECTION_PORT"]),
	)
	if httpsIDs {
		cmd.Env = append(cmd.Env, "USE_HTTP=1")
	}
	out, err := cmd.CombinedOutput()
	t.Logf("grants.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("grants.mjs: %v", err)
	}
	for _, step := range []string{"non-interactive grant", "token rotated", "old token refused", "token revoked",
		"interactive grant", "interaction approved", "early continuation refused", "grant continued", "grant cancelled", "cancelled grant refused"} {
		if !strings.Contains(string(out), `"step":"`+step+`"`) {
			t.Errorf("grants.mjs did not report %q", step)
		}
	}
}

// registerClient makes a wallet address at path for an Open Payments client
// and registers an Ed25519 key for it (createWalletAddressKey), as a wallet
// does for a client it runs: the instance's own jwks.json then serves it.
// It answers the wallet address, the key's id and a PEM file of the key.
func registerClient(t *testing.T, op *adminclient.Client, assetID, path string) (walletAddress, string, string) {
	t.Helper()
	ctx := context.Background()
	wa, err := createWalletAddress(ctx, op, assetID, path, "")
	if err != nil {
		t.Fatalf("createWalletAddress: %v", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyID := "interop-" + randomHex(t, 4)
	if err := op.Do(ctx, `mutation($input: CreateWalletAddressKeyInput!) { createWalletAddressKey(input: $input) { walletAddressKey { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": wa.ID, "jwk": map[string]any{
			"kid": keyID, "x": base64.RawURLEncoding.EncodeToString(pub), "alg": "EdDSA", "kty": "OKP", "crv": "Ed25519"}}}, nil); err != nil {
		t.Fatalf("createWalletAddressKey: %v", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "client-key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return wa, keyID, keyFile
}

// repositoryRoot is the module's root, where node_modules is installed.
func repositoryRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Dir(filepath.Dir(file))
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}
