package authsvc_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/authsvc"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/httpsig"
	"github.com/rafiki-go/rafiki/outbound"
	"github.com/rafiki-go/rafiki/secrets"
	"github.com/rafiki-go/rafiki/testkit"
)

// foldedGrants is a test fixture: a Grants lookup that folds every grant
// event from the store on each call, in place of the auth read model.
type foldedGrants struct {
	store *eventstore.Store
	mu    sync.Mutex
	seq   uint64
	refs  map[string]authsvc.GrantRef // by "continue:", "token:", "interaction:" id
}

func (g *foldedGrants) find(ctx context.Context, key string) (authsvc.GrantRef, bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	envs, seq, err := g.store.LoadAfter(ctx, "events.*."+grant.AggregateType+".*", g.seq)
	if err != nil {
		return authsvc.GrantRef{}, false, err
	}
	g.seq = seq
	for _, env := range envs {
		ev, err := events.Decode(env)
		if err != nil {
			return authsvc.GrantRef{}, false, err
		}
		ref := authsvc.GrantRef{TenantID: env.TenantID, GrantID: env.AggregateID}
		switch e := ev.(type) {
		case *events.GrantRequested:
			g.refs["continue:"+e.ContinueID] = ref
			if e.Interaction != nil {
				g.refs["interaction:"+e.Interaction.InteractionID] = ref
			}
			if e.AccessToken != nil {
				g.refs["token:"+e.AccessToken.TokenID] = ref
			}
		case *events.InteractionStarted:
			g.refs["interaction:"+e.InteractionID] = ref
		case *events.AccessTokenIssued:
			g.refs["token:"+e.TokenID] = ref
		case *events.AccessTokenRotated:
			g.refs["token:"+e.TokenID] = ref
		}
	}
	ref, ok := g.refs[key]
	return ref, ok, nil
}

func (g *foldedGrants) ByContinueID(ctx context.Context, id string) (authsvc.GrantRef, bool, error) {
	return g.find(ctx, "continue:"+id)
}

func (g *foldedGrants) ByTokenID(ctx context.Context, id string) (authsvc.GrantRef, bool, error) {
	return g.find(ctx, "token:"+id)
}

func (g *foldedGrants) ByInteractionID(ctx context.Context, id string) (authsvc.GrantRef, bool, error) {
	return g.find(ctx, "interaction:"+id)
}

// clientKey is a client's key pair, published at its wallet address.
type clientKey struct {
	kid  string
	priv ed25519.PrivateKey
	jwk  httpsig.JWK
}

func newKey(t *testing.T, kid string) clientKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{kid: kid, priv: priv, jwk: httpsig.JWK{
		KID: kid, Alg: "EdDSA", Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub),
	}}
}

const idpSecret = "an-identity-provider-secret"

type fixture struct {
	t          *testing.T
	js         *testkit.NATS
	store      *eventstore.Store
	keys       *secrets.Keyring
	tenants    *tenant.Handler
	policy     grant.Policy
	authURL    string
	idpURL     string
	tenantID   string
	wallets    string // base URL of the wallet address server
	key        clientKey
	walletsMux *http.ServeMux
	n          int
}

