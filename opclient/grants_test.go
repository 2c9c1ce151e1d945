package opclient

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/httpsig"
	"github.com/rafiki-go/rafiki/outbound"
)

// memoryGuard remembers signatures in memory.
type memoryGuard struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (g *memoryGuard) Use(_ context.Context, key string, now time.Time, _ time.Duration) (time.Time, bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if first, ok := g.seen[key]; ok {
		return first, false, nil
	}
	g.seen[key] = now
	return now, true, nil
}

// authServer is an authorization server that checks every request's
// signature against the client's key, grants what it is asked, rotates
// tokens unless told to refuse, and counts both.
type authServer struct {
	*httptest.Server
	mu              sync.Mutex
	requests        []Access
	rotations       int
	refuseRotation  bool
	interact        bool
	expiresInSecond int64
	issued          int
}

func newAuthServer(t *testing.T, key ed25519.PublicKey, client string) *authServer {
	t.Helper()
	as := &authServer{expiresInSecond: 600}
	guard := &memoryGuard{seen: map[string]time.Time{}}
	as.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := httpsig.Verify(r, body, staticKey{key}, httpsig.Options{Replay: guard}); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":{"code":"invalid_client","description":%q}}`, err.Error())
			return
		}
		as.mu.Lock()
		defer as.mu.Unlock()
		as.issued++
		token := fmt.Sprintf(`{"value":"token-%d","manage":"%s/token/%d","expires_in":%d}`, as.issued, as.URL, as.issued, as.expiresInSecond)
		switch {
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/token/"):
			as.rotations++
			if as.refuseRotation || !strings.HasPrefix(r.Header.Get("Authorization"), "GNAP token-") {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":{"code":"invalid_client","description":"invalid access token"}}`))
				return
			}
			fmt.Fprintf(w, `{"access_token":%s}`, token)
		case r.Method == http.MethodPost && r.URL.Path == "/tenant":
			var req struct {
				AccessToken struct{ Access []Access } `json:"access_token"`
				Client      string
			}
			if err := json.Unmarshal(body, &req); err != nil || req.Client != client || len(req.AccessToken.Access) != 1 {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			as.requests = append(as.requests, req.AccessToken.Access[0])
			if as.interact {
				_, _ = w.Write([]byte(`{"interact":{"redirect":"https://as/interact","finish":"n"},"continue":{"access_token":{"value":"c"},"uri":"https://as/continue/1"}}`))
				return
			}
			fmt.Fprintf(w, `{"access_token":%s,"continue":{"access_token":{"value":"c"},"uri":"%s/continue/1"}}`, token, as.URL)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(as.Close)
	return as
}

func (as *authServer) counts() (int, int) {
	as.mu.Lock()
	defer as.mu.Unlock()
	return len(as.requests), as.rotations
}

type staticKey struct{ key ed25519.PublicKey }

func (k staticKey) Key(context.Context, string) (ed25519.PublicKey, error) { return k.key, nil }

func newGrants(t *testing.T) (*Grants, *authServer, *time.Time) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	client := New(outbound.NewClient(outbound.Options{UseHTTP: true}), priv, "k", "https://wallet.example/.well-known/pay")
	as := newAuthServer(t, pub, "https://wallet.example/.well-known/pay")
	now := time.Now()
	g := NewGrants(client)
	g.now = func() time.Time { return now }
	return g, as, &now
}

func TestGrantsAreReusedForTheAccessTheyCover(t *testing.T) {
	g, as, _ := newGrants(t)
	ctx := context.Background()
	other := newAuthServer(t, nil, "")
	for _, tc := range []struct {
		name     string
		server   string
		actions  []string
		requests int
	}{
		{"first", as.URL + "/tenant", []string{"create", "read-all"}, 1},
		{"a subset", as.URL + "/tenant", []string{"read-all"}, 1},
		{"an action read-all implies", as.URL + "/tenant", []string{"read"}, 1},
		{"the same again", as.URL + "/tenant", []string{"create", "read-all"}, 1},
		{"an action not granted", as.URL + "/tenant", []string{"read-all", "complete"}, 2},
		{"covered by the second grant", as.URL + "/tenant", []string{"complete"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := g.Get(ctx, tc.server, "incoming-payment", tc.actions...)
			if err != nil {
				t.Fatal(err)
			}
			if requests, _ := as.counts(); requests != tc.requests || !covers(got.Actions, tc.actions) {
				t.Fatalf("%d grant requests, want %d; grant %+v", requests, tc.requests, got)
			}
		})
	}
	// Another server has its own grants; this one, knowing no key,
	// refuses every signature.
	if _, err := g.Get(ctx, other.URL+"/tenant", "incoming-payment", "read-all"); Status(err) != http.StatusUnauthorized {
		t.Fatalf("grant at a server that refuses the signature: %v", err)
	}
}

