package adminauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gowebpki/jcs"
	"github.com/redis/go-redis/v9"

	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/testkit"
)

type secretMap map[string]string

func (m secretMap) APISecret(_ context.Context, tenantID string) (string, bool, error) {
	s, ok := m[tenantID]
	return s, ok, nil
}

type failingSecrets struct{}

func (failingSecrets) APISecret(context.Context, string) (string, bool, error) {
	return "", false, errors.New("connection refused")
}

// seen records what the wrapped handler received.
type seen struct {
	called   bool
	identity adminauth.Identity
	hasID    bool
	body     []byte
}

func newHandler(t *testing.T, cfg adminauth.Config, secrets adminauth.Secrets, rdb redis.UniversalClient, log *slog.Logger) (http.Handler, *seen) {
	t.Helper()
	var s seen
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.called = true
		s.identity, s.hasID = adminauth.FromContext(r.Context())
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("handler reading body: %v", err)
		}
		s.body = body
		w.WriteHeader(http.StatusOK)
	})
	return adminauth.Middleware(cfg, secrets, rdb, log)(next), &s
}

func gqlBody(marker string) []byte {
	return fmt.Appendf(nil, `{"query":"query Tenant($id: ID!) { tenant(id: $id) { id } }","variables":{"id":%q},"operationName":"Tenant"}`, marker)
}

func request(tenantID, sig string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if tenantID != "" {
		r.Header.Set("tenant-id", tenantID)
	}
	if sig != "" {
		r.Header.Set("signature", sig)
	}
	return r
}

func sign(t *testing.T, secret string, version int, body []byte, at time.Time) string {
	t.Helper()
	sig, err := adminauth.Sign(secret, version, body, at)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// checkError asserts the GraphQL-shaped error response.
func checkError(t *testing.T, rec *httptest.ResponseRecorder, status int, code, message string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type = %q", ct)
	}
	var resp struct {
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, rec.Body)
	}
	if len(resp.Errors) != 1 {
		t.Fatalf("want one error, got %s", rec.Body)
	}
	if got := resp.Errors[0].Extensions.Code; got != code {
		t.Errorf("code = %q, want %q", got, code)
	}
	if got := resp.Errors[0].Message; !strings.Contains(got, message) {
		t.Errorf("message = %q, want it to contain %q", got, message)
	}
}

