package outbound

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// server is a plain-http server on loopback that counts what it answers.
type server struct {
	*httptest.Server
	hits atomic.Int32
	last atomic.Value // the request URI last seen
}

func newServer(t *testing.T, network, address string) *server {
	t.Helper()
	ln, err := net.Listen(network, address)
	if err != nil {
		t.Skipf("listen %s %s: %v", network, address, err)
	}
	s := &server{}
	s.Server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.last.Store(r.RequestURI)
		_, _ = io.WriteString(w, "ok")
	})}}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) port() string {
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	return port
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// TestUseHTTPReachesAnHTTPSURLOverHTTP: with UseHTTP a wallet's https URL
// reaches a plain-http server on the same host, port, path and query.
func TestUseHTTPReachesAnHTTPSURLOverHTTP(t *testing.T) {
	s := newServer(t, "tcp4", "127.0.0.1:0")
	c := NewClient(Options{UseHTTP: true})
	for _, host := range []string{"127.0.0.1", "localhost"} {
		body, err := get(c, "https://"+host+":"+s.port()+"/alice/jwks.json?x=1")
		if err != nil || body != "ok" {
			t.Fatalf("https://%s over http: %q, %v", host, body, err)
		}
		if got := s.last.Load(); got != "/alice/jwks.json?x=1" {
			t.Fatalf("the server saw %v", got)
		}
	}
}

// TestPlainHTTPRewrite: only https becomes http, and the caller's request is
// left as it was.
func TestPlainHTTPRewrite(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"https://wallet.example/alice", "http://wallet.example/alice"},
		{"https://wallet.example:8443/alice/jwks.json?x=1", "http://wallet.example:8443/alice/jwks.json?x=1"},
		{"http://wallet.example/alice", "http://wallet.example/alice"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			var sent string
			rt := plainHTTP{next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				sent = r.URL.String()
				return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
			})}
			req, _ := http.NewRequest(http.MethodGet, tt.url, nil)
			if _, err := rt.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
			if sent != tt.want {
				t.Fatalf("sent %s, want %s", sent, tt.want)
			}
			if req.URL.String() != tt.url {
				t.Fatalf("the caller's request changed to %s", req.URL)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestProductionRefusesLocalDestinations: without UseHTTP no request
// reaches a loopback, private, link-local, unspecified or multicast
// address, whether the URL names it or a hostname resolves to it.
func TestProductionRefusesLocalDestinations(t *testing.T) {
	s4 := newServer(t, "tcp4", "127.0.0.1:0")
	c := NewClient(Options{ConnectTimeout: time.Second, Timeout: 2 * time.Second})
	urls := []string{
		"http://127.0.0.1:" + s4.port() + "/alice",
		"http://localhost:" + s4.port() + "/alice",
		"http://0.0.0.0:" + s4.port() + "/alice",
		"http://[::ffff:127.0.0.1]:" + s4.port() + "/alice",
		"https://127.0.0.1:" + s4.port() + "/alice",
		"http://[::1]:" + s4.port() + "/alice",
		"http://10.0.0.1/alice",
		"http://172.16.0.1/alice",
		"http://192.168.1.1/alice",
		"http://169.254.169.254/latest/meta-data/",
		"http://100.100.100.200/latest/meta-data/",
		"http://[fd00::1]/alice",
		"http://[fe80::1]/alice",
		"http://224.0.0.1/alice",
	}
	for _, u := range urls {
		t.Run(u, func(t *testing.T) {
			_, err := get(c, u)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("GET %s: %v, want %v", u, err, ErrRefused)
			}
		})
	}
	if n := s4.hits.Load(); n != 0 {
		t.Fatalf("the loopback server answered %d requests", n)
	}
}

// TestUseHTTPAllowsLocalDestinations: a local stack runs on loopback and
// private addresses, so with UseHTTP they are dialed.
func TestUseHTTPAllowsLocalDestinations(t *testing.T) {
	c := NewClient(Options{UseHTTP: true, ConnectTimeout: 200 * time.Millisecond, Timeout: time.Second})
	s4 := newServer(t, "tcp4", "127.0.0.1:0")
	for _, u := range []string{"http://127.0.0.1:" + s4.port() + "/", "http://localhost:" + s4.port() + "/"} {
		if body, err := get(c, u); err != nil || body != "ok" {
			t.Fatalf("GET %s: %q, %v", u, body, err)
		}
	}
	t.Run("::1", func(t *testing.T) {
		s6 := newServer(t, "tcp6", "[::1]:0")
		if body, err := get(c, "https://[::1]:"+s6.port()+"/"); err != nil || body != "ok" {
			t.Fatalf("GET [::1]: %q, %v", body, err)
		}
	})
	// Nothing listens there; what matters is that the dial was tried.
	for _, u := range []string{"http://10.0.0.1/", "http://192.168.1.1/"} {
		if _, err := get(c, u); errors.Is(err, ErrRefused) {
			t.Fatalf("GET %s refused with UseHTTP: %v", u, err)
		}
	}
}

func TestAllowed(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1", false},
		{"127.255.0.9", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.0.1", false},
		{"169.254.169.254", false},
		{"100.100.100.200", false},
		{"0.0.0.0", false},
		{"::", false},
		{"fd00::1", false},
		{"fe80::1%eth0", false},
		{"ff02::1", false},
		{"224.0.0.251", false},
		{"255.255.255.255", false},
		{"8.8.8.8", true},
		{"172.32.0.1", true},
		{"192.169.0.1", true},
		{"100.128.0.1", true},
		{"2001:4860:4860::8888", true},
		{"::ffff:8.8.8.8", true},
	}
	for _, tt := range tests {
		if got := allowed(netip.MustParseAddr(tt.addr)); got != tt.ok {
			t.Errorf("allowed(%s) = %v, want %v", tt.addr, got, tt.ok)
		}
	}
}

// TestTimeoutBoundsARequest: a server that never answers costs Timeout.
func TestTimeoutBoundsARequest(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handler
	c := NewClient(Options{UseHTTP: true, Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := get(c, srv.URL)
	var ue *url.Error
	if !errors.As(err, &ue) || !ue.Timeout() {
		t.Fatalf("GET a silent server: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("GET a silent server took %v", d)
	}
}