// setup starts NATS, a tenant with an identity provider, a wallet address
// server for the client "alice" (publicName "Alice's Shop") and the two
// listeners of the auth service.
func setup(t *testing.T, tune func(*grant.Policy)) *fixture {
	t.Helper()
	ctx := context.Background()
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	keys := testkit.Keyring(t, n.JS)
	f := &fixture{t: t, js: n, store: store, keys: keys, tenantID: uuid.NewString(), key: newKey(t, "alice-key")}
	f.tenants = tenant.NewHandler(handlers.SealSecrets(store, keys), uuid.NewString(), "test.rafiki", "")
	if _, _, err := f.tenants.Create(ctx, commands.CreateTenant{
		Meta: f.meta(), TenantID: f.tenantID, APISecret: "api-secret",
		IDPConsentURL: "https://idp.example/consent?lang=en", IDPSecret: idpSecret,
	}); err != nil {
		t.Fatal(err)
	}

	f.walletsMux = http.NewServeMux()
	f.serveWallet("alice", "Alice's Shop", f.key.jwk)
	wallets := httptest.NewServer(f.walletsMux)
	t.Cleanup(wallets.Close)
	f.wallets = wallets.URL

	authTS := httptest.NewUnstartedServer(nil)
	f.authURL = "http://" + authTS.Listener.Addr().String()
	f.policy = grant.DefaultPolicy(f.authURL)
	f.policy.Wait = time.Second
	if tune != nil {
		tune(&f.policy)
	}
	tenants := authsvc.NewTenants(store, keys, uuid.NewString(), "", "")
	client := outbound.NewClient(outbound.Options{UseHTTP: true})
	srv, err := authsvc.New(authsvc.Config{
		AuthServerURL: f.authURL, Policy: f.policy, CookieKey: []byte("cookie-key"),
		Signatures: httpsig.Options{Replay: httpsig.RedisReplayGuard{Redis: testkit.Redis(t), Prefix: "test:gnap:" + uuid.NewString() + ":"}},
	}, authsvc.Deps{
		Handler: grant.NewHandler(store, f.policy, tenants.ForGrants, func(ctx context.Context, subject, id string, at time.Time, c any) error {
			return commands.EnqueueAt(ctx, n.JS, subject, id, at, c)
		}), Lookup: &foldedGrants{store: store, refs: map[string]authsvc.GrantRef{}},
		Store: store, Tenants: tenants, Keys: httpsig.NewJWKSFetcher(httpsig.FetcherOptions{Client: client}), Client: client,
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	authTS.Config.Handler = srv.Routes()
	authTS.Start()
	t.Cleanup(authTS.Close)
	idp := httptest.NewServer(srv.InteractionRoutes())
	t.Cleanup(idp.Close)
	f.idpURL = idp.URL
	return f
}

func (f *fixture) meta() commands.Meta {
	f.n++
	return commands.Meta{ID: uuid.NewString(), Actor: commands.Actor{Operator: true}}
}

// serveWallet publishes a wallet address and its keys.
func (f *fixture) serveWallet(path, publicName string, keys ...httpsig.JWK) {
	f.walletsMux.HandleFunc("GET /"+path, func(w http.ResponseWriter, _ *http.Request) {
		doc := map[string]any{"id": f.wallets + "/" + path, "assetCode": "USD", "assetScale": 2}
		if publicName != "" {
			doc["publicName"] = publicName
		}
		_ = json.NewEncoder(w).Encode(doc)
	})
	f.walletsMux.HandleFunc("GET /"+path+"/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
}

func (f *fixture) wallet(path string) string { return f.wallets + "/" + path }

// lastSeq is the events stream's last sequence: a refused request leaves
// it where it was.
func (f *fixture) lastSeq() uint64 {
	f.t.Helper()
	s, err := f.js.JS.Stream(context.Background(), "EVENTS")
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return info.State.LastSeq
}

type response struct {
	status   int
	header   http.Header
	body     map[string]any
	raw      string
	location string
}

func (r response) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw), location: resp.Header.Get("Location")}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: body %q: %v", req.Method, req.URL, raw, err)
		}
	}
	return out
}

// signed is a request signed with key; token goes in Authorization.
func signed(t *testing.T, method, url string, body any, token string, key clientKey) *http.Request {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
	case string:
		data = []byte(b)
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "GNAP "+token)
	}
	// Ed25519 signatures are deterministic: two equal requests signed in
	// one second would be one signature, refused the second time as a
	// replay. Each request carries a nonce of its own.
	if err := httpsig.SignNonce(req, data, key.priv, key.kid, time.Now(), uuid.NewString()); err != nil {
		t.Fatal(err)
	}
	return req
}

func get(t *testing.T, url string, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return req
}

func incomingAccess() []map[string]any {
	return []map[string]any{{"type": "incoming-payment", "actions": []string{"create", "read"}}}
}

func outgoingAccess(f *fixture) []map[string]any {
	return []map[string]any{{
		"type": "outgoing-payment", "actions": []string{"create", "read"}, "identifier": f.wallet("bob"),
		"limits": map[string]any{"debitAmount": map[string]any{"value": "500", "assetCode": "USD", "assetScale": 2}},
	}}
}

func str(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	}
	return ""
}
