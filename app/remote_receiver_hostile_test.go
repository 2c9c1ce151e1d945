package app_test

// The backend as an Open Payments/GNAP client of a hostile or broken remote
// instance: a fake resource server and authorization server (httptest)
// answer what no honest Rafiki would, and the admin API's receiver, quote
// and outgoing payment mutations must answer clear refusals in bounded
// time, never an internal error for bad remote data, and never pay a
// receiver other than the one asked for.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/config"
)

// hostileRemote is a fake remote instance: its wallet address, its
// authorization server and its resource server on one listener. Each
// endpoint answers with a handler a test may replace; the defaults answer
// as an honest Rafiki would.
type hostileRemote struct {
	srv *httptest.Server
	mu  sync.Mutex
	// payment is the private view of every incoming payment, as a JSON
	// object a test may change.
	payment                                                         func(url string) map[string]any
	public, grant, private, complete, create, walletAddress, rotate http.HandlerFunc

	grants, privates, completes, creates, rotations atomic.Int32
}

func startHostileRemote(t *testing.T) *hostileRemote {
	t.Helper()
	h := &hostileRemote{}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	secret := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	h.payment = func(url string) map[string]any {
		now := time.Now().UTC()
		return map[string]any{
			"id": url, "walletAddress": h.srv.URL + "/wallet", "completed": false,
			"incomingAmount": map[string]any{"value": "1000", "assetCode": "USD", "assetScale": 2},
			"receivedAmount": map[string]any{"value": "0", "assetCode": "USD", "assetScale": 2},
			"expiresAt":      now.Add(time.Hour).Format(time.RFC3339), "createdAt": now.Format(time.RFC3339),
			"updatedAt": now.Format(time.RFC3339),
			"methods":   []any{map[string]any{"type": "ilp", "ilpAddress": "test.hostile.receiver", "sharedSecret": secret}},
		}
	}
	h.public = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"authServer": h.srv.URL + "/auth",
			"receivedAmount": map[string]any{"value": "0", "assetCode": "USD", "assetScale": 2}})
	}
	h.grant = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": map[string]any{"value": "token-" + uuid.NewString(), "manage": h.srv.URL + "/token/" + uuid.NewString(), "expires_in": 600,
				"access": []any{map[string]any{"type": "incoming-payment", "actions": []string{"create", "read-all", "complete"}}}},
			"continue": map[string]any{"access_token": map[string]any{"value": "continue"}, "uri": h.srv.URL + "/continue/x"}})
	}
	h.rotate = h.grant
	h.private = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, h.payment(h.srv.URL+r.URL.Path))
	}
	h.complete = func(w http.ResponseWriter, r *http.Request) {
		p := h.payment(h.srv.URL + strings.TrimSuffix(r.URL.Path, "/complete"))
		p["completed"] = true
		delete(p, "methods")
		writeJSON(w, http.StatusOK, p)
	}
	h.walletAddress = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"id": h.srv.URL + "/wallet", "assetCode": "USD", "assetScale": 2,
			"authServer": h.srv.URL + "/auth", "resourceServer": h.srv.URL})
	}
	h.create = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, h.payment(h.srv.URL+"/incoming-payments/"+uuid.NewString()))
	}
	return h
}

