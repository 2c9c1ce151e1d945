package httpsig

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReferenceVerifierAcceptsGoSignatures signs requests in Go and asks
// the reference verifier (scripts/httpsig-verify.mjs) about them: it
// accepts each, and refuses one whose body was changed after signing.
func TestReferenceVerifierAcceptsGoSignatures(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", "@interledger", "http-signature-utils")); err != nil {
		t.Fatalf("%v; install the test packages with ./scripts/test-deps.sh (make test runs it)", err)
	}
	key, jwk := testKey(t, 3, "go-key")
	type signed struct {
		JWK     JWK               `json:"jwk"`
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	cases := []struct {
		method, url, auth, body, nonce string
	}{
		{http.MethodPost, "https://wallet.example/alice/incoming-payments", "GNAP tok", testBody, ""},
		{http.MethodGet, "https://wallet.example/alice/incoming-payments?first=10&cursor=a%2Fb", "GNAP tok", "", ""},
		{http.MethodPost, "http://localhost:3006/", "", `{"client":"http://localhost:3000/alice","note":"café <&>"}`, ""},
		{http.MethodDelete, "http://localhost:3006/token/abc", "GNAP tok", "", ""},
		{http.MethodPost, "https://wallet.example/t/incoming-payments/x/complete", "GNAP tok", "", "a-nonce_1"},
	}
	var requests []signed
	for _, c := range cases {
		req := newClientRequest(t, c.method, c.url, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		if err := SignNonce(req, []byte(c.body), key, jwk.KID, time.Now(), c.nonce); err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{}
		for name := range req.Header {
			headers[strings.ToLower(name)] = req.Header.Get(name)
		}
		requests = append(requests, signed{JWK: jwk, Method: c.method, URL: c.url, Headers: headers, Body: c.body})
	}
	tampered := requests[0]
	tampered.Body = strings.Replace(tampered.Body, `"1"`, `"2"`, 1)
	requests = append(requests, tampered)

	in, err := json.Marshal(requests)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(root, "scripts", "httpsig-verify.mjs"))
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got []bool
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node answered %q: %v", out, err)
	}
	want := []bool{true, true, true, true, true, false}
	if len(got) != len(want) {
		t.Fatalf("node answered %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d (%s %s): reference verifier says %v, want %v", i, requests[i].Method, requests[i].URL, got[i], want[i])
		}
	}
}
