package httpsig

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/outbound"
	"github.com/rafiki-go/rafiki/testkit"
)

// walletServer serves /alice/jwks.json with the keys set, counting fetches.
type walletServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []any
	status  int
	raw     string
	fetches atomic.Int32
}

// localClient reaches the test servers on loopback, as under USE_HTTP.
var localClient = outbound.NewClient(outbound.Options{UseHTTP: true})

func newWalletServer(t *testing.T) *walletServer {
	w := &walletServer{status: http.StatusOK}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/alice/jwks.json" {
			http.NotFound(rw, r)
			return
		}
		w.fetches.Add(1)
		w.mu.Lock()
		defer w.mu.Unlock()
		rw.WriteHeader(w.status)
		if w.raw != "" {
			rw.Write([]byte(w.raw))
			return
		}
		json.NewEncoder(rw).Encode(map[string]any{"keys": w.keys})
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *walletServer) set(keys ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keys = keys
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestJWKSFetcherCachesAndRefetches: a key set is fetched once per TTL; an
// unknown kid fetches it again only when the cached set is at least
// MinRefetch old, however many requests name unknown kids.
func TestJWKSFetcherCachesAndRefetches(t *testing.T) {
	_, k1 := testKey(t, 1, "k1")
	_, k2 := testKey(t, 2, "k2")
	w := newWalletServer(t)
	w.set(k1)
	clock := &fakeClock{now: testNow}
	f := NewJWKSFetcher(FetcherOptions{Client: localClient, TTL: time.Minute, MinRefetch: 10 * time.Second, Now: clock.Now})
	keys := f.For(w.URL + "/alice")
	ctx := context.Background()

	step := func(kid string, want Reason, fetches int32) {
		t.Helper()
		_, err := keys.Key(ctx, kid)
		if got := ReasonOf(err); got != want {
			t.Fatalf("Key(%s): %q (%v), want %q", kid, got, err, want)
		}
		if n := w.fetches.Load(); n != fetches {
			t.Fatalf("Key(%s): %d fetches, want %d", kid, n, fetches)
		}
	}
	step("k1", "", 1)
	step("k1", "", 1)
	w.set(k1, k2) // the client adds a key
	for range 100 {
		step("k2", ReasonUnknownKey, 1) // the set is younger than MinRefetch
	}
	clock.Add(10 * time.Second)
	step("k2", "", 2) // unknown kid, set old enough: fetched again
	for range 100 {
		step("k3", ReasonUnknownKey, 2) // just fetched: no more fetches
	}
	clock.Add(10 * time.Second)
	step("k3", ReasonUnknownKey, 3)
	step("k3", ReasonUnknownKey, 3)
	w.set(k2) // the client revokes k1
	step("k1", "", 3)
	clock.Add(time.Minute)
	step("k1", ReasonUnknownKey, 4) // the TTL passed: fetched again, k1 is gone
	step("k2", "", 4)
}

func TestJWKSFetcherRefusals(t *testing.T) {
	_, k1 := testKey(t, 1, "k1")
	rsa := map[string]string{"kid": "rsa", "kty": "RSA", "alg": "RS256", "n": "AQAB", "e": "AQAB"}
	tests := []struct {
		name    string
		wallet  func(w *walletServer) string
		kid     string
		want    Reason
		fetches int32 // after two attempts
	}{
		{"non-Ed25519 key in the set", func(w *walletServer) string { w.set(k1, rsa); return w.URL + "/alice" }, "rsa", ReasonBadKey, 1},
		{"kid twice in the set", func(w *walletServer) string { w.set(k1, k1); return w.URL + "/alice" }, "k1", ReasonBadKey, 1},
		{"not found: remembered for MinRefetch", func(w *walletServer) string { w.status = http.StatusNotFound; return w.URL + "/alice" }, "k1", ReasonKeyUnavailable, 1},
		{"not JSON", func(w *walletServer) string { w.raw = "<html>"; return w.URL + "/alice" }, "k1", ReasonKeyUnavailable, 1},
		{"too large", func(w *walletServer) string {
			w.raw = `{"keys":[],"pad":"` + strings.Repeat("x", 70<<10) + `"}`
			return w.URL + "/alice"
		}, "k1", ReasonKeyUnavailable, 1},
		{"not a wallet address URL", func(w *walletServer) string { return "ftp://wallet.example/alice" }, "k1", ReasonKeyUnavailable, 0},
		{"wallet address with a query", func(w *walletServer) string { return w.URL + "/alice?x=1" }, "k1", ReasonKeyUnavailable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWalletServer(t)
			wallet := tt.wallet(w)
			f := NewJWKSFetcher(FetcherOptions{Client: localClient, Now: func() time.Time { return testNow }})
			for range 2 {
				_, err := f.For(wallet).Key(context.Background(), tt.kid)
				if got := ReasonOf(err); got != tt.want {
					t.Fatalf("reason %q (%v), want %q", got, err, tt.want)
				}
			}
			if n := w.fetches.Load(); n != tt.fetches {
				t.Fatalf("%d fetches, want %d", n, tt.fetches)
			}
		})
	}
}

