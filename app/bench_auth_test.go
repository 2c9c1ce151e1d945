package app_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/httpsig"
	"github.com/rafiki-go/rafiki/introspection"
	"github.com/rafiki-go/rafiki/testkit"
)

// The auth service's benchmarks, run as the backend's are (see
// bench_test.go):
//
//	go test -run '^$' -bench 'NonInteractiveGrant|Introspection' -benchtime 1x -count 3 ./app/

// authBench is the auth service and a worker in-process on an embedded NATS
// server that syncs every write, with a client whose wallet address and
// keys a local server publishes.
type authBench struct {
	grantURL, introspectionURL string
	clientWA                   string
	key                        ed25519.PrivateKey
	keyID                      string
}

func startAuthBench(b *testing.B) *authBench {
	b.Helper()
	n := testkit.StartNATS(b, true)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	ab := &authBench{key: priv, keyID: "bench-key"}
	wallets := http.NewServeMux()
	walletServer := httptest.NewServer(wallets)
	b.Cleanup(walletServer.Close)
	ab.clientWA = walletServer.URL + "/client"
	wallets.HandleFunc("GET /client/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []httpsig.JWK{{KID: ab.keyID, Alg: "EdDSA", Kty: "OKP", Crv: "Ed25519",
			X: base64.RawURLEncoding.EncodeToString(pub)}}})
	})
	// Signatures are checked against AUTH_SERVER_URL: the port is chosen
	// first so that the URL the benchmark requests is the configured one.
	authPort := testkit.FreePort(b)
	cfg := config.Config{
		OperatorTenantID: uuid.NewString(), AdminAPISecret: "operator-" + uuid.NewString(), AdminSignatureVersion: 1,
		AdminSignatureTTL: 30 * time.Second, DatabaseURL: testkit.NewDatabase(b), AuthDatabaseURL: testkit.NewDatabase(b),
		RedisURL: testkit.RedisURL(), NATSURL: n.URL, NATSStreamReplicas: 1, EventSecretsKey: testkit.EventSecretsKey,
		ReadYourWritesTimeout: 5 * time.Second, RequestTimeout: 10 * time.Second, ShutdownTimeout: 5 * time.Second,
		IncomingPaymentExpiryMax: 30 * 24 * time.Hour, QuoteLifespan: 5 * time.Minute, OutgoingPaymentRetryAttempts: 5,
		StreamSecret: make([]byte, 32), AuthPort: authPort, AuthServerURL: fmt.Sprintf("http://127.0.0.1:%d", authPort), CookieKey: "cookie-key-of-the-benchmarks", UseHTTP: true,
		Wait: 5 * time.Second, AccessTokenExpiry: 10 * time.Minute, InteractionExpiry: 10 * time.Minute, ListAllInteraction: true,
	}
	r, err := app.Start(context.Background(), cfg, testLogger(), app.Set{Auth: true, Worker: true}, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Stop(stop)
	})
	ab.grantURL = cfg.AuthServerURL + "/" + cfg.OperatorTenantID
	if ab.introspectionURL, err = r.URL(app.IntrospectionListener); err != nil {
		b.Fatal(err)
	}
	ab.introspectionURL += "/"
	return ab
}