type middlewareCase struct {
	name     string
	req      func(body []byte) *http.Request
	status   int
	code     string // for failures
	message  string // for failures
	operator bool   // for successes
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	rdb := testkit.Redis(t)
	cfg := adminauth.Config{OperatorSecret: "operator-" + uuid.NewString()}
	tenant, secret := uuid.NewString(), "tenant-"+uuid.NewString()
	operator := uuid.NewString()
	emptySecret := uuid.NewString()
	secrets := secretMap{tenant: secret, operator: cfg.OperatorSecret, emptySecret: ""}
	now := time.Now()

	// Each case signs a body of its own so no two share a replay key.
	cases := []middlewareCase{
		{
			name:   "valid",
			req:    func(b []byte) *http.Request { return request(tenant, sign(t, secret, 1, b, now), b) },
			status: http.StatusOK,
		},
		{
			name:     "operator",
			req:      func(b []byte) *http.Request { return request(operator, sign(t, cfg.OperatorSecret, 1, b, now), b) },
			status:   http.StatusOK,
			operator: true,
		},
		{
			name: "upper-case tenant id",
			req: func(b []byte) *http.Request {
				return request(strings.ToUpper(tenant), sign(t, secret, 1, b, now), b)
			},
			status: http.StatusOK,
		},
		{
			name: "different key order and whitespace verify (JCS)",
			req: func(b []byte) *http.Request {
				var v map[string]any
				if err := json.Unmarshal(b, &v); err != nil {
					t.Fatal(err)
				}
				sig := sign(t, secret, 1, b, now)
				reordered := fmt.Appendf(nil, "{\n  \"variables\" : %s,\n  \"operationName\": %q,\n  \"query\": %q\n}\n",
					mustJSON(t, v["variables"]), v["operationName"], v["query"])
				return request(tenant, sig, reordered)
			},
			status: http.StatusOK,
		},
		{
			// Signed with 100, sent with 1e2: one canonical form, which is
			// what the handler gets, so the request runs with 100, as signed,
			// not with the digits sent.
			name: "numbers written otherwise run as signed",
			req: func(b []byte) *http.Request {
				signed := bytes.Replace(b, []byte(`"variables":{`), []byte(`"variables":{"n":100,`), 1)
				sent := bytes.Replace(b, []byte(`"variables":{`), []byte(`"variables":{"n":1e2,`), 1)
				return request(tenant, sign(t, secret, 1, signed, now), sent)
			},
			status: http.StatusOK,
		},
		{
			name: "extra nonce part and no spaces",
			req: func(b []byte) *http.Request {
				ts, v, _ := strings.Cut(sign(t, secret, 1, b, now), ", ")
				return request(tenant, ts+",n=abc123,"+v, b)
			},
			status: http.StatusOK,
		},
		{
			name: "within TTL in the future (clock skew)",
			req: func(b []byte) *http.Request {
				return request(tenant, sign(t, secret, 1, b, now.Add(20*time.Second)), b)
			},
			status: http.StatusOK,
		},
		{
			name:    "missing tenant-id",
			req:     func(b []byte) *http.Request { return request("", sign(t, secret, 1, b, now), b) },
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "missing tenant-id header",
		},
		{
			name:    "missing signature",
			req:     func(b []byte) *http.Request { return request(tenant, "", b) },
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "missing signature header",
		},
		{
			name:    "tenant-id not a UUID",
			req:     func(b []byte) *http.Request { return request("tenant-1", sign(t, secret, 1, b, now), b) },
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "not a UUID",
		},
		{
			name:    "unknown tenant",
			req:     func(b []byte) *http.Request { return request(uuid.NewString(), sign(t, secret, 1, b, now), b) },
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "unknown tenant",
		},
		{
			name:    "tenant with empty secret",
			req:     func(b []byte) *http.Request { return request(emptySecret, sign(t, "", 1, b, now), b) },
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "unknown tenant",
		},
		{
			name:    "wrong secret",
			req:     func(b []byte) *http.Request { return request(tenant, sign(t, "not-the-secret", 1, b, now), b) },
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "signature does not match",
		},
		{
			name:    "operator secret does not sign for another tenant",
			req:     func(b []byte) *http.Request { return request(tenant, sign(t, cfg.OperatorSecret, 1, b, now), b) },
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "signature does not match",
		},
		{
			name: "tampered body",
			req: func(b []byte) *http.Request {
				sig := sign(t, secret, 1, b, now)
				return request(tenant, sig, bytes.Replace(b, []byte("Tenant"), []byte("Tenants"), 1))
			},
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "signature does not match",
		},
		{
			name: "tampered timestamp",
			req: func(b []byte) *http.Request {
				ts := now.UnixMilli()
				sig := strings.Replace(sign(t, secret, 1, b, now), fmt.Sprint(ts), fmt.Sprint(ts+1), 1)
				return request(tenant, sig, b)
			},
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "signature does not match",
		},
		{
			name: "stale timestamp",
			req: func(b []byte) *http.Request {
				return request(tenant, sign(t, secret, 1, b, now.Add(-31*time.Second)), b)
			},
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "expired",
		},
		{
			name:    "future timestamp",
			req:     func(b []byte) *http.Request { return request(tenant, sign(t, secret, 1, b, now.Add(time.Minute)), b) },
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "in the future",
		},
		{
			name:    "wrong version",
			req:     func(b []byte) *http.Request { return request(tenant, sign(t, secret, 2, b, now), b) },
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "unsupported signature version 2",
		},
		{
			name: "body not JSON",
			req: func([]byte) *http.Request {
				return request(tenant, fmt.Sprintf("t=%d, v1=%s", now.UnixMilli(), strings.Repeat("ab", 32)), []byte("query { tenant { id } }"))
			},
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "not valid JSON",
		},
		{
			name: "empty body",
			req: func([]byte) *http.Request {
				return request(tenant, fmt.Sprintf("t=%d, v1=%s", now.UnixMilli(), strings.Repeat("ab", 32)), nil)
			},
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "not valid JSON",
		},
		{
			name: "body too large",
			req: func([]byte) *http.Request {
				big := fmt.Appendf(nil, `{"query":%q}`, strings.Repeat("a", 1<<20))
				return request(tenant, sign(t, secret, 1, big, now), big)
			},
			status:  http.StatusRequestEntityTooLarge,
			code:    "BAD_USER_INPUT",
			message: "too large",
		},
	}
	malformed := []string{
		"garbage",
		",,,",
		"t=, v1=" + strings.Repeat("ab", 32),
		"t=abc, v1=" + strings.Repeat("ab", 32),
		"t=-1, v1=" + strings.Repeat("ab", 32),
		"t=+1, v1=" + strings.Repeat("ab", 32),
		"t=99999999999999999999, v1=" + strings.Repeat("ab", 32),
		fmt.Sprintf("t=%d", now.UnixMilli()),
		"v1=" + strings.Repeat("ab", 32),
		fmt.Sprintf("t=%d, v1=zz", now.UnixMilli()),
		fmt.Sprintf("t=%d, v1=abcd", now.UnixMilli()),
		fmt.Sprintf("t=%d, v1=", now.UnixMilli()),
		fmt.Sprintf("t=%d, v=%s", now.UnixMilli(), strings.Repeat("ab", 32)),
		fmt.Sprintf("t=%d, t=%d, v1=%s", now.UnixMilli(), now.UnixMilli(), strings.Repeat("ab", 32)),
		fmt.Sprintf("t=%d, v1=%s, v1=%s", now.UnixMilli(), strings.Repeat("ab", 32), strings.Repeat("cd", 32)),
	}
	for _, h := range malformed {
		cases = append(cases, middlewareCase{
			name:    "malformed " + h,
			req:     func(b []byte) *http.Request { return request(tenant, h, b) },
			status:  http.StatusUnauthorized,
			code:    "UNAUTHENTICATED",
			message: "malformed signature header",
		})
	}

	h, got := newHandler(t, cfg, secrets, rdb, slog.New(slog.NewTextHandler(t.Output(), nil)))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			*got = seen{}
			body := gqlBody(uuid.NewString())
			req := tc.req(body)
			sent, err := io.ReadAll(req.Body)
			if err != nil {
				t.Fatal(err)
			}
			req.Body = io.NopCloser(bytes.NewReader(sent))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if tc.status != http.StatusOK {
				checkError(t, rec, tc.status, tc.code, tc.message)
				if got.called {
					t.Error("handler was called for a rejected request")
				}
				return
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			if !got.hasID {
				t.Fatal("handler saw no identity")
			}
			want := adminauth.Identity{TenantID: strings.ToLower(req.Header.Get("tenant-id")), IsOperator: tc.operator}
			if got.identity != want {
				t.Errorf("identity = %+v, want %+v", got.identity, want)
			}
			// The handler runs what was signed: the body's JCS form.
			signed, err := jcs.Transform(bytes.Clone(sent))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.body, signed) {
				t.Errorf("handler body = %q, want %q", got.body, signed)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMiddlewareRejectsReplay(t *testing.T) {
	t.Parallel()
	rdb := testkit.Redis(t)
	tenant, secret := uuid.NewString(), "tenant-"+uuid.NewString()
	h, _ := newHandler(t, adminauth.Config{}, secretMap{tenant: secret}, rdb, slog.New(slog.NewTextHandler(t.Output(), nil)))
	body := gqlBody(uuid.NewString())
	sig := sign(t, secret, 1, body, time.Now())
	ts, digest, _ := strings.Cut(sig, ", v1=")
	key := "signature:{" + tenant + ":v1:" + digest + "}"
	t.Cleanup(func() { rdb.Del(context.Background(), key) })

	first := httptest.NewRecorder()
	h.ServeHTTP(first, request(tenant, sig, body))
	if first.Code != http.StatusOK {
		t.Fatalf("first request: status = %d; body %s", first.Code, first.Body)
	}
	ttl, err := rdb.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > time.Minute {
		t.Errorf("replay key %s expiry = %v, want within (0, 2×TTL]", key, ttl)
	}

	// Nothing that is not signed may turn the same signature into a fresh
	// one: not spacing, case, leading zeros in the version, nor any part
	// appended to the header, a nonce included.
	for _, replay := range []string{
		sig,
		ts + ",v1=" + digest,
		ts + ", v1=" + strings.ToUpper(digest),
		ts + ", v01=" + digest,
		sig + ", x=1",
		sig + ", n=x1",
		sig + ", n=" + uuid.NewString(),
		"n=x2, " + sig,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, request(tenant, replay, body))
		checkError(t, rec, http.StatusUnauthorized, "UNAUTHENTICATED", "already been used")
	}

	// The same body signed again, even within the same second, is a new
	// request: its timestamp is signed.
	again := sign(t, secret, 1, body, time.Now().Add(time.Millisecond))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request(tenant, again, body))
	if rec.Code != http.StatusOK {
		t.Fatalf("same body signed at another millisecond: %d %s", rec.Code, rec.Body)
	}
}

