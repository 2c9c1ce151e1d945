package openpayments

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/httpsig"
	"github.com/rafiki-go/rafiki/introspection"
	"github.com/rafiki-go/rafiki/outbound"
)

// answers is an Introspector answering info (or err) and recording what it
// was asked.
type answers struct {
	info  introspection.Info
	err   error
	asked []events.GrantAccess
}

func (a *answers) Introspect(_ context.Context, token string, access []events.GrantAccess) (introspection.Info, error) {
	a.asked = access
	if token != "the-token" {
		return introspection.Info{}, nil
	}
	return a.info, a.err
}

// usedOnce remembers signatures, as the Redis guard does.
type usedOnce struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (u *usedOnce) Use(_ context.Context, key string, now time.Time, _ time.Duration) (time.Time, bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if first, ok := u.seen[key]; ok {
		return first, false, nil
	}
	u.seen[key] = now
	return now, true, nil
}

type clientKey struct {
	priv ed25519.PrivateKey
	jwk  httpsig.JWK
}

func newClientKey(t *testing.T, kid string) clientKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{priv: priv, jwk: httpsig.JWK{KID: kid, Alg: "EdDSA", Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub)}}
}

const publicBase = "https://op.example"

// signedRequest is a POST to the resource server as the client sends it,
// then as the server receives it.
func signedRequest(t *testing.T, key clientKey, auth string, body []byte) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, publicBase+"/t1/incoming-payments", bytes.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	if key.priv != nil {
		if err := httpsig.Sign(req, body, key.priv, key.jwk.KID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return req
}

func TestGuard(t *testing.T) {
	clientK, otherK := newClientKey(t, "k1"), newClientKey(t, "k2")
	wallets := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []httpsig.JWK{clientK.jwk}})
	}))
	defer wallets.Close()
	clientWA := wallets.URL + "/client"
	inline, _ := json.Marshal(otherK.jwk)
	base, _ := url.Parse(publicBase)
	fetcher := httpsig.NewJWKSFetcher(httpsig.FetcherOptions{Client: outbound.NewClient(outbound.Options{UseHTTP: true})})
	body := []byte(`{"walletAddress":"https://op.example/alice"}`)
	need := Need{TenantID: "t1", Type: "incoming-payment", Action: "read", Identifier: "https://op.example/alice"}
	active := func(actions []string, client introspection.ClientIdentity) introspection.Info {
		return introspection.Info{Active: true, Grant: "g1", Client: &client, TenantID: "t1",
			Access: []events.GrantAccess{{Type: "incoming-payment", Actions: actions, Identifier: "https://op.example/alice"}}}
	}
	ofTenant := func(info introspection.Info, tenantID string) introspection.Info {
		info.TenantID = tenantID
		return info
	}
	byWallet := introspection.ClientIdentity{WalletAddress: clientWA}
	for _, c := range []struct {
		name    string
		info    introspection.Info
		err     error
		key     clientKey
		auth    string
		need    Need
		status  int
		desc    string
		granted string
	}{
		{"read", active([]string{"read"}, byWallet), nil, clientK, "GNAP the-token", need, 0, "", "read"},
		{"read by read-all", active([]string{"read-all", "create"}, byWallet), nil, clientK, "GNAP the-token", need, 0, "", "read-all"},
		{"list by list-all", active([]string{"list-all"}, byWallet), nil, clientK, "GNAP the-token",
			Need{TenantID: "t1", Type: "incoming-payment", Action: "list"}, 0, "", "list-all"},
		{"client known by its key: reads its own, by its key", active([]string{"read"}, introspection.ClientIdentity{JWK: inline}), nil, otherK, "GNAP the-token", need, 0, "", "read"},
		{"client known by its key: lists its own, by its key", active([]string{"list"}, introspection.ClientIdentity{JWK: inline}), nil, otherK, "GNAP the-token",
			Need{TenantID: "t1", Type: "incoming-payment", Action: "list", Identifier: "https://op.example/alice"}, 0, "", "list"},
		{"no authorization", active([]string{"read"}, byWallet), nil, clientK, "", need, 401, "Missing or invalid authorization header value", ""},
		{"bearer", active([]string{"read"}, byWallet), nil, clientK, "Bearer the-token", need, 401, "Missing or invalid authorization header value", ""},
		{"introspection failing", introspection.Info{}, errors.New("down"), clientK, "GNAP the-token", need, 401, "Invalid Token", ""},
		{"inactive", introspection.Info{}, nil, clientK, "GNAP other-token", need, 403, "Inactive Token", ""},
		{"nothing granted", introspection.Info{Active: true, Grant: "g1", Client: &byWallet}, nil, clientK, "GNAP the-token", need, 403, "Insufficient Grant", ""},
		{"granted by another tenant's authorization server", ofTenant(active([]string{"read"}, byWallet), "t2"), nil, clientK, "GNAP the-token", need, 403, "Insufficient Grant", ""},
		{"granted by a server that does not tell the tenant", ofTenant(active([]string{"read"}, byWallet), ""), nil, clientK, "GNAP the-token", need, 0, "", "read"},
		{"signed by another key", active([]string{"read"}, byWallet), nil, otherK, "GNAP the-token", need, 401,
			"Signature validation error: could not find key in list of client keys", ""},
		{"not signed", active([]string{"read"}, byWallet), nil, clientKey{}, "GNAP the-token", need, 401,
			"Signature validation error: provided signature is invalid", ""},
		{"inline key, signed by another", active([]string{"read"}, introspection.ClientIdentity{JWK: inline}), nil, clientK, "GNAP the-token", need, 401,
			"Signature validation error: could not find key in list of client keys", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &answers{info: c.info, err: c.err}
			g := NewGuard(a, fetcher, httpsig.Options{PublicBaseURL: base, Replay: &usedOnce{seen: map[string]time.Time{}}}, "https://auth.example/t1")
			req := signedRequest(t, c.key, c.auth, body)
			granted, err := g.Authorize(req, body, c.need)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if granted.Action != c.granted || granted.GrantID != "g1" {
					t.Fatalf("granted %+v, want action %s", granted, c.granted)
				}
				var key string
				if c.info.Client.WalletAddress == "" {
					jwk, err := httpsig.ParseJWK(c.info.Client.JWK)
					if err != nil {
						t.Fatal(err)
					}
					key = jwk.Thumbprint()
				}
				if granted.ClientKey != key {
					t.Fatalf("client key %q, want %q", granted.ClientKey, key)
				}
				want := []events.GrantAccess{{Type: c.need.Type, Actions: []string{c.need.Action}, Identifier: c.need.Identifier}}
				got, _ := json.Marshal(a.asked)
				wantJSON, _ := json.Marshal(want)
				if !bytes.Equal(got, wantJSON) {
					t.Fatalf("asked the authorization server about %s, want %s", got, wantJSON)
				}
				return
			}
			rec := httptest.NewRecorder()
			g.WriteError(rec, err)
			var answer struct {
				Error struct{ Code, Description string } `json:"error"`
			}
			if rec.Code != c.status || json.Unmarshal(rec.Body.Bytes(), &answer) != nil || answer.Error.Description != c.desc ||
				answer.Error.Code != strconv.Itoa(c.status) {
				t.Fatalf("answer %d %s, want %d %q", rec.Code, rec.Body, c.status, c.desc)
			}
			challenged := rec.Header().Get("WWW-Authenticate") == "GNAP as_uri=https://auth.example/t1"
			if challenged != (c.status == 401 && !strings.HasPrefix(c.desc, "Signature") || c.status == 403) {
				t.Fatalf("challenge %q for %d %s", rec.Header().Get("WWW-Authenticate"), c.status, c.desc)
			}
		})
	}
}