// requestGrant asks for a non-interactive incoming-payment grant; i makes
// the body, and so the signature, unique.
func (ab *authBench) requestGrant(client *http.Client, i int) (string, error) {
	body, err := json.Marshal(map[string]any{
		"access_token": map[string]any{"access": []map[string]any{{
			"type": "incoming-payment", "actions": []string{"create", "read"}, "identifier": fmt.Sprintf("%s-%d", ab.clientWA, i),
		}}},
		"client": ab.clientWA,
	})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequest(http.MethodPost, ab.grantURL, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	if err := httpsig.Sign(req, body, ab.key, ab.keyID, time.Now()); err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	var out struct {
		AccessToken struct {
			Value string `json:"value"`
		} `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.AccessToken.Value == "" {
		return "", fmt.Errorf("grant request: %d %s", resp.StatusCode, raw)
	}
	return out.AccessToken.Value, nil
}

// BenchmarkNonInteractiveGrant sends signed non-interactive grant requests
// from 25 clients; every grant's events are fsynced before it is answered,
// the client's keys are fetched once and then cached.
func BenchmarkNonInteractiveGrant(b *testing.B) {
	ab := startAuthBench(b)
	client := keepAliveClient(mutationClients)
	if _, err := ab.requestGrant(client, -1); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res := drive(mutationClients, mutationWarmup, mutationRun, func(w, i int) error {
		_, err := ab.requestGrant(client, w*1_000_000+i)
		return err
	}, nil)
	b.StopTimer()
	if res.failed > 0 {
		b.Errorf("%d failed grant requests, first: %v", res.failed, res.firstErr)
	}
	b.Logf("%.0f grants/s p50 %.2f ms p99 %.2f ms %.0f µs CPU/grant (the whole process) %.1f allocs/grant (target ≥ 1,500/s)",
		res.perSecond(), res.quantileMS(0.50), res.quantileMS(0.99), 1000*res.cpuPerOpMS(), res.allocsPerOp())
	b.ReportMetric(res.perSecond(), "grants/s")
	b.ReportMetric(res.quantileMS(0.50), "p50-ms")
	b.ReportMetric(res.quantileMS(0.99), "p99-ms")
	b.ReportMetric(1000*res.cpuPerOpMS(), "cpu-µs/grant")
}

// introspectionLoad POSTs body to url from getClients goroutines sharing
// one keep-alive client and checks each answer is want.
func introspectionLoad(client *http.Client, url string, body, want []byte, warmup, d time.Duration) loadResult {
	bufs := make([][]byte, getClients)
	for w := range bufs {
		bufs[w] = make([]byte, len(want)+512)
	}
	return drive(getClients, warmup, d, func(w, _ int) error {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		n, err := io.ReadFull(resp.Body, bufs[w][:len(want)])
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || !bytes.Equal(bufs[w][:n], want) {
			return fmt.Errorf("POST %s: %d %q %v", url, resp.StatusCode, bufs[w][:n], err)
		}
		return nil
	}, nil)
}

// BenchmarkIntrospection compares the introspection of a valid token, with
// the access a resource server asks about, with a bare net/http handler
// reading the same request and writing the same answer, driven by the same
// client in the same run.
func BenchmarkIntrospection(b *testing.B) {
	ab := startAuthBench(b)
	client := keepAliveClient(getClients)
	token, err := ab.requestGrant(client, 0)
	if err != nil {
		b.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{"access_token": token,
		"access": []map[string]any{{"type": "incoming-payment", "actions": []string{"read"}}}})
	if err != nil {
		b.Fatal(err)
	}
	// Answers about a grant are cached once its last event is a Hold old.
	time.Sleep(introspection.Hold)
	resp, err := client.Post(ab.introspectionURL, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	want, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var info introspection.Info
	if resp.StatusCode != http.StatusOK || json.Unmarshal(want, &info) != nil || !info.Active || len(info.Access) != 1 {
		b.Fatalf("introspection: %d %s", resp.StatusCode, want)
	}
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req introspection.Request
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.AccessToken != token {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(want)
	}))
	defer bare.Close()

	b.ResetTimer()
	var ours, theirs loadResult
	for round := range getRounds {
		warmup := time.Duration(0)
		if round == 0 {
			warmup = getWarmup
		}
		ours.add(introspectionLoad(client, ab.introspectionURL, body, want, warmup, getSlice))
		theirs.add(introspectionLoad(client, bare.URL+"/", body, want, warmup, getSlice))
	}
	b.StopTimer()
	for name, r := range map[string]loadResult{"ours": ours, "bare": theirs} {
		if r.failed > 0 {
			b.Errorf("%s: %d failed requests, first: %v", name, r.failed, r.firstErr)
		}
	}
	ratio := ours.perSecond() / theirs.perSecond()
	b.Logf("answer (%d bytes): %s", len(want), want)
	b.Logf("ours %.0f req/s p50 %.2f ms p99 %.2f ms %.0f µs CPU/req | bare %.0f req/s p50 %.2f ms p99 %.2f ms %.0f µs CPU/req | ratio %.2f (target ≥ 0.50)",
		ours.perSecond(), ours.quantileMS(0.50), ours.quantileMS(0.99), 1000*ours.cpuPerOpMS(),
		theirs.perSecond(), theirs.quantileMS(0.50), theirs.quantileMS(0.99), 1000*theirs.cpuPerOpMS(), ratio)
	b.ReportMetric(ours.perSecond(), "ours-req/s")
	b.ReportMetric(theirs.perSecond(), "bare-req/s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(ours.quantileMS(0.99), "p99-ms")
}