// Rafiki's clients append a nonce (n=) to the header, which tells apart
// identical bodies that concurrent clients sign in the same millisecond:
// each nonce is one use, as in Rafiki. A signature is used under a second
// nonce only within nonceReuseWindow of its timestamp, never once it was
// used without a nonce, and never again without one once used with one.
func TestNoncesTellApartTheSameSignature(t *testing.T) {
	t.Parallel()
	rdb := testkit.Redis(t)
	tenant, secret := uuid.NewString(), "tenant-"+uuid.NewString()
	h, _ := newHandler(t, adminauth.Config{}, secretMap{tenant: secret}, rdb, slog.New(slog.NewTextHandler(t.Output(), nil)))
	send := func(sig string, body []byte) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, request(tenant, sig, body))
		return rec
	}
	ok := func(rec *httptest.ResponseRecorder, what string) {
		t.Helper()
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", what, rec.Code, rec.Body)
		}
	}

	body := gqlBody(uuid.NewString())
	sig := sign(t, secret, 1, body, time.Now())
	ok(send(sig+", n="+uuid.NewString(), body), "first client")
	ok(send(sig+", n="+uuid.NewString(), body), "second client, same body and millisecond")
	nonce := uuid.NewString()
	ok(send(sig+", n="+nonce, body), "third client")
	checkError(t, send(sig+",n="+nonce, body), http.StatusUnauthorized, "UNAUTHENTICATED", "already been used")
	checkError(t, send(sig, body), http.StatusUnauthorized, "UNAUTHENTICATED", "already been used")

	// Used without a nonce first, a signature takes none after.
	bare := gqlBody(uuid.NewString())
	sig = sign(t, secret, 1, bare, time.Now())
	ok(send(sig, bare), "without a nonce")
	checkError(t, send(sig+", n="+uuid.NewString(), bare), http.StatusUnauthorized, "UNAUTHENTICATED", "already been used")

	// Signed longer ago than the window, a second nonce is a replay.
	old := gqlBody(uuid.NewString())
	sig = sign(t, secret, 1, old, time.Now().Add(-6*time.Second))
	ok(send(sig+", n="+uuid.NewString(), old), "an older signature's first use")
	checkError(t, send(sig+", n="+uuid.NewString(), old), http.StatusUnauthorized, "UNAUTHENTICATED", "already been used")
}

