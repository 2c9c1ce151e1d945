package adminui

import (
	"testing"
	"time"
)

func TestSignInThrottle(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	th := newSignInThrottle()
	th.now = func() time.Time { return now }
	for i := range signInFailuresMax {
		if w := th.wait("a"); w != 0 {
			t.Fatalf("failure %d: wait %s before the limit", i+1, w)
		}
		th.failed("a")
	}
	if w := th.wait("a"); w != signInRefill {
		t.Fatalf("after %d failures: wait %s, want %s", signInFailuresMax, w, signInRefill)
	}
	if w := th.wait("b"); w != 0 {
		t.Fatalf("another address waits %s", w)
	}
	now = now.Add(signInRefill / 2)
	if w := th.wait("a"); w != signInRefill/2 {
		t.Fatalf("half a refill later: wait %s", w)
	}
	now = now.Add(signInRefill / 2)
	if w := th.wait("a"); w != 0 {
		t.Fatalf("a refill later: wait %s", w)
	}
	th.failed("a")
	if w := th.wait("a"); w == 0 {
		t.Fatal("a failure after the refill is not counted")
	}
	now = now.Add(time.Hour)
	for range signInFailuresMax {
		if w := th.wait("a"); w != 0 {
			t.Fatalf("an hour later: wait %s", w)
		}
		th.failed("a")
	}
	if w := th.wait("a"); w == 0 {
		t.Fatal("credit grew past the limit")
	}
}

func TestSignInThrottleIsBounded(t *testing.T) {
	th := newSignInThrottle()
	for i := range throttledClientsMax + 10 {
		th.failed(string(rune(i)) + "x")
	}
	if n := len(th.clients); n > throttledClientsMax {
		t.Fatalf("%d addresses kept", n)
	}
}
