package testkit

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
)

// Ports for servers a test starts come from below the kernel's ephemeral
// range: a port the kernel gave a listener on port 0 and took back can be
// given next to any outgoing connection of any process (to Postgres, to
// Redis) before the server binds it, and test binaries run side by side
// make many. Ports under the range are only ever taken by a bind naming
// them.
const (
	portLowest        = 10_000
	ephemeralFallback = 32_768 // Linux's default start of the range
	portAttemptsEach  = 50
)

var (
	portsMu   sync.Mutex
	handedOut = map[int]bool{}
)

// FreePorts answers n distinct ports on 127.0.0.1 that nobody listens on
// now, never one this test binary handed out before (two installations
// configured before either starts would otherwise share one).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	highest := ephemeralStart() - 1
	var ports []int
	for attempts := 0; len(ports) < n; attempts++ {
		if attempts >= n*portAttemptsEach {
			t.Fatalf("no %d free ports in %d attempts", n, attempts)
		}
		port := portLowest + rand.IntN(highest-portLowest+1)
		if handedOut[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken
		}
		_ = ln.Close()
		handedOut[port] = true
		ports = append(ports, port)
	}
	return ports
}

// FreePort is FreePorts for one port.
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePorts(t, 1)[0]
}

// ephemeralStart is the first port of the kernel's ephemeral range.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return ephemeralFallback
	}
	var low, high int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &low, &high); err != nil || low <= portLowest+1000 {
		return ephemeralFallback
	}
	return low
}