// A signature holds only for what it signed: its body under its tenant's
// secret, sent as a POST. Moved to another body, tenant or method, it is
// refused, and a GET cannot smuggle a query in its URL.
func TestSignatureDoesNotTravel(t *testing.T) {
	t.Parallel()
	rdb := testkit.Redis(t)
	tenant, secret := uuid.NewString(), "tenant-"+uuid.NewString()
	other, otherSecret := uuid.NewString(), "tenant-"+uuid.NewString()
	h, s := newHandler(t, adminauth.Config{}, secretMap{tenant: secret, other: otherSecret}, rdb, slog.New(slog.NewTextHandler(t.Output(), nil)))
	body := []byte(`{"query":"{ __typename }"}`)

	cases := []struct {
		name    string
		req     func(sig string) *http.Request
		status  int
		code    string
		message string
	}{
		{"another body", func(sig string) *http.Request {
			return request(tenant, sig, []byte(`{"query":"{ tenants { edges { node { id apiSecret } } } }"}`))
		}, http.StatusUnauthorized, "UNAUTHENTICATED", "does not match"},
		{"another tenant", func(sig string) *http.Request { return request(other, sig, body) },
			http.StatusUnauthorized, "UNAUTHENTICATED", "does not match"},
		{"an integer JCS would sign as its float64 neighbour", func(string) *http.Request {
			signed := []byte(`{"query":"{ __typename }","variables":{"amount":10000000000000000}}`)
			sent := []byte(`{"query":"{ __typename }","variables":{"amount":10000000000000001}}`)
			return request(tenant, sign(t, secret, 1, signed, time.Now()), sent)
		}, http.StatusUnauthorized, "UNAUTHENTICATED", "beyond 2^53"},
		{"GET with the query in the URL", func(sig string) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape("{ tenants { edges { node { id apiSecret } } } }"), bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("tenant-id", tenant)
			r.Header.Set("signature", sig)
			return r
		}, http.StatusMethodNotAllowed, "BAD_REQUEST", "only signed POST"},
		{"PUT", func(sig string) *http.Request {
			r := request(tenant, sig, body)
			r.Method = http.MethodPut
			return r
		}, http.StatusMethodNotAllowed, "BAD_REQUEST", "only signed POST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			*s = seen{}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tc.req(sign(t, secret, 1, body, time.Now())))
			checkError(t, rec, tc.status, tc.code, tc.message)
			if s.called {
				t.Fatal("the request reached the API")
			}
		})
	}
}

