package introspection

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/testkit"
)

// tokenTable is a Tokens answering from a map, counting its lookups.
type tokenTable struct {
	mu      sync.Mutex
	byHash  map[string]Token
	lookups int
}

func (t *tokenTable) TokenByValueHash(_ context.Context, hash string) (Token, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lookups++
	tok, ok := t.byHash[hash]
	return tok, ok, nil
}

func (t *tokenTable) set(value string, tok Token) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byHash[grant.TokenHash(value)] = tok
}

func (t *tokenTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lookups
}

var (
	readAll = events.GrantAccess{Type: grant.TypeIncomingPayment, Actions: []string{"create", "read-all", "list-all"}}
	payOut  = events.GrantAccess{Type: grant.TypeOutgoingPayment, Actions: []string{"create", "read"}, Identifier: "https://wallet.test/alice",
		Limits: &events.GrantLimits{DebitAmount: &events.GrantAmount{Value: "500", AssetCode: "USD", AssetScale: 2}}}
)

func TestAnswer(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	live := Token{GrantID: "g1", TenantID: "t1", Client: events.GrantClient{WalletAddress: "https://wallet.test/client"},
		Access: []events.GrantAccess{readAll, payOut}, CreatedAt: now.Add(-time.Minute), ExpiresIn: 10 * time.Minute}
	expired, revoked := live, live
	expired.CreatedAt = now.Add(-11 * time.Minute)
	revoked.GrantRevoked = true
	jwk := live
	jwk.Client = events.GrantClient{JWK: json.RawMessage(`{"kid":"k","kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"AA"}`)}
	other := payOut
	other.Identifier = "https://wallet.test/bob"
	otherLimits := payOut
	otherLimits.Limits = &events.GrantLimits{DebitAmount: &events.GrantAmount{Value: "501", AssetCode: "USD", AssetScale: 2}}
	noLimits := payOut
	noLimits.Limits = nil
	for _, c := range []struct {
		name       string
		tok        Token
		requested  []events.GrantAccess
		active     bool
		wantAccess []events.GrantAccess
	}{
		{"nothing asked", live, nil, true, nil},
		{"read covered by read-all", live, []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{"read"}}}, true, []events.GrantAccess{readAll}},
		{"list covered by list-all", live, []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{"list", "create"}}}, true, []events.GrantAccess{readAll}},
		{"action not granted", live, []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{"complete"}}}, true, nil},
		{"other type", live, []events.GrantAccess{{Type: grant.TypeQuote, Actions: []string{"create"}}}, true, nil},
		{"same identifier and limits", live, []events.GrantAccess{payOut}, true, []events.GrantAccess{payOut}},
		{"other identifier", live, []events.GrantAccess{other}, true, nil},
		{"other limits", live, []events.GrantAccess{otherLimits}, true, nil},
		{"limits not asked about", live, []events.GrantAccess{noLimits}, true, []events.GrantAccess{payOut}},
		{"expired", expired, nil, false, nil},
		{"grant revoked", revoked, []events.GrantAccess{payOut}, false, nil},
		{"directed identity", jwk, nil, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			info := answer(c.tok, c.requested, now)
			if info.Active != c.active {
				t.Fatalf("active = %v, want %v", info.Active, c.active)
			}
			got, _ := json.Marshal(info.Access)
			want, _ := json.Marshal(c.wantAccess)
			if !bytes.Equal(got, want) {
				t.Fatalf("access = %s, want %s", got, want)
			}
			if !c.active {
				return
			}
			if info.Grant != "g1" || info.Client == nil || info.TenantID != "t1" {
				t.Fatalf("answer = %+v", info)
			}
			if (info.Client.WalletAddress != "") == (len(info.Client.JWK) > 0) {
				t.Fatalf("client must be one of wallet address and jwk: %+v", info.Client)
			}
		})
	}
}

func TestInfoJSON(t *testing.T) {
	inactive, _ := json.Marshal(Info{Grant: "x"})
	if string(inactive) != `{"active":false}` {
		t.Fatalf("inactive = %s", inactive)
	}
	active, _ := json.Marshal(Info{Active: true, Grant: "g", Client: &ClientIdentity{WalletAddress: "https://w.test/c"}})
	if string(active) != `{"active":true,"grant":"g","access":[],"client":{"walletAddress":"https://w.test/c"}}` {
		t.Fatalf("active = %s", active)
	}
	ofTenant, _ := json.Marshal(Info{Active: true, Grant: "g", Client: &ClientIdentity{WalletAddress: "https://w.test/c"}, TenantID: "t1"})
	if string(ofTenant) != `{"active":true,"grant":"g","access":[],"client":{"walletAddress":"https://w.test/c"},"tenantId":"t1"}` {
		t.Fatalf("active with its tenant = %s", ofTenant)
	}
}