// TestJWKSFetcherSharesConcurrentFetches: many requests missing the cache
// at once cost one fetch.
func TestJWKSFetcherSharesConcurrentFetches(t *testing.T) {
	_, k1 := testKey(t, 1, "k1")
	w := newWalletServer(t)
	w.set(k1)
	release := make(chan struct{})
	inner := w.Config.Handler
	w.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { <-release; inner.ServeHTTP(rw, r) })
	f := NewJWKSFetcher(FetcherOptions{Client: localClient})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := f.For(w.URL+"/alice").Key(context.Background(), "k1")
			errs <- err
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := w.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func TestParseJWK(t *testing.T) {
	_, k := testKey(t, 1, "k1")
	good, _ := json.Marshal(k)
	tests := []struct {
		name string
		json string
		ok   bool
	}{
		{"Ed25519", string(good), true},
		{"RSA", `{"kid":"k","kty":"RSA","alg":"RS256","n":"AQAB","e":"AQAB"}`, false},
		{"X25519", strings.Replace(string(good), `"Ed25519"`, `"X25519"`, 1), false},
		{"no alg", strings.Replace(string(good), `"alg":"EdDSA",`, ``, 1), false},
		{"alg ES256", strings.Replace(string(good), `"EdDSA"`, `"ES256"`, 1), false},
		{"padded x", strings.Replace(string(good), k.X, k.X+"=", 1), false},
		{"standard base64 x", `{"kid":"k","kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"` + strings.Repeat("+", 43) + `"}`, false},
		{"short x", strings.Replace(string(good), k.X, k.X[:40], 1), false},
		{"private key", strings.Replace(string(good), `}`, `,"d":"AAAA"}`, 1), false},
		{"private key hidden by a later member of another case", strings.Replace(string(good), `}`, `,"d":"AAAA","D":""}`, 1), false},
		{"private key under a name of another case", strings.Replace(string(good), `}`, `,"D":"AAAA"}`, 1), false},
		{"a symmetric key", strings.Replace(string(good), `}`, `,"k":"AAAA"}`, 1), false},
		{"no kid", strings.Replace(string(good), `"kid":"k1"`, `"kid":""`, 1), false},
		{"trailing data", string(good) + "{}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJWK([]byte(tt.json))
			if (err == nil) != tt.ok {
				t.Fatalf("ParseJWK: %v, want ok %v", err, tt.ok)
			}
			if err != nil && ReasonOf(err) != ReasonBadKey {
				t.Fatalf("reason %q, want %q", ReasonOf(err), ReasonBadKey)
			}
		})
	}
}

// TestJWKSFetcherBoundsFetchesUnderWay: with FetchesMax fetches under way,
// a request for another wallet address is refused at once.
func TestJWKSFetcherBoundsFetchesUnderWay(t *testing.T) {
	_, k1 := testKey(t, 1, "k1")
	slow, fast := newWalletServer(t), newWalletServer(t)
	slow.set(k1)
	fast.set(k1)
	release := make(chan struct{})
	inner := slow.Config.Handler
	slow.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { <-release; inner.ServeHTTP(rw, r) })
	f := NewJWKSFetcher(FetcherOptions{Client: localClient, FetchesMax: 1})
	done := make(chan error, 1)
	go func() {
		_, err := f.For(slow.URL+"/alice").Key(context.Background(), "k1")
		done <- err
	}()
	testkit.Eventually(t, 2*time.Second, func() bool { return len(inflight(f)) == 1 }, "the first fetch under way")
	if _, err := f.For(fast.URL+"/alice").Key(context.Background(), "k1"); ReasonOf(err) != ReasonKeyUnavailable {
		t.Fatalf("a fetch beyond FetchesMax: %v, want %s", err, ReasonKeyUnavailable)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := f.For(fast.URL+"/alice").Key(context.Background(), "k1"); err != nil {
		t.Fatalf("once the fetch ended: %v", err)
	}
}