func TestMiddlewareOutages(t *testing.T) {
	t.Parallel()
	tenant, secret := uuid.NewString(), "tenant-"+uuid.NewString()
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { down.Close() })
	cases := []struct {
		name    string
		secrets adminauth.Secrets
		rdb     redis.UniversalClient
		logged  string
		status  int
		code    string
		message string
	}{
		{"secrets lookup fails", failingSecrets{}, testkit.Redis(t), "connection refused",
			http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "internal server error"},
		{"redis down", secretMap{tenant: secret}, down, "replay protection",
			http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "replay guard (Redis) did not answer"},
		{"secrets lookup past the deadline", slowSecrets{}, testkit.Redis(t), "deadline exceeded",
			http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "did not answer, or not in time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h, got := newHandler(t, adminauth.Config{}, tc.secrets, tc.rdb, slog.New(slog.NewTextHandler(&logs, nil)))
			body := gqlBody(uuid.NewString())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, request(tenant, sign(t, secret, 1, body, time.Now()), body))

			checkError(t, rec, tc.status, tc.code, tc.message)
			if got.called {
				t.Error("handler was called")
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), tc.logged) {
				t.Errorf("logs = %q, want an error mentioning %q", logs.String(), tc.logged)
			}
		})
	}
}

// slowSecrets fails as a lookup whose request ran out of time does.
type slowSecrets struct{}

func (slowSecrets) APISecret(context.Context, string) (string, bool, error) {
	return "", false, fmt.Errorf("acquire connection: %w", context.DeadlineExceeded)
}

func TestIdentityContext(t *testing.T) {
	if _, ok := adminauth.FromContext(context.Background()); ok {
		t.Error("empty context has an identity")
	}
	want := adminauth.Identity{TenantID: uuid.NewString(), IsOperator: true}
	if got, ok := adminauth.FromContext(adminauth.WithIdentity(context.Background(), want)); !ok || got != want {
		t.Errorf("FromContext = %+v, %v; want %+v", got, ok, want)
	}
}

func TestSign(t *testing.T) {
	at := time.UnixMilli(1700000000123)
	// Fixed vector: HMAC-SHA256("secret", `1700000000123.{"a":1,"b":[true,null]}`).
	got, err := adminauth.Sign("secret", 1, []byte(`{ "b": [true, null], "a": 1.0 }`), at)
	if err != nil {
		t.Fatal(err)
	}
	const want = "t=1700000000123, v1=3aebe045adb5f33ffb62be52b46c3159af3535e792e72ec9b00de77bf6fd7db0"
	if got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
	if _, err := adminauth.Sign("secret", 1, []byte("not json"), at); err == nil {
		t.Error("Sign accepted a body that is not JSON")
	}
	if _, err := adminauth.Sign("secret", 0, []byte(`{}`), at); err == nil {
		t.Error("Sign accepted version 0")
	}
}