func post(t *testing.T, url, method, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func TestServerHTTP(t *testing.T) {
	tokens := &tokenTable{byHash: map[string]Token{}}
	created := time.Now()
	tokens.set("live-token", Token{GrantID: "g1", Client: events.GrantClient{WalletAddress: "https://wallet.test/client"},
		Access: []events.GrantAccess{readAll}, CreatedAt: created, ExpiresIn: time.Minute})
	srv := httptest.NewServer(NewServer(tokens, nil, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		contains                 string
	}{
		{"active", "POST", "/", `{"access_token":"live-token","access":[{"type":"incoming-payment","actions":["read"]}]}`, 200,
			fmt.Sprintf(`{"active":true,"grant":"g1","access":[{"type":"incoming-payment","actions":["create","read-all","list-all"]}],"client":{"walletAddress":"https://wallet.test/client"},"exp":%d}`,
				created.Add(time.Minute).Unix())},
		{"unknown token", "POST", "/", `{"access_token":"nope"}`, 200, `{"active":false}`},
		{"no token", "POST", "/", `{"access":[]}`, 400, `"invalid_request"`},
		{"empty token", "POST", "/", `{"access_token":""}`, 400, `access_token is required`},
		{"not JSON", "POST", "/", `access_token=x`, 400, `"invalid_request"`},
		{"unknown field", "POST", "/", `{"access_token":"x","scope":"all"}`, 400, `unknown field`},
		{"two values", "POST", "/", `{"access_token":"x"}{}`, 400, `more than one`},
		{"access without actions", "POST", "/", `{"access_token":"x","access":[{"type":"quote"}]}`, 400, `needs a type and actions`},
		{"too big", "POST", "/", `{"access_token":"` + strings.Repeat("a", bodyBytesMax) + `"}`, 400, `"invalid_request"`},
		{"GET", "GET", "/", ``, 405, `takes POST`},
		{"other path", "POST", "/x", `{"access_token":"live-token"}`, 404, `not found`},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := post(t, srv.URL+c.path, c.method, c.body)
			if status != c.status || !strings.Contains(body, c.contains) {
				t.Fatalf("%d %s, want %d with %s", status, body, c.status, c.contains)
			}
		})
	}
}

// followed is a cache following the grant events of a fresh NATS server,
// with a clock the test moves.
func followed(t *testing.T, n *testkit.NATS) (*Cache[Token], *time.Time) {
	t.Helper()
	c := NewCache[Token]()
	clock := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return clock }
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := c.Follow(ctx, n.Conn); err != nil {
		t.Fatal(err)
	}
	return c, &clock
}