// TestJWKSFetcherBoundsFetchesPerSite: key servers of one site that do not
// answer hold FetchesPerSiteMax fetches, and another site's keys are still
// fetched beside them.
func TestJWKSFetcherBoundsFetchesPerSite(t *testing.T) {
	_, k1 := testKey(t, 1, "k1")
	slow, fast := newWalletServer(t), newWalletServer(t)
	slow.set(k1)
	fast.set(k1)
	release := make(chan struct{})
	inner := slow.Config.Handler
	slow.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		<-release
		r.URL.Path = "/alice/jwks.json" // every wallet address of the site has alice's keys
		inner.ServeHTTP(rw, r)
	})
	f := NewJWKSFetcher(FetcherOptions{Client: localClient, FetchesPerSiteMax: 2})
	done := make(chan error, 2)
	for _, name := range []string{"a", "b"} {
		go func() {
			_, err := f.For(slow.URL+"/"+name).Key(context.Background(), "k1")
			done <- err
		}()
	}
	testkit.Eventually(t, 2*time.Second, func() bool { return len(inflight(f)) == 2 }, "two fetches under way")
	if _, err := f.For(slow.URL+"/c").Key(context.Background(), "k1"); ReasonOf(err) != ReasonKeyUnavailable {
		t.Fatalf("a third fetch from the site: %v, want %s", err, ReasonKeyUnavailable)
	}
	// The same server named by another host is another site.
	other := strings.Replace(fast.URL, "127.0.0.1", "localhost", 1)
	if _, err := f.For(other+"/alice").Key(context.Background(), "k1"); err != nil {
		t.Fatalf("another site's keys beside them: %v", err)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.For(slow.URL+"/c").Key(context.Background(), "k1"); err != nil {
		t.Fatalf("once the site's fetches ended: %v", err)
	}
}

func TestSiteOf(t *testing.T) {
	for _, tc := range []struct{ url, site string }{
		{"https://a.b.example.com/alice/jwks.json", "example.com"},
		{"https://WALLET.Example.COM/alice/jwks.json", "example.com"},
		{"https://pay.shop.co.uk/alice/jwks.json", "shop.co.uk"},
		{"https://alice.github.io/jwks.json", "alice.github.io"},
		{"http://127.0.0.1:3000/alice/jwks.json", "127.0.0.1"},
		{"http://[::1]:3000/alice/jwks.json", "::1"},
		{"http://localhost:3000/alice/jwks.json", "localhost"},
	} {
		if got := siteOf(tc.url); got != tc.site {
			t.Errorf("siteOf(%q) = %q, want %q", tc.url, got, tc.site)
		}
	}
}

func inflight(f *JWKSFetcher) map[string]*jwksCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.inflight)
}

// TestJWKSFetcherRefusesLocalAddressesByDefault: a fetcher built without a
// client has production's, which does not fetch a client's keys from the
// server's own host or network.
func TestJWKSFetcherRefusesLocalAddressesByDefault(t *testing.T) {
	_, k1 := testKey(t, 1, "k1")
	w := newWalletServer(t)
	w.set(k1)
	_, port, _ := net.SplitHostPort(w.Listener.Addr().String())
	f := NewJWKSFetcher(FetcherOptions{})
	for _, wallet := range []string{w.URL + "/alice", "http://localhost:" + port + "/alice"} {
		_, err := f.For(wallet).Key(context.Background(), "k1")
		if ReasonOf(err) != ReasonKeyUnavailable || !errors.Is(err, outbound.ErrRefused) {
			t.Fatalf("keys of %s: %v, want %s caused by %v", wallet, err, ReasonKeyUnavailable, outbound.ErrRefused)
		}
	}
	if n := w.fetches.Load(); n != 0 {
		t.Fatalf("%d fetches reached the server", n)
	}
}

// TestJWKSFetcherUseHTTP: under USE_HTTP a client's https wallet address
// has its keys fetched over http, as Rafiki does outside production.
func TestJWKSFetcherUseHTTP(t *testing.T) {
	_, k1 := testKey(t, 1, "k1")
	w := newWalletServer(t)
	w.set(k1)
	f := NewJWKSFetcher(FetcherOptions{Client: localClient})
	wallet := "https://" + w.Listener.Addr().String() + "/alice"
	if _, err := f.For(wallet).Key(context.Background(), "k1"); err != nil {
		t.Fatalf("keys of %s: %v", wallet, err)
	}
	if n := w.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}
