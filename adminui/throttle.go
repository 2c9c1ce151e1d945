package adminui

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// A client address may fail signInFailuresMax sign-ins in a row, and one
// more every signInRefill after; past that its sign-ins are refused, with
// the right secret too, until one is due again. The form would otherwise
// let anyone try secrets as fast as the API answers (about 300 a second
// seen on two cores). Addresses kept are bounded by throttledClientsMax.
const (
	signInFailuresMax   = 10
	signInRefill        = 6 * time.Second
	throttledClientsMax = 10_000
)

// signInThrottle counts failed sign-ins by client address.
type signInThrottle struct {
	mu      sync.Mutex
	clients map[string]signInCredit
	now     func() time.Time
}

// signInCredit is how many failures an address has left, as of at.
type signInCredit struct {
	left float64
	at   time.Time
}

func newSignInThrottle() *signInThrottle {
	return &signInThrottle{clients: map[string]signInCredit{}, now: time.Now}
}

// credit is the address's credit now; the lock is held.
func (t *signInThrottle) credit(client string) signInCredit {
	now := t.now()
	c, ok := t.clients[client]
	if !ok {
		return signInCredit{left: signInFailuresMax, at: now}
	}
	c.left = min(signInFailuresMax, c.left+float64(now.Sub(c.at))/float64(signInRefill))
	c.at = now
	return c
}

// wait is how long the address must wait before it may sign in; 0 when it
// may now.
func (t *signInThrottle) wait(client string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.credit(client)
	if c.left >= 1 {
		return 0
	}
	return time.Duration((1 - c.left) * float64(signInRefill))
}

// failed counts a failed sign-in of the address.
func (t *signInThrottle) failed(client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.credit(client)
	c.left = max(0, c.left-1)
	if _, known := t.clients[client]; !known && len(t.clients) >= throttledClientsMax {
		clear(t.clients)
	}
	t.clients[client] = c
}

// clientAddress is the address a request came from, without its port.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
