package adminui

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// A client may fail signInFailuresMax sign-ins in a row, and one more
// every signInRefill after; past that its sign-ins are refused, with the
// right secret too, until one is due again. The form would otherwise let
// anyone try secrets as fast as the API answers (about 300 a second seen
// on two cores). Clients kept are bounded by throttledClientsMax.
const (
	signInFailuresMax   = 10
	signInRefill        = 6 * time.Second
	throttledClientsMax = 10_000
)

// signInThrottle counts failed sign-ins by client (throttleKey).
type signInThrottle struct {
	mu      sync.Mutex
	clients map[string]signInCredit
	now     func() time.Time
}

// signInCredit is how many failures a client has left, as of at.
type signInCredit struct {
	left float64
	at   time.Time
}

func newSignInThrottle() *signInThrottle {
	return &signInThrottle{clients: map[string]signInCredit{}, now: time.Now}
}

// credit is the client's credit now; the lock is held.
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

// take spends one failure of the client's credit before its sign-in is
// tried, so that guesses sent at once are counted as they are let through,
// not as their refusals come back. With no failure left it spends nothing
// and answers how long the client must wait; else 0.
func (t *signInThrottle) take(client string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.credit(client)
	if c.left < 1 {
		return time.Duration((1 - c.left) * float64(signInRefill))
	}
	c.left--
	if _, known := t.clients[client]; !known && len(t.clients) >= throttledClientsMax {
		t.makeRoom()
	}
	t.clients[client] = c
	return 0
}

// refund gives back what take spent, for a sign-in that was no failed
// guess.
func (t *signInThrottle) refund(client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, known := t.clients[client]; !known {
		return // forgotten since with full credit, which it has again
	}
	c := t.credit(client)
	c.left = min(signInFailuresMax, c.left+1)
	t.clients[client] = c
}

// makeRoom forgets the clients whose credit has refilled, whom the
// throttle no longer holds back, or else the one with most credit left, so
// that no throttled client is forgotten while a less throttled one is
// kept; the lock is held.
func (t *signInThrottle) makeRoom() {
	most, mostLeft := "", -1.0
	for client := range t.clients {
		c := t.credit(client)
		if c.left >= signInFailuresMax {
			delete(t.clients, client)
		} else if c.left > mostLeft {
			most, mostLeft = client, c.left
		}
	}
	if len(t.clients) >= throttledClientsMax {
		delete(t.clients, most)
	}
}

// throttleKey is the client a request came from, as the throttle counts
// it: an IPv4 address, or an IPv6 address's /64, all of which one host may
// hold (SLAAC, privacy addresses).
func throttleKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if addr = addr.Unmap(); addr.Is4() {
		return addr.String()
	}
	network, _ := addr.Prefix(64) // an IPv6 address has 128 bits
	return network.String()
}
