package httpsig

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/testkit"
)

var testNow = time.Unix(1800000000, 0)

func testKey(t testing.TB, seedByte byte, kid string) (ed25519.PrivateKey, JWK) {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = seedByte
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return priv, JWK{KID: kid, Alg: "EdDSA", Kty: "OKP", Crv: "Ed25519",
		X: base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))}
}

const (
	testURL  = "https://wallet.example/alice/incoming-payments?x=1"
	testBody = `{"walletAddress":"https://wallet.example/alice","incomingAmount":{"value":"1","assetCode":"USD","assetScale":2}}`
)

// TestVerifyRefusals is the table of requests Verify refuses, each with the
// reason it must give; the first rows are requests it must accept.
func TestVerifyRefusals(t *testing.T) {
	key, jwk := testKey(t, 7, "k1")
	_, otherJWK := testKey(t, 8, "k1")

	type setup struct {
		req   *http.Request // as received
		body  []byte
		keys  KeySource
		opts  Options
		twice bool          // verify twice, judge the second
		later time.Duration // how long after the first the second comes
	}
	// signed is a POST with Authorization and a body, signed at created.
	signed := func(t *testing.T, created time.Time, edit func(client *http.Request) []byte) *setup {
		client := newClientRequest(t, http.MethodPost, testURL, map[string]string{"Authorization": "GNAP tok"})
		body := []byte(testBody)
		if err := Sign(client, body, key, "k1", created); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			body = edit(client)
		}
		return &setup{req: received(t, client, body), body: body, keys: InlineKey(jwk),
			opts: Options{Replay: &memoryGuard{}, Now: func() time.Time { return testNow }}}
	}
	custom := func(t *testing.T, method string, headers map[string]string, body string, components []string, params []sfParam) *setup {
		client := newClientRequest(t, method, testURL, headers)
		signCustom(t, client, key, components, params)
		return &setup{req: received(t, client, []byte(body)), body: []byte(body), keys: InlineKey(jwk),
			opts: Options{Replay: &memoryGuard{}, Now: func() time.Time { return testNow }}}
	}
	// overHTTP is signed by a client that requested the https public URL
	// over plain http (USE_HTTP, useHttp), as it reached the server.
	overHTTP := func(t *testing.T) *setup {
		client := newClientRequest(t, http.MethodPost, strings.Replace(testURL, "https:", "http:", 1), map[string]string{"Authorization": "GNAP tok"})
		if err := Sign(client, []byte(testBody), key, "k1", testNow); err != nil {
			t.Fatal(err)
		}
		s := &setup{req: received(t, client, []byte(testBody)), body: []byte(testBody), keys: InlineKey(jwk),
			opts: Options{Replay: &memoryGuard{}, Now: func() time.Time { return testNow }}}
		s.req.TLS = nil
		s.opts.PublicBaseURL = mustURL(t, "https://wallet.example")
		return s
	}
	std := []sfParam{{key: "keyid", str: "k1"}, {key: "created", num: testNow.Unix(), isInt: true}}
	sha256Digest := func() string { s := sha256.Sum256([]byte(testBody)); return "sha-256=:" + b64(s[:]) + ":" }
	sha512Digest := func(body string) string { s := sha512.Sum512([]byte(body)); return "sha-512=:" + b64(s[:]) + ":" }
	bodyHeaders := func(digest string) map[string]string {
		return map[string]string{"Authorization": "GNAP tok", "Content-Digest": digest,
			"Content-Length": strconv.Itoa(len(testBody)), "Content-Type": "application/json"}
	}

	tests := []struct {
		name  string
		setup func(t *testing.T) *setup
		want  Reason // "" means accepted
	}{
		{"signed now", func(t *testing.T) *setup { return signed(t, testNow, nil) }, ""},
		{"created at the edge of the window", func(t *testing.T) *setup { return signed(t, testNow.Add(-5*time.Minute), nil) }, ""},
		{"created within the skew", func(t *testing.T) *setup { return signed(t, testNow.Add(30*time.Second), nil) }, ""},
		{"sha-256 digest, components in another order, more parameters", func(t *testing.T) *setup {
			return custom(t, http.MethodPost, bodyHeaders(sha256Digest()), testBody,
				[]string{"content-type", "@target-uri", "content-digest", "authorization", "content-length", "@method"},
				[]sfParam{{key: "created", num: testNow.Unix(), isInt: true}, {key: "keyid", str: "k1"},
					{key: "alg", str: "ed25519"}, {key: "nonce", str: "n"}, {key: "expires", num: testNow.Unix() + 60, isInt: true}})
		}, ""},
		{"both digests", func(t *testing.T) *setup {
			return custom(t, http.MethodPost, bodyHeaders(sha256Digest()+", "+sha512Digest(testBody)), testBody,
				[]string{"@method", "@target-uri", "authorization", "content-digest", "content-length", "content-type"}, std)
		}, ""},
		{"behind a proxy, with the public base URL", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			s.req.Host, s.req.TLS = "backend:3000", nil
			s.opts.PublicBaseURL = mustURL(t, "https://wallet.example")
			return s
		}, ""},

		{"signed over http for an https public URL, with AlsoHTTP", func(t *testing.T) *setup {
			s := overHTTP(t)
			s.opts.AlsoHTTP = true
			return s
		}, ""},
		{"signed over http for an https public URL, without AlsoHTTP", overHTTP, ReasonBadSignature},
		{"behind a proxy, without the public base URL", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			s.req.Host, s.req.TLS = "backend:3000", nil
			return s
		}, ReasonBadSignature},
		{"wrong key", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			s.keys = InlineKey(otherJWK)
			return s
		}, ReasonBadSignature},
		{"altered body", func(t *testing.T) *setup {
			return signed(t, testNow, func(*http.Request) []byte { return []byte(strings.Replace(testBody, `"1"`, `"9"`, 1)) })
		}, ReasonBadDigest},
		{"altered body with its digest", func(t *testing.T) *setup {
			altered := strings.Replace(testBody, `"1"`, `"9"`, 1)
			return signed(t, testNow, func(c *http.Request) []byte {
				c.Header.Set("Content-Digest", sha512Digest(altered))
				return []byte(altered)
			})
		}, ReasonBadSignature},
		{"altered digest", func(t *testing.T) *setup {
			return signed(t, testNow, func(c *http.Request) []byte {
				c.Header.Set("Content-Digest", sha512Digest("{}"))
				return []byte(testBody)
			})
		}, ReasonBadDigest},
		{"unknown digest algorithm", func(t *testing.T) *setup {
			return signed(t, testNow, func(c *http.Request) []byte {
				c.Header.Set("Content-Digest", c.Header.Get("Content-Digest")+", md5=:AAAA:")
				return []byte(testBody)
			})
		}, ReasonBadDigest},
		{"content-length not the body's", func(t *testing.T) *setup {
			return signed(t, testNow, func(*http.Request) []byte { return []byte(testBody + " ") })
		}, ReasonBadContentLength},
		{"authorization not covered", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			client := newClientRequest(t, http.MethodPost, testURL, nil)
			if err := Sign(client, s.body, key, "k1", testNow); err != nil {
				t.Fatal(err)
			}
			client.Header.Set("Authorization", "GNAP tok")
			s.req = received(t, client, s.body)
			return s
		}, ReasonMissingComponent},
		{"body not covered", func(t *testing.T) *setup {
			client := newClientRequest(t, http.MethodPost, testURL, map[string]string{"Authorization": "GNAP tok"})
			if err := Sign(client, nil, key, "k1", testNow); err != nil {
				t.Fatal(err)
			}
			s := signed(t, testNow, nil)
			s.req = received(t, client, s.body)
			return s
		}, ReasonMissingComponent},
		{"@target-uri not covered", func(t *testing.T) *setup {
			return custom(t, http.MethodGet, map[string]string{"Authorization": "GNAP tok"}, "", []string{"@method", "authorization"}, std)
		}, ReasonMissingComponent},
		{"only some body components", func(t *testing.T) *setup {
			return custom(t, http.MethodPost, bodyHeaders(sha512Digest(testBody)), testBody,
				[]string{"@method", "@target-uri", "authorization", "content-digest"}, std)
		}, ReasonMissingComponent},
		{"component the profile does not know", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			s.req.Header.Set("Signature-Input", `sig1=("@method" "@target-uri" "@authority" "authorization" "content-digest" "content-length" "content-type");keyid="k1";created=`+strconv.FormatInt(testNow.Unix(), 10))
			return s
		}, ReasonUnsupportedComponent},
		{"component with parameters", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			s.req.Header.Set("Signature-Input", strings.Replace(s.req.Header.Get("Signature-Input"), `"content-digest"`, `"content-digest";sf`, 1))
			return s
		}, ReasonMalformed},
		{"component covered twice", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			s.req.Header.Set("Signature-Input", strings.Replace(s.req.Header.Get("Signature-Input"), `"@method"`, `"@method" "@method"`, 1))
			return s
		}, ReasonMalformed},
		{"wrong label", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			for _, h := range []string{"Signature-Input", "Signature"} {
				s.req.Header.Set(h, strings.Replace(s.req.Header.Get(h), "sig1=", "sig2=", 1))
			}
			return s
		}, ReasonWrongLabel},
		{"two signatures", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			for _, h := range []string{"Signature-Input", "Signature"} {
				v := s.req.Header.Get(h)
				s.req.Header.Set(h, v+", "+strings.Replace(v, "sig1=", "sig2=", 1))
			}
			return s
		}, ReasonMalformed},
		{"no signature", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			s.req.Header.Del("Signature")
			return s
		}, ReasonMalformed},
		{"unknown parameter", func(t *testing.T) *setup {
			return custom(t, http.MethodGet, nil, "", []string{"@method", "@target-uri"}, append(std, sfParam{key: "foo", str: "x"}))
		}, ReasonUnsupportedParameter},
		{"another algorithm", func(t *testing.T) *setup {
			return custom(t, http.MethodGet, nil, "", []string{"@method", "@target-uri"}, append(std, sfParam{key: "alg", str: "rsa-pss-sha512"}))
		}, ReasonUnsupportedParameter},
		{"no created", func(t *testing.T) *setup {
			return custom(t, http.MethodGet, nil, "", []string{"@method", "@target-uri"}, std[:1])
		}, ReasonMalformed},
		{"created too old", func(t *testing.T) *setup { return signed(t, testNow.Add(-5*time.Minute-time.Second), nil) }, ReasonExpired},
		{"created in the future", func(t *testing.T) *setup { return signed(t, testNow.Add(31*time.Second), nil) }, ReasonFuture},
		{"expired", func(t *testing.T) *setup {
			return custom(t, http.MethodGet, nil, "", []string{"@method", "@target-uri"}, append(std, sfParam{key: "expires", num: testNow.Unix() - 1, isInt: true}))
		}, ReasonExpired},
		{"repeated without a nonce within the second it was made in", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			s.twice, s.later = true, time.Second
			return s
		}, ""},
		{"replayed without a nonce", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			s.twice, s.later = true, RepeatGrace+time.Millisecond
			return s
		}, ReasonReplayed},
		{"replayed with a nonce", func(t *testing.T) *setup {
			s := custom(t, http.MethodGet, nil, "", []string{"@method", "@target-uri"}, append(std, sfParam{key: "nonce", str: "n1"}))
			s.twice = true
			return s
		}, ReasonReplayed},
		{"unknown kid", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			other := jwk
			other.KID = "k2"
			s.keys = InlineKey(other)
			return s
		}, ReasonUnknownKey},
		{"not an Ed25519 key", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			bad := jwk
			bad.Crv = "X25519"
			s.keys = InlineKey(bad)
			return s
		}, ReasonBadKey},
		{"authorization sent twice", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			s.req.Header.Add("Authorization", "GNAP other")
			return s
		}, ReasonMalformed},
		{"replay guard down", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			s.opts.Replay = &memoryGuard{err: errors.New("connection refused")}
			return s
		}, ReasonReplayGuardUnavailable},
		{"no replay guard", func(t *testing.T) *setup {
			s := signed(t, testNow, nil)
			s.opts.Replay = nil
			return s
		}, ReasonReplayGuardUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.setup(t)
			_, err := Verify(s.req, s.body, s.keys, s.opts)
			if s.twice {
				if err != nil {
					t.Fatalf("first verification: %v", err)
				}
				first := s.opts.Now
				s.opts.Now = func() time.Time { return first().Add(s.later) }
				_, err = Verify(s.req, s.body, s.keys, s.opts)
			}
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tt.want)
			}
			if err == nil {
				return
			}
			wantKind := apperr.Unauthenticated
			if tt.want == ReasonReplayGuardUnavailable {
				wantKind = apperr.Unavailable
			}
			if k := apperr.KindOf(err); k != wantKind {
				t.Fatalf("kind %s, want %s", k, wantKind)
			}
		})
	}
}