func TestGrantsRotateExpiredTokensAndRequestAgain(t *testing.T) {
	ctx := context.Background()
	t.Run("expired: rotated", func(t *testing.T) {
		g, as, now := newGrants(t)
		first, err := g.Get(ctx, as.URL+"/tenant", "incoming-payment", "read-all")
		if err != nil {
			t.Fatal(err)
		}
		*now = now.Add(time.Duration(as.expiresInSecond)*time.Second - expiryMargin - time.Second)
		if same, err := g.Get(ctx, as.URL+"/tenant", "incoming-payment", "read-all"); err != nil || same.Token != first.Token {
			t.Fatalf("before expiry: %+v %v", same, err)
		}
		*now = now.Add(time.Second)
		rotated, err := g.Get(ctx, as.URL+"/tenant", "incoming-payment", "read-all")
		if err != nil {
			t.Fatal(err)
		}
		requests, rotations := as.counts()
		if requests != 1 || rotations != 1 || rotated.Token == first.Token || rotated.Manage == first.Manage ||
			!rotated.ExpiresAt.Equal(now.Add(time.Duration(as.expiresInSecond)*time.Second)) {
			t.Fatalf("%d requests, %d rotations; %+v after %+v", requests, rotations, rotated, first)
		}
		if again, err := g.Get(ctx, as.URL+"/tenant", "incoming-payment", "read-all"); err != nil || again.Token != rotated.Token {
			t.Fatalf("after rotation: %+v %v", again, err)
		}
	})
	t.Run("rotation refused: requested again", func(t *testing.T) {
		g, as, now := newGrants(t)
		first, err := g.Get(ctx, as.URL+"/tenant", "incoming-payment", "read-all")
		if err != nil {
			t.Fatal(err)
		}
		as.mu.Lock()
		as.refuseRotation = true
		as.mu.Unlock()
		*now = now.Add(time.Hour)
		next, err := g.Get(ctx, as.URL+"/tenant", "incoming-payment", "read-all")
		if err != nil {
			t.Fatal(err)
		}
		if requests, rotations := as.counts(); requests != 2 || rotations != 1 || next.Token == first.Token {
			t.Fatalf("%d requests, %d rotations; %+v", requests, rotations, next)
		}
	})
	t.Run("forgotten: requested again", func(t *testing.T) {
		g, as, _ := newGrants(t)
		first, err := g.Get(ctx, as.URL+"/tenant", "incoming-payment", "read-all")
		if err != nil {
			t.Fatal(err)
		}
		g.Forget(first)
		next, err := g.Get(ctx, as.URL+"/tenant", "incoming-payment", "read-all")
		if err != nil {
			t.Fatal(err)
		}
		if requests, rotations := as.counts(); requests != 2 || rotations != 0 || next.Token == first.Token {
			t.Fatalf("%d requests, %d rotations; %+v", requests, rotations, next)
		}
	})
	t.Run("interaction required", func(t *testing.T) {
		g, as, _ := newGrants(t)
		as.interact = true
		if _, err := g.Get(ctx, as.URL+"/tenant", "incoming-payment", "read-all"); !errors.Is(err, ErrInteractionRequired) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestGrantsShareOneRequestAmongConcurrentCallers(t *testing.T) {
	g, as, _ := newGrants(t)
	var wg sync.WaitGroup
	tokens := make([]string, 8)
	for i := range tokens {
		wg.Go(func() {
			if got, err := g.Get(context.Background(), as.URL+"/tenant", "incoming-payment", "read-all"); err == nil {
				tokens[i] = got.Token
			}
		})
	}
	wg.Wait()
	for _, tok := range tokens {
		if tok == "" || tok != tokens[0] {
			t.Fatalf("tokens %v", tokens)
		}
	}
	if requests, _ := as.counts(); requests != 1 {
		t.Fatalf("%d grant requests", requests)
	}
}