func publishGrantEvent(t *testing.T, nc *nats.Conn, grantID string) {
	t.Helper()
	if err := nc.Publish("events.00000000-0000-0000-0000-000000000001.grant."+grantID, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestCacheKeepsUntilTheGrantsNextEvent(t *testing.T) {
	n := testkit.StartNATS(t, false)
	c, clock := followed(t, n)
	tok := Token{GrantID: "g1"}
	c.Put("h1", "g1", tok, clock.Add(time.Hour))
	c.Put("h2", "g2", Token{GrantID: "g2"}, clock.Add(time.Hour))
	if _, ok := c.Get("h1"); !ok {
		t.Fatal("an answer put was not kept")
	}
	*clock = clock.Add(Hold)
	if _, ok := c.Get("h1"); ok {
		t.Fatal("an answer was kept past a Hold")
	}
	c.Put("h1", "g1", tok, clock.Add(time.Second))
	*clock = clock.Add(time.Second)
	if _, ok := c.Get("h1"); ok {
		t.Fatal("an answer was kept past the token's expiry")
	}

	c.Put("h1", "g1", tok, clock.Add(time.Hour))
	c.Put("h2", "g2", Token{GrantID: "g2"}, clock.Add(time.Hour))
	publishGrantEvent(t, n.Conn, "g1")
	testkit.Eventually(t, 5*time.Second, func() bool { _, ok := c.Get("h1"); return !ok }, "the grant's event did not remove its answer")
	if _, ok := c.Get("h2"); !ok {
		t.Fatal("another grant's event removed an answer")
	}
	c.Put("h1", "g1", tok, clock.Add(time.Hour))
	if _, ok := c.Get("h1"); ok {
		t.Fatal("an answer was cached within a Hold of its grant's event")
	}
	*clock = clock.Add(Hold)
	c.Put("h1", "g1", tok, clock.Add(time.Hour))
	if _, ok := c.Get("h1"); !ok {
		t.Fatal("an answer was not cached a Hold after its grant's event")
	}
}

func TestCacheCachesNothingItCannotWatch(t *testing.T) {
	unfollowed := NewCache[Token]()
	unfollowed.Put("h1", "g1", Token{}, time.Now().Add(time.Hour))
	if unfollowed.Len() != 0 {
		t.Fatal("a cache that follows no events kept an answer")
	}

	n := testkit.StartNATS(t, false)
	c, clock := followed(t, n)
	c.Put("h1", "g1", Token{}, clock.Add(time.Hour))
	addr := n.Server.ClientURL()
	testkit.StopNATS(n)
	testkit.Eventually(t, 5*time.Second, func() bool { return !n.Conn.IsConnected() }, "the client did not see the server go")
	if _, ok := c.Get("h1"); ok {
		t.Fatal("an answer was served while revocations could not be seen")
	}
	c.Put("h2", "g2", Token{}, clock.Add(time.Hour))
	if c.Len() != 0 {
		t.Fatal("answers were kept while revocations could not be seen")
	}
	testkit.StartNATSAgain(t, n, portOf(t, addr), false)
	testkit.Eventually(t, 10*time.Second, n.Conn.IsConnected, "the client did not reconnect")
	c.Put("h3", "g3", Token{}, clock.Add(time.Hour))
	if c.Len() != 0 {
		t.Fatal("an answer was kept right after a reconnection: events missed meanwhile may not be applied yet")
	}
	*clock = clock.Add(Hold)
	c.Put("h3", "g3", Token{}, clock.Add(time.Hour))
	if _, ok := c.Get("h3"); !ok {
		t.Fatal("the cache did not work again a Hold after it reconnected")
	}
	publishGrantEvent(t, n.Conn, "g3")
	testkit.Eventually(t, 5*time.Second, func() bool { _, ok := c.Get("h3"); return !ok }, "events are not followed after the reconnection")
}

func portOf(t *testing.T, url string) int {
	t.Helper()
	port, err := strconv.Atoi(url[strings.LastIndexByte(url, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestClientCachesUntilRevoked: the resource server's client asks the
// server once per token and access while nothing happens to the grant, and
// again as soon as the grant's event is published.
func TestClientCachesUntilRevoked(t *testing.T) {
	n := testkit.StartNATS(t, false)
	tokens := &tokenTable{byHash: map[string]Token{}}
	tokens.set("t1", Token{GrantID: "g1", Client: events.GrantClient{WalletAddress: "https://wallet.test/client"},
		Access: []events.GrantAccess{readAll}, CreatedAt: time.Now(), ExpiresIn: time.Minute})
	srv := httptest.NewServer(NewServer(tokens, nil, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	cache := NewCache[Info]()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := cache.Follow(ctx, n.Conn); err != nil {
		t.Fatal(err)
	}
	client := NewClient(srv.URL, srv.Client(), cache)
	read := []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{"read"}}}
	for range 3 {
		info, err := client.Introspect(ctx, "t1", read)
		if err != nil || !info.Active || len(info.Access) != 1 {
			t.Fatalf("introspect = %+v, %v", info, err)
		}
	}
	if got := tokens.count(); got != 1 {
		t.Fatalf("%d lookups for three calls, want 1", got)
	}
	if _, err := client.Introspect(ctx, "t1", nil); err != nil {
		t.Fatal(err)
	}
	if got := tokens.count(); got != 2 {
		t.Fatalf("another access asked about was answered from the cache (%d lookups)", got)
	}

	tok := tokens.byHash[grant.TokenHash("t1")]
	tok.GrantRevoked = true
	tokens.set("t1", tok)
	publishGrantEvent(t, n.Conn, "g1")
	testkit.Eventually(t, 5*time.Second, func() bool {
		info, err := client.Introspect(ctx, "t1", read)
		return err == nil && !info.Active
	}, "the client kept answering active after the grant's revocation was published")

	if info, err := client.Introspect(ctx, "unknown", nil); err != nil || info.Active {
		t.Fatalf("unknown token = %+v, %v", info, err)
	}
}

// TestClientKeepsNoAnswerPastTheTokensExpiry: the resource server's client
// keeps an answer until its token expires at the latest, and keeps none
// that does not tell the expiry, as Rafiki's authorization server's do not.
func TestClientKeepsNoAnswerPastTheTokensExpiry(t *testing.T) {
	n := testkit.StartNATS(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cache := NewCache[Info]()
	if err := cache.Follow(ctx, n.Conn); err != nil {
		t.Fatal(err)
	}
	read := []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{"read"}}}

	tokens := &tokenTable{byHash: map[string]Token{}}
	created := time.Now()
	tokens.set("t1", Token{GrantID: "g1", Client: events.GrantClient{WalletAddress: "https://wallet.test/client"},
		Access: []events.GrantAccess{readAll}, CreatedAt: created, ExpiresIn: Hold / 2})
	srv := httptest.NewServer(NewServer(tokens, nil, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	client := NewClient(srv.URL, srv.Client(), cache)
	if info, err := client.Introspect(ctx, "t1", read); err != nil || !info.Active {
		t.Fatalf("live token = %+v, %v", info, err)
	}
	time.Sleep(time.Until(created.Add(Hold/2 + 100*time.Millisecond)))
	if info, err := client.Introspect(ctx, "t1", read); err != nil || info.Active {
		t.Fatalf("token past its expiry, within a Hold of its answer = %+v, %v", info, err)
	}

	var asked atomic.Int32
	rafikis := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		asked.Add(1)
		_, _ = io.WriteString(w, `{"active":true,"grant":"g2","access":[],"client":{"walletAddress":"https://wallet.test/client"}}`)
	}))
	defer rafikis.Close()
	other := NewClient(rafikis.URL, rafikis.Client(), cache)
	for range 3 {
		if info, err := other.Introspect(ctx, "t2", nil); err != nil || !info.Active {
			t.Fatalf("answer without expiry = %+v, %v", info, err)
		}
	}
	if got := asked.Load(); got != 3 {
		t.Fatalf("three calls asked the server %d times; an answer without its expiry was kept", got)
	}
}

// TestServerCacheServesRepeatsFromMemory: the server looks a token up once
// while nothing happens to its grant, and never caches a revoked grant.
func TestServerCacheServesRepeatsFromMemory(t *testing.T) {
	n := testkit.StartNATS(t, false)
	tokens := &tokenTable{byHash: map[string]Token{}}
	tokens.set("t1", Token{GrantID: "g1", Access: []events.GrantAccess{readAll}, CreatedAt: time.Now(), ExpiresIn: time.Minute})
	tokens.set("t2", Token{GrantID: "g2", GrantRevoked: true, CreatedAt: time.Now(), ExpiresIn: time.Minute})
	cache := NewCache[Token]()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := cache.Follow(ctx, n.Conn); err != nil {
		t.Fatal(err)
	}
	s := NewServer(tokens, cache, slog.New(slog.DiscardHandler))
	for range 5 {
		if info, err := s.Introspect(ctx, Request{AccessToken: "t1"}); err != nil || !info.Active {
			t.Fatalf("t1 = %+v, %v", info, err)
		}
		if info, err := s.Introspect(ctx, Request{AccessToken: "t2"}); err != nil || info.Active {
			t.Fatalf("t2 = %+v, %v", info, err)
		}
	}
	if got := tokens.count(); got != 6 {
		t.Fatalf("%d lookups, want 1 for the live token and 5 for the revoked one", got)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{`{"access_token":"x"}`, `{"access_token":"x","access":[{"type":"quote","actions":["create"]}]}`,
		`{"access_token":1}`, `[]`, `{"access":[{"limits":{"debitAmount":{"value":"1"}}}]}`, ``} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRequest(bytes.NewReader(body))
		if err != nil {
			return
		}
		if req.AccessToken == "" || len(req.Access) > accessItemsMax {
			t.Fatalf("accepted %q as %+v", body, req)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeRequest(bytes.NewReader(again)); err != nil {
			t.Fatalf("a request accepted once is refused written again: %s: %v", again, err)
		}
	})
}
