// Package outbound makes the HTTP client for every request to another
// wallet's URL: a client's wallet address and its jwks.json now, Open
// Payments calls to other instances later. Those URLs come from whoever sends
// a request, so the client is the server's exposure to server-side request
// forgery and is built in one place.
//
// Rafiki's identifiers are https URLs, and outside production Rafiki (auth
// and backend, NODE_ENV=development) calls them over plain http so that local
// stacks without certificates can be clients of each other. Options.UseHTTP
// does the same (config.UseHTTP, USE_HTTP). It also lets requests reach
// loopback and private addresses, where such stacks run; without it a dial to
// any address in refusedPrefixes fails with ErrRefused. The check runs on the
// address being dialed, after DNS resolution and on every redirect, so a
// hostname that resolves (or later rebinds) to 127.0.0.1 or the cloud
// metadata address is refused as the literal would be.
//
// The client ignores HTTP_PROXY and HTTPS_PROXY: through a proxy the dialed
// address would be the proxy's, and the check would see nothing else.
// Bounding response bodies is the caller's job.
package outbound

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrRefused is the cause of a request whose destination address may not be
// reached.
var ErrRefused = errors.New("outbound: destination address refused")

// Options configures NewClient.
type Options struct {
	// UseHTTP sends requests for https URLs over http to the same host, port
	// and path, and allows loopback and private destinations. Never in
	// production.
	UseHTTP bool
	// ConnectTimeout bounds a connection's dial and TLS handshake. Default 5 s.
	ConnectTimeout time.Duration
	// Timeout bounds a request from dial to the end of its body, redirects
	// included. Default 10 s.
	Timeout time.Duration
}

const (
	connectTimeoutDefault = 5 * time.Second
	timeoutDefault        = 10 * time.Second
	redirectsMax          = 5
)

// NewClient is the client for requests to other wallets' URLs.
func NewClient(opts Options) *http.Client {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = connectTimeoutDefault
	}
	if opts.Timeout <= 0 {
		opts.Timeout = timeoutDefault
	}
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout}
	if !opts.UseHTTP {
		dialer.Control = refuseLocal
	}
	var rt http.RoundTripper = &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if opts.UseHTTP {
		rt = plainHTTP{next: rt}
	}
	return &http.Client{
		Transport: rt,
		Timeout:   opts.Timeout,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= redirectsMax {
				return fmt.Errorf("outbound: more than %d redirects", redirectsMax)
			}
			return nil
		},
	}
}

// plainHTTP sends https requests over http, as Rafiki's clients do outside
// production.
type plainHTTP struct{ next http.RoundTripper }

func (t plainHTTP) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return t.next.RoundTrip(req)
	}
	// A RoundTripper must not change the request it is given.
	r := req.Clone(req.Context())
	r.URL.Scheme = "http"
	return t.next.RoundTrip(r)
}

// refusedPrefixes are the destinations a production server has no business
// calling on a client's say-so: its own host, its private network and the
// cloud metadata service among them.
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network", 0.0.0.0 reaches the host itself
	netip.MustParsePrefix("10.0.0.0/8"),     // RFC 1918
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT; some clouds' metadata services
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback
	netip.MustParsePrefix("169.254.0.0/16"), // link-local, the cloud metadata service
	netip.MustParsePrefix("172.16.0.0/12"),  // RFC 1918
	netip.MustParsePrefix("192.168.0.0/16"), // RFC 1918
	netip.MustParsePrefix("224.0.0.0/4"),    // multicast
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("::/128"),         // unspecified
	netip.MustParsePrefix("::1/128"),        // loopback
	netip.MustParsePrefix("fc00::/7"),       // unique local
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("ff00::/8"),       // multicast
}

// refuseLocal is a net.Dialer Control: it sees the resolved address of each
// connection before it is made.
func refuseLocal(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q is not an IP address and port", ErrRefused, address)
	}
	if !allowed(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrRefused, ap.Addr())
	}
	return nil
}

func allowed(addr netip.Addr) bool {
	// ::ffff:127.0.0.1 is 127.0.0.1, and a prefix never contains an
	// address with a zone.
	addr = addr.Unmap().WithZone("")
	for _, p := range refusedPrefixes {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}