// TestRedisReplayGuard holds the replay guard to the real Redis: a
// signature is recorded with the window and skew as its TTL, taken again
// within RepeatGrace of its first use and refused after, and a Redis that
// does not answer refuses the request instead of letting it through.
func TestRedisReplayGuard(t *testing.T) {
	key, jwk := testKey(t, 7, "k1")
	rdb := testkit.Redis(t)
	prefix := "test:httpsig:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	now := time.Now()
	opts := Options{Replay: RedisReplayGuard{Redis: rdb, Prefix: prefix}, Window: time.Minute, Skew: 10 * time.Second,
		Now: func() time.Time { return now }}
	client := newClientRequest(t, http.MethodGet, testURL, map[string]string{"Authorization": "GNAP tok"})
	if err := Sign(client, nil, key, "k1", now); err != nil {
		t.Fatal(err)
	}
	req := received(t, client, nil)
	if _, err := Verify(req, nil, InlineKey(jwk), opts); err != nil {
		t.Fatalf("first use: %v", err)
	}
	now = now.Add(RepeatGrace - time.Millisecond)
	if _, err := Verify(req, nil, InlineKey(jwk), opts); err != nil {
		t.Fatalf("a repeat within the grace: %v", err)
	}
	now = now.Add(2 * time.Millisecond)
	if _, err := Verify(req, nil, InlineKey(jwk), opts); ReasonOf(err) != ReasonReplayed {
		t.Fatalf("a use after the grace: %v, want %s", err, ReasonReplayed)
	}
	keys, err := rdb.Keys(context.Background(), prefix+"*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	ttl, err := rdb.TTL(context.Background(), keys[0]).Result()
	if err != nil || ttl <= time.Minute || ttl > 70*time.Second {
		t.Fatalf("TTL %s, %v; want window plus skew", ttl, err)
	}

	closed := testkit.Redis(t)
	closed.Close()
	client = newClientRequest(t, http.MethodGet, testURL, map[string]string{"Authorization": "GNAP tok"})
	if err := Sign(client, nil, key, "k1", time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(received(t, client, nil), nil, InlineKey(jwk), Options{Replay: RedisReplayGuard{Redis: closed, Prefix: prefix}})
	if ReasonOf(err) != ReasonReplayGuardUnavailable || apperr.KindOf(err) != apperr.Unavailable {
		t.Fatalf("Redis closed: %v (kind %s), want %s", err, apperr.KindOf(err), ReasonReplayGuardUnavailable)
	}
}

// TestVerifyOverHTTP sends requests signed by Sign through a real client
// and server: what net/http puts on the wire and hands the handler
// verifies, and a request without a body is not sent chunked.
func TestVerifyOverHTTP(t *testing.T) {
	key, jwk := testKey(t, 7, "k1")
	guard := &memoryGuard{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			t.Error(err)
		}
		if len(r.TransferEncoding) > 0 || r.ContentLength != int64(len(body)) {
			t.Errorf("%s arrived with transfer encoding %v, length %d", r.Method, r.TransferEncoding, r.ContentLength)
		}
		if _, err := Verify(r, body, InlineKey(jwk), Options{Replay: guard}); err != nil {
			http.Error(w, string(ReasonOf(err)), http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/alice/incoming-payments", testBody},
		{http.MethodGet, "/alice/incoming-payments?first=10&cursor=a%2Fb", ""},
		{http.MethodDelete, "/token/abc", ""},
		{http.MethodPost, "/token/abc", ""},
	} {
		req := newClientRequest(t, c.method, srv.URL+c.path, map[string]string{"Authorization": "GNAP tok"})
		if err := Sign(req, []byte(c.body), key, "k1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, msg)
		}
	}
}
