package httpsig

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// memoryGuard is a ReplayGuard for tests that need no Redis.
type memoryGuard struct {
	mu   sync.Mutex
	seen map[string]time.Time
	err  error
}

func (g *memoryGuard) Use(_ context.Context, key string, now time.Time, _ time.Duration) (time.Time, bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return time.Time{}, false, g.err
	}
	if g.seen == nil {
		g.seen = map[string]time.Time{}
	}
	if first, ok := g.seen[key]; ok {
		return first, false, nil
	}
	g.seen[key] = now
	return now, true, nil
}

// received turns a client request into the request a server reads from the
// wire: origin-form target, Host header, no scheme, TLS state for https.
func received(t testing.TB, client *http.Request, body []byte) *http.Request {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", client.Method, client.URL.RequestURI(), client.URL.Host)
	for name, vs := range client.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	b.WriteString("\r\n")
	b.Write(body)
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		t.Fatalf("reading request: %v", err)
	}
	if client.URL.Scheme == "https" {
		req.TLS = &tls.ConnectionState{}
	}
	return req
}

// newClientRequest builds a client request with the given headers.
func newClientRequest(t testing.TB, method, target string, headers map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req
}

// signCustom signs req with the components and parameters given, as a
// client other than the reference one might; the headers the components
// name must be set already.
func signCustom(t *testing.T, req *http.Request, key ed25519.PrivateKey, components []string, params []sfParam) {
	t.Helper()
	serialized := sfInnerList{items: components, params: params}.serialize()
	base, err := signatureBase(req, nil, components, serialized)
	if err != nil {
		t.Fatalf("signature base: %v", err)
	}
	req.Header.Set("Signature-Input", "sig1="+serialized)
	req.Header.Set("Signature", "sig1=:"+b64(ed25519.Sign(key, []byte(base)))+":")
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