// A signature without a nonce is taken again only while its client could
// have made it again (the SDK repeating a request within the second of its
// created); after that the same request is refused.
func TestGuardRefusesReplays(t *testing.T) {
	key := newClientKey(t, "k1")
	inline, _ := json.Marshal(key.jwk)
	client := introspection.ClientIdentity{JWK: inline}
	a := &answers{info: introspection.Info{Active: true, Grant: "g1", Client: &client,
		Access: []events.GrantAccess{{Type: "quote", Actions: []string{"create"}}}}}
	base, _ := url.Parse(publicBase)
	now := time.Now()
	clock := func() time.Time { return now }
	g := NewGuard(a, httpsig.NewJWKSFetcher(httpsig.FetcherOptions{}), httpsig.Options{PublicBaseURL: base, Replay: &usedOnce{seen: map[string]time.Time{}}, Now: clock}, "")
	body := []byte(`{}`)
	first := signedRequest(t, key, "GNAP the-token", body)
	again := func() *http.Request {
		r := first.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(body))
		return r
	}
	need := Need{Type: "quote", Action: "create"}
	for i, tc := range []struct {
		req     *http.Request
		after   time.Duration
		refused bool
	}{
		{first, 0, false},
		{again(), time.Second, false},
		{again(), httpsig.RepeatGrace + time.Millisecond, true},
	} {
		now = now.Add(tc.after)
		_, err := g.Authorize(tc.req, body, need)
		var re *RouteError
		if refused := errors.As(err, &re) && re.Status == 401; refused != tc.refused || (err != nil && !tc.refused) {
			t.Fatalf("request %d: %v, want refused %v", i, err, tc.refused)
		}
	}
}
