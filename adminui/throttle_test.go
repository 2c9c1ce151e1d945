package adminui

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestSignInThrottle(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	th := newSignInThrottle()
	th.now = func() time.Time { return now }
	for i := range signInFailuresMax {
		if w := th.take("a"); w != 0 {
			t.Fatalf("failure %d: wait %s before the limit", i+1, w)
		}
	}
	if w := th.take("a"); w != signInRefill {
		t.Fatalf("after %d failures: wait %s, want %s", signInFailuresMax, w, signInRefill)
	}
	if w := th.take("b"); w != 0 {
		t.Fatalf("another address waits %s", w)
	}
	now = now.Add(signInRefill / 2)
	if w := th.take("a"); w != signInRefill/2 {
		t.Fatalf("half a refill later: wait %s", w)
	}
	now = now.Add(signInRefill / 2)
	if w := th.take("a"); w != 0 {
		t.Fatalf("a refill later: wait %s", w)
	}
	if w := th.take("a"); w == 0 {
		t.Fatal("a failure after the refill is not counted")
	}
	th.refund("a")
	if w := th.take("a"); w != 0 {
		t.Fatalf("after a refund: wait %s", w)
	}
	now = now.Add(time.Hour)
	for range signInFailuresMax {
		if w := th.take("a"); w != 0 {
			t.Fatalf("an hour later: wait %s", w)
		}
	}
	if w := th.take("a"); w == 0 {
		t.Fatal("credit grew past the limit")
	}
	th.refund("c")
	if _, kept := th.clients["c"]; kept {
		t.Fatal("a refund of an address never seen is kept")
	}
}

func TestSignInThrottleIsBounded(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	th := newSignInThrottle()
	th.now = func() time.Time { return now }
	for range signInFailuresMax {
		th.take("throttled")
	}
	for i := range throttledClientsMax + 10 {
		th.take(string(rune(i)) + "x")
	}
	if n := len(th.clients); n > throttledClientsMax {
		t.Fatalf("%d addresses kept", n)
	}
	if w := th.take("throttled"); w == 0 {
		t.Fatal("a throttled address was forgotten for addresses that failed once")
	}
	// Those whose credit refilled are forgotten first, all at once.
	now = now.Add(signInRefill)
	th.take("new")
	if n := len(th.clients); n != 2 {
		t.Fatalf("%d addresses kept after the others refilled, want the throttled one and the new one", n)
	}
}

func TestThrottleKey(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.1:443":               "192.0.2.1",
		"[::ffff:192.0.2.1]:443":      "192.0.2.1",
		"[2001:db8:1:2::1]:443":       "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::9]:1000": "2001:db8:1:2::/64",
		"[2001:db8:1:3::1]:443":       "2001:db8:1:3::/64",
		"[fe80::1%eth0]:443":          "fe80::/64",
		"not an address":              "not an address",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if got := throttleKey(r); got != want {
			t.Errorf("throttleKey(%q) = %q, want %q", remote, got, want)
		}
	}
}