func (h *hostileRemote) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	public, grant, private, complete, create, walletAddress, rotate := h.public, h.grant, h.private, h.complete, h.create, h.walletAddress, h.rotate
	h.mu.Unlock()
	switch p := r.URL.Path; {
	case r.Method == http.MethodGet && p == "/wallet":
		walletAddress(w, r)
	case r.Method == http.MethodPost && p == "/auth":
		h.grants.Add(1)
		grant(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/token/"):
		h.rotations.Add(1)
		rotate(w, r)
	case r.Method == http.MethodPost && p == "/incoming-payments":
		h.creates.Add(1)
		create(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/incoming-payments/") && strings.HasSuffix(p, "/complete"):
		h.completes.Add(1)
		complete(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/incoming-payments/"):
		if r.Header.Get("Authorization") == "" {
			public(w, r)
			return
		}
		h.privates.Add(1)
		private(w, r)
	default:
		http.NotFound(w, r)
	}
}

// set replaces handlers under the lock.
func (h *hostileRemote) set(f func(h *hostileRemote)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h)
}

func (h *hostileRemote) paymentURL() string {
	return h.srv.URL + "/incoming-payments/" + uuid.NewString()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRaw(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// hostileRequestTimeout is the admin API's REQUEST_TIMEOUT_MS in these
// tests: a remote that hangs costs a request no more.
const hostileRequestTimeout = 2 * time.Second

// startHostileSystem is a backend that reaches loopback addresses (USE_HTTP,
// as the fake remotes listen there), with a USD wallet address, alice.
func startHostileSystem(t *testing.T) (*system, walletAddressOut) {
	t.Helper()
	s := startSystem(t, false, func(c *config.Config) {
		c.UseHTTP = true
		c.KeyID = "backend-" + uuid.NewString()
		c.WalletAddressURL = c.OpenPaymentsURL + "/.well-known/pay"
		c.RequestTimeout, c.ReadYourWritesTimeout = hostileRequestTimeout, time.Second
	})
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	return s, alice
}

// hostileRefusal is a GraphQL error's code and message.
type hostileRefusal struct{ code, message string }

// TestRemoteReceiverHostileAnswers reads and quotes remote receivers whose
// resource server answers what it should not. A receiver that cannot be
// read is no receiver ("receiver does not exist") and quoting it is
// "invalid receiver"; neither is ever an internal error, and each answers
// within the request's deadline.
func TestRemoteReceiverHostileAnswers(t *testing.T) {
	s, alice := startHostileSystem(t)
	ctx := context.Background()
	noReceiver := hostileRefusal{"NOT_FOUND", "receiver does not exist"}
	invalidReceiver := hostileRefusal{"BAD_USER_INPUT", "invalid receiver"}
	change := func(f func(p map[string]any)) func(h *hostileRemote) {
		return func(h *hostileRemote) {
			honest := h.payment
			h.payment = func(url string) map[string]any {
				p := honest(url)
				f(p)
				return p
			}
		}
	}
	amount := func(v any, code string, scale any) map[string]any {
		return map[string]any{"value": v, "assetCode": code, "assetScale": scale}
	}
	huge := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"authServer":"` + strings.Repeat("a", 8<<20) + `"}`))
	}
	for _, tc := range []struct {
		name string
		with func(h *hostileRemote)
		// receiver and quote are the refusals expected; a nil receiver
		// is an answer, which the test does not check further.
		receiver *hostileRefusal
		quote    hostileRefusal
	}{
		{"an 8 MB public view", func(h *hostileRemote) { h.public = huge }, &noReceiver, invalidReceiver},
		{"an 8 MB private view", func(h *hostileRemote) { h.private = huge }, &noReceiver, invalidReceiver},
		{"invalid JSON", func(h *hostileRemote) { h.private = writeRaw(200, `{"id": "x", `) }, &noReceiver, invalidReceiver},
		{"a JSON array", func(h *hostileRemote) { h.private = writeRaw(200, `[1,2,3]`) }, &noReceiver, invalidReceiver},
		{"a public view without authServer", func(h *hostileRemote) { h.public = writeRaw(200, `{"receivedAmount":null}`) }, &noReceiver, invalidReceiver},
		{"a numeric amount", change(func(p map[string]any) { p["receivedAmount"] = amount(5, "USD", 2) }), &noReceiver, invalidReceiver},
		{"an asset scale of 300", change(func(p map[string]any) { p["receivedAmount"] = amount("0", "USD", 300) }), &noReceiver, invalidReceiver},
		{"a negative amount", change(func(p map[string]any) { p["receivedAmount"] = amount("-1", "USD", 2) }), &noReceiver, invalidReceiver},
		{"an amount above 2^64", change(func(p map[string]any) { p["incomingAmount"] = amount("18446744073709551616", "USD", 2) }), &noReceiver, invalidReceiver},
		{"a non-numeric amount", change(func(p map[string]any) { p["incomingAmount"] = amount("1e3", "USD", 2) }), &noReceiver, invalidReceiver},
		{"no receivedAmount", change(func(p map[string]any) { delete(p, "receivedAmount") }), &noReceiver, invalidReceiver},
		{"a completed payment", change(func(p map[string]any) { p["completed"] = true }), nil, invalidReceiver},
		{"an expired payment", change(func(p map[string]any) {
			p["expiresAt"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		}), nil, invalidReceiver},
		{"no payment method", change(func(p map[string]any) { delete(p, "methods") }), nil, invalidReceiver},
		{"a shared secret not base64url", change(func(p map[string]any) {
			p["methods"] = []any{map[string]any{"type": "ilp", "ilpAddress": "test.hostile.receiver", "sharedSecret": "***"}}
		}), nil, invalidReceiver},
		{"unknown fields", change(func(p map[string]any) { p["surprise"] = map[string]any{"x": []int{1}} }), nil,
			// An honest payment elsewhere: quoting it probes a path that
			// does not exist, an internal error here as in Rafiki.
			hostileRefusal{"INTERNAL_SERVER_ERROR", "could not probe the path to the receiver"}},
		// What the Open Payments SDK Rafiki uses refuses (its response
		// validation and validateIncomingPayment) is refused here too.
		{"receivedAmount above incomingAmount", change(func(p map[string]any) { p["receivedAmount"] = amount("2000", "USD", 2) }), &noReceiver, invalidReceiver},
		{"incomingAmount in another asset", change(func(p map[string]any) { p["incomingAmount"] = amount("1000", "EUR", 4) }), &noReceiver, invalidReceiver},
		{"metadata not an object", change(func(p map[string]any) { p["metadata"] = "not an object" }), &noReceiver, invalidReceiver},
		{"a malformed ILP address", change(func(p map[string]any) {
			p["methods"] = []any{map[string]any{"type": "ilp", "ilpAddress": "not an ILP address!", "sharedSecret": base64.RawURLEncoding.EncodeToString(make([]byte, 32))}}
		}), nil, invalidReceiver},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHostileRemote(t)
			h.set(tc.with)
			url := h.paymentURL()
			started := time.Now()
			_, err := getReceiver(ctx, s.operator, url)
			code, msg := gqlRefusal(t, err)
			if took := time.Since(started); took > hostileRequestTimeout+time.Second {
				t.Errorf("receiver answered after %v", took)
			}
			if tc.receiver != nil && (hostileRefusal{code, msg}) != *tc.receiver {
				t.Errorf("receiver: %s %q, want %s %q", code, msg, tc.receiver.code, tc.receiver.message)
			}
			if tc.receiver == nil && code == "INTERNAL_SERVER_ERROR" {
				t.Errorf("receiver: %s %q", code, msg)
			}
			_, err = createQuote(ctx, s.operator, map[string]any{"walletAddressId": alice.ID, "receiver": url})
			if code, msg := gqlRefusal(t, err); (hostileRefusal{code, msg}) != tc.quote {
				t.Errorf("createQuote: %s %q, want %s %q", code, msg, tc.quote.code, tc.quote.message)
			}
		})
	}
}

// TestRemoteReceiverHostileIdentity: a resource server asked for one
// payment answers another's id. The receiver is then not the one asked for.
func TestRemoteReceiverHostileIdentity(t *testing.T) {
	s, _ := startHostileSystem(t)
	ctx := context.Background()
	h := startHostileRemote(t)
	other := "https://elsewhere.example/incoming-payments/" + uuid.NewString()
	h.set(func(h *hostileRemote) {
		honest := h.payment
		h.payment = func(url string) map[string]any {
			p := honest(url)
			p["id"] = other
			return p
		}
	})
	url := h.paymentURL()
	got, err := getReceiver(ctx, s.operator, url)
	if code, msg := gqlRefusal(t, err); code != "NOT_FOUND" {
		t.Errorf("receiver %s claiming to be %s: answered %+v (%s %q), want receiver does not exist", url, other, got, code, msg)
	}
}

// TestRemoteReceiverHostileMutations: createReceiver and completeReceiver
// against a remote whose answers are broken are refusals, not internal
// errors.
func TestRemoteReceiverHostileMutations(t *testing.T) {
	s, _ := startHostileSystem(t)
	ctx := context.Background()
	badAmount := func(h *hostileRemote) {
		honest := h.payment
		h.payment = func(url string) map[string]any {
			p := honest(url)
			p["receivedAmount"] = map[string]any{"value": "-5", "assetCode": "USD", "assetScale": 2}
			return p
		}
	}
	t.Run("createReceiver answered invalid JSON", func(t *testing.T) {
		h := startHostileRemote(t)
		h.set(func(h *hostileRemote) { h.create = writeRaw(201, `{"id":`) })
		_, err := createReceiver(ctx, s.operator, map[string]any{"walletAddressUrl": h.srv.URL + "/wallet"})
		if code, msg := gqlRefusal(t, err); code != "BAD_USER_INPUT" || msg != "invalid remote incoming payment request" {
			t.Errorf("%s %q", code, msg)
		}
	})
	t.Run("createReceiver answered a negative receivedAmount", func(t *testing.T) {
		h := startHostileRemote(t)
		h.set(func(h *hostileRemote) {
			badAmount(h)
			// The public and private views stay honest: only the
			// creation's answer is broken.
			honest := h.payment
			h.private = func(w http.ResponseWriter, r *http.Request) {
				p := honest(h.srv.URL + r.URL.Path)
				p["receivedAmount"] = map[string]any{"value": "0", "assetCode": "USD", "assetScale": 2}
				writeJSON(w, 200, p)
			}
		})
		_, err := createReceiver(ctx, s.operator, map[string]any{"walletAddressUrl": h.srv.URL + "/wallet"})
		if code, msg := gqlRefusal(t, err); code == "" || code == "INTERNAL_SERVER_ERROR" {
			t.Errorf("%s %q, want a refusal of the remote's answer", code, msg)
		}
	})
	t.Run("createReceiver answered a payment that received money", func(t *testing.T) {
		h := startHostileRemote(t)
		h.set(func(h *hostileRemote) {
			honest := h.payment
			h.create = func(w http.ResponseWriter, r *http.Request) {
				p := honest(h.srv.URL + "/incoming-payments/" + uuid.NewString())
				p["receivedAmount"] = map[string]any{"value": "999", "assetCode": "USD", "assetScale": 2}
				writeJSON(w, 201, p)
			}
		})
		got, err := createReceiver(ctx, s.operator, map[string]any{"walletAddressUrl": h.srv.URL + "/wallet"})
		if code, _ := gqlRefusal(t, err); code == "" {
			t.Errorf("a new remote payment that already received 999: answered %+v", got)
		}
	})
	t.Run("completeReceiver answered a negative receivedAmount", func(t *testing.T) {
		h := startHostileRemote(t)
		h.set(func(h *hostileRemote) {
			honest := h.payment
			h.complete = func(w http.ResponseWriter, r *http.Request) {
				p := honest(h.srv.URL + strings.TrimSuffix(r.URL.Path, "/complete"))
				p["completed"], p["receivedAmount"] = true, map[string]any{"value": "-5", "assetCode": "USD", "assetScale": 2}
				writeJSON(w, 200, p)
			}
		})
		_, err := completeReceiver(ctx, s.operator, h.paymentURL())
		if code, msg := gqlRefusal(t, err); code == "" || code == "INTERNAL_SERVER_ERROR" {
			t.Errorf("%s %q, want a refusal of the remote's answer", code, msg)
		}
	})
	t.Run("completeReceiver answered invalid JSON", func(t *testing.T) {
		h := startHostileRemote(t)
		h.set(func(h *hostileRemote) { h.complete = writeRaw(200, `nope`) })
		_, err := completeReceiver(ctx, s.operator, h.paymentURL())
		if code, msg := gqlRefusal(t, err); code != "BAD_USER_INPUT" || msg != "invalid remote incoming payment request" {
			t.Errorf("%s %q", code, msg)
		}
	})
	t.Run("completeReceiver of a payment that cannot be read", func(t *testing.T) {
		h := startHostileRemote(t)
		h.set(func(h *hostileRemote) { h.private = writeRaw(200, `[]`) })
		_, err := completeReceiver(ctx, s.operator, h.paymentURL())
		if code, msg := gqlRefusal(t, err); code != "NOT_FOUND" || msg != "unknown payment" {
			t.Errorf("%s %q", code, msg)
		}
		if n := h.completes.Load(); n != 0 {
			t.Errorf("%d completions sent", n)
		}
	})
}

// TestRemoteReceiverHostileGrants: the remote authorization server refuses,
// answers garbage or an interaction, or its tokens are refused on use. Each
// is a clear hostileRefusal; a refused token is replaced once, never in a loop.
func TestRemoteReceiverHostileGrants(t *testing.T) {
	s, _ := startHostileSystem(t)
	ctx := context.Background()
	invalidGrant := hostileRefusal{"FORBIDDEN", "invalid grant for remote incoming payment"}
	for _, tc := range []struct {
		name     string
		with     func(h *hostileRemote)
		create   hostileRefusal
		grants   int32 // grant requests one createReceiver makes
		requests int32 // creations it sends
	}{
		{"garbage", func(h *hostileRemote) { h.grant = writeRaw(200, `<html>`) }, invalidGrant, 1, 0},
		{"no token", func(h *hostileRemote) { h.grant = writeRaw(200, `{"access_token":{"value":""}}`) }, invalidGrant, 1, 0},
		{"an interaction", func(h *hostileRemote) {
			h.grant = writeRaw(200, `{"interact":{"redirect":"https://x.example/i","finish":"abc"},"continue":{"access_token":{"value":"c"},"uri":"https://x.example/c","wait":5}}`)
		}, invalidGrant, 1, 0},
		{"429", func(h *hostileRemote) { h.grant = writeRaw(429, `{"error":{"code":"too_many_requests"}}`) }, invalidGrant, 1, 0},
		{"tokens refused with 401", func(h *hostileRemote) { h.create = writeRaw(401, `{"error":{"code":"invalid_token"}}`) },
			hostileRefusal{"BAD_USER_INPUT", "invalid remote incoming payment request"}, 2, 2},
		{"tokens whose access does not cover the creation (403)", func(h *hostileRemote) {
			h.create = writeRaw(403, `{"error":{"code":"insufficient_grant"}}`)
		}, hostileRefusal{"BAD_USER_INPUT", "invalid remote incoming payment request"}, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHostileRemote(t)
			h.set(tc.with)
			_, err := createReceiver(ctx, s.operator, map[string]any{"walletAddressUrl": h.srv.URL + "/wallet"})
			if code, msg := gqlRefusal(t, err); (hostileRefusal{code, msg}) != tc.create {
				t.Errorf("createReceiver: %s %q, want %v", code, msg, tc.create)
			}
			if g, c := h.grants.Load(), h.creates.Load(); g != tc.grants || c != tc.requests {
				t.Errorf("%d grant requests and %d creations; want %d and %d", g, c, tc.grants, tc.requests)
			}
		})
	}
	t.Run("reads with tokens refused with 401", func(t *testing.T) {
		h := startHostileRemote(t)
		h.set(func(h *hostileRemote) { h.private = writeRaw(401, `{"error":{"code":"invalid_token"}}`) })
		_, err := getReceiver(ctx, s.operator, h.paymentURL())
		if code, msg := gqlRefusal(t, err); code != "NOT_FOUND" {
			t.Errorf("receiver: %s %q", code, msg)
		}
		if g, p := h.grants.Load(), h.privates.Load(); g != 2 || p != 2 {
			t.Errorf("%d grant requests and %d reads; want 2 and 2", g, p)
		}
	})
	t.Run("a token whose lifetime overflows", func(t *testing.T) {
		// expires_in of ~317 years: a token that never expires, not one
		// that always has.
		h := startHostileRemote(t)
		h.set(func(h *hostileRemote) {
			h.grant = func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, map[string]any{"access_token": map[string]any{"value": "t", "manage": h.srv.URL + "/token/x", "expires_in": int64(1e10)}})
			}
			h.rotate = h.grant
		})
		for range 3 {
			if _, err := getReceiver(ctx, s.operator, h.paymentURL()); err != nil {
				t.Fatal(err)
			}
		}
		if g, r := h.grants.Load(), h.rotations.Load(); g != 1 || r != 0 {
			t.Errorf("%d grant requests and %d rotations for three reads under one token; want 1 and 0", g, r)
		}
	})
}

// TestRemoteReceiverHostileSlow: remotes that hang, drip their answer or
// redirect in a loop cost a request its deadline at most, the backend lets
// go of their connections, and a remote that hangs does not hold up reads
// of another remote.
func TestRemoteReceiverHostileSlow(t *testing.T) {
	s, alice := startHostileSystem(t)
	ctx := context.Background()
	released := make(chan struct{}, 64)
	hang := func(w http.ResponseWriter, r *http.Request) {
		// The server sees the client go only once it read the body.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		released <- struct{}{}
	}
	drip := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"id":"`))
		for {
			select {
			case <-r.Context().Done():
				released <- struct{}{}
				return
			case <-time.After(50 * time.Millisecond):
				_, _ = w.Write([]byte("a"))
				w.(http.Flusher).Flush()
			}
		}
	}
	for _, tc := range []struct {
		name  string
		with  func(h *hostileRemote)
		hangs bool
	}{
		{"a public view that hangs", func(h *hostileRemote) { h.public = hang }, true},
		{"a grant request that hangs", func(h *hostileRemote) { h.grant = hang }, true},
		{"a private view that drips", func(h *hostileRemote) { h.private = drip }, true},
		{"a redirect loop", func(h *hostileRemote) {
			h.public = func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) }
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHostileRemote(t)
			h.set(tc.with)
			started := time.Now()
			_, err := createQuote(ctx, s.operator, map[string]any{"walletAddressId": alice.ID, "receiver": h.paymentURL()})
			took := time.Since(started)
			if code, msg := gqlRefusal(t, err); code != "BAD_USER_INPUT" || msg != "invalid receiver" {
				t.Errorf("createQuote: %s %q", code, msg)
			}
			if took > hostileRequestTimeout+time.Second {
				t.Errorf("createQuote answered after %v", took)
			}
			if tc.hangs {
				select {
				case <-released:
				case <-time.After(time.Second):
					t.Errorf("the backend still holds the remote's connection")
				}
			}
		})
	}

	t.Run("one remote hanging holds up no other", func(t *testing.T) {
		slow, honest := startHostileRemote(t), startHostileRemote(t)
		slow.set(func(h *hostileRemote) { h.grant = hang })
		var wg sync.WaitGroup
		var slowest atomic.Int64
		for range 8 {
			wg.Go(func() {
				started := time.Now()
				_, _ = getReceiver(ctx, s.operator, slow.paymentURL())
				if took := int64(time.Since(started)); took > slowest.Load() {
					slowest.Store(took)
				}
			})
		}
		time.Sleep(200 * time.Millisecond)
		started := time.Now()
		got, err := getReceiver(ctx, s.operator, honest.paymentURL())
		if took := time.Since(started); err != nil || took > time.Second {
			t.Errorf("an honest remote read while another hangs: %+v %v after %v", got, err, took)
		}
		wg.Wait()
		// The grant requests for one authorization server are made one at a
		// time: a caller waits for the one before it, which its own
		// deadline does not cut short.
		if took := time.Duration(slowest.Load()); took > hostileRequestTimeout+time.Second {
			t.Errorf("reads of a remote whose authorization server hangs took up to %v", took)
		}
		for range len(released) {
			<-released
		}
	})
}

// TestRemoteReceiverHostileSwap: a remote incoming payment whose private
// view claims the id of an incoming payment of this instance, with real
// STREAM credentials of a second instance, so that a probe would succeed.
// It is not the payment asked for: the quote is refused, and the payment
// it named receives nothing (a quote that took the answer's id was paid
// into it by ledger transfer, in its asset, whatever the quote's).
func TestRemoteReceiverHostileSwap(t *testing.T) {
	pair := startPeered(t, nil, nil)
	alpha, beta := pair.alpha, pair.beta
	ctx := context.Background()
	alice, err := createWalletAddress(ctx, alpha.operator, map[string]any{"assetId": pair.usd[alpha], "address": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	carol, err := createWalletAddress(ctx, alpha.operator, map[string]any{"assetId": pair.usd[alpha], "address": "carol"})
	if err != nil {
		t.Fatal(err)
	}
	carols, err := createIncomingPayment(ctx, alpha.operator, map[string]any{"walletAddressId": carol.ID})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := createWalletAddress(ctx, beta.operator, map[string]any{"assetId": pair.usd[beta], "address": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	bobs, err := createIncomingPayment(ctx, beta.operator, map[string]any{"walletAddressId": bob.ID,
		"incomingAmount": map[string]any{"value": "1000", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	// Bob's STREAM credentials, as alpha reads them.
	real, err := alpha.running.Backend.Receivers.Get(ctx, bobs.URL)
	if err != nil || real == nil || len(real.Methods) == 0 {
		t.Fatalf("bob's payment as alpha reads it: %+v %v", real, err)
	}
	// claiming is a remote whose payments claim to be local, paid over
	// bob's real STREAM credentials.
	claiming := func(local incomingPaymentOut) *hostileRemote {
		h := startHostileRemote(t)
		h.set(func(h *hostileRemote) {
			honest := h.payment
			h.payment = func(url string) map[string]any {
				p := honest(url)
				p["id"] = local.URL
				p["methods"] = []any{map[string]any{"type": "ilp", "ilpAddress": real.Methods[0].ILPAddress, "sharedSecret": real.Methods[0].SharedSecret}}
				return p
			}
		})
		return h
	}
	// refused: a quote of the remote's URL is refused as an invalid
	// receiver, and the payment its answer names receives nothing.
	refused := func(url string, local incomingPaymentOut) {
		t.Helper()
		_, err := createQuote(ctx, alpha.operator, map[string]any{"walletAddressId": alice.ID, "receiver": url,
			"debitAmount": map[string]any{"value": "500", "assetCode": "USD", "assetScale": 2}})
		if code := errorCode(err); code != "BAD_USER_INPUT" {
			t.Errorf("a quote of %s, answered as %s: %v, want BAD_USER_INPUT", url, local.URL, err)
		}
		got, err := getIncomingPayment(ctx, alpha.operator, local.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ReceivedAmount.Value != "0" {
			t.Errorf("%s, named by a remote's answer, received %s", local.URL, got.ReceivedAmount.Value)
		}
	}
	refused(claiming(carols).paymentURL(), carols)

	// The same claim naming a payment of this instance in an asset of
	// scale 0, which a quote priced in the USD cents the remote claims
	// would have paid in whole units.
	dollars, err := createAsset(ctx, alpha.operator, "USD", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	dave, err := createWalletAddress(ctx, alpha.operator, map[string]any{"assetId": dollars.ID, "address": "dave"})
	if err != nil {
		t.Fatal(err)
	}
	daves, err := createIncomingPayment(ctx, alpha.operator, map[string]any{"walletAddressId": dave.ID})
	if err != nil {
		t.Fatal(err)
	}
	refused(claiming(daves).paymentURL(), daves)
}
