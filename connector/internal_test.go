package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/peers"
)

// TestRequestTo: packets to a peer share its request template until the
// peer's endpoint or outgoing token changes.
func TestRequestTo(t *testing.T) {
	c := New(Config{RatePerMinute: 1}, peers.NewTable(), nil, nil, http.DefaultClient, slog.New(slog.DiscardHandler))
	peer := peers.Peer{ID: "p", OutgoingEndpoint: "http://b.example:/ilp", OutgoingToken: "t1"}
	first, err := c.requestTo(peer)
	if err != nil {
		t.Fatal(err)
	}
	if first.URL.String() != "http://b.example/ilp" || first.Host != "b.example" || first.Method != http.MethodPost ||
		first.Header.Get("Authorization") != "Bearer t1" || first.Header.Get("Content-Type") != ContentType {
		t.Fatalf("template %s %s host %q headers %v", first.Method, first.URL, first.Host, first.Header)
	}
	if again, _ := c.requestTo(peer); again != first {
		t.Fatal("the template was made again for the same peer")
	}
	for _, c2 := range []struct {
		name   string
		change func(p *peers.Peer)
		check  func(r *http.Request) bool
	}{
		{"new token", func(p *peers.Peer) { p.OutgoingToken = "t2" }, func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer t2" }},
		{"new endpoint", func(p *peers.Peer) { p.OutgoingEndpoint = "http://c.example/ilp" }, func(r *http.Request) bool { return r.URL.Host == "c.example" }},
	} {
		t.Run(c2.name, func(t *testing.T) {
			before, _ := c.requestTo(peer)
			c2.change(&peer)
			after, err := c.requestTo(peer)
			if err != nil || after == before || !c2.check(after) {
				t.Fatalf("template %s %v after the change: %v", after.URL, after.Header, err)
			}
		})
	}
	if _, err := c.requestTo(peers.Peer{ID: "q", OutgoingEndpoint: "http://b.example/\x7f"}); err == nil {
		t.Fatal("an endpoint that is not a URL made a template")
	}
}

// TestReadAll: readAll reads what io.ReadAll of an io.LimitReader reads,
// into a buffer of any size, whatever it held.
func TestReadAll(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 300)
	failure := errors.New("connection reset")
	for _, c := range []struct {
		name string
		r    func() io.Reader
		max  int
		buf  []byte
	}{
		{"all of it", func() io.Reader { return bytes.NewReader(data) }, math.MaxInt, nil},
		{"into a buffer too small", func() io.Reader { return bytes.NewReader(data) }, math.MaxInt, []byte("old contents")[:3]},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) }, math.MaxInt, make([]byte, 0, 1024)},
		{"cut at max", func() io.Reader { return bytes.NewReader(data) }, 1000, make([]byte, 0, 1024)},
		{"max past a buffer's end", func() io.Reader { return bytes.NewReader(data) }, 1500, make([]byte, 0, 1024)},
		{"nothing", func() io.Reader { return bytes.NewReader(nil) }, math.MaxInt, make([]byte, 0, 8)},
		{"an error", func() io.Reader { return io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(failure)) }, math.MaxInt, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, wantErr := io.ReadAll(io.LimitReader(c.r(), int64(min(c.max, math.MaxInt64))))
			got, err := readAll(c.r(), c.buf, c.max)
			if !bytes.Equal(got, want) || !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
				t.Fatalf("read %d bytes, %v; want %d, %v", len(got), err, len(want), wantErr)
			}
		})
	}
}

// TestRejectLogsFaultsOnly: a packet that failed here is logged as an
// error; one its sender stopped waiting for (a cancelled context, as a rate
// probe cancels the packets it no longer needs) is not. Both are T00.
func TestRejectLogsFaultsOnly(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		logged bool
	}{
		{"failed", errors.New("ledger down"), true},
		{"abandoned", fmt.Errorf("send to peer p: %w", context.Canceled), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			conn := New(Config{ILPAddress: "test.here"}, peers.NewTable(), nil, nil, http.DefaultClient,
				slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})))
			reject := conn.reject("p", ilp.Prepare{Destination: "test.there.x"}, c.err)
			if reject.Code != ilp.CodeInternalError || reject.TriggeredBy != "test.here" {
				t.Fatalf("reject %+v", reject)
			}
			if logged := strings.Contains(out.String(), "level=ERROR"); logged != c.logged {
				t.Fatalf("logged %q, want an error logged: %v", out.String(), c.logged)
			}
		})
	}
}

// TestHoldOutlivesThePacketSentOn: a packet's money stays held until the
// packet sent on has expired, and a second more for its settlement, never
// less than the two-phase timeout; a packet with too little life left is
// refused before anything is held.
func TestHoldOutlivesThePacketSentOn(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name    string
		arrived time.Duration // the expiry it arrived with, from now
		expires time.Duration // the expiry it leaves with
		holdFor time.Duration
		refused bool
	}{
		{"a long-lived packet", time.Minute, expiryWindowMax, expiryWindowMax + expiryMarginMin, false},
		{"twenty seconds to live", 20 * time.Second, 19 * time.Second, 20 * time.Second, false},
		{"a short-lived packet", 3 * time.Second, 2 * time.Second, twoPhaseTimeout, false},
		{"too little left", 1500 * time.Millisecond, 0, 0, true},
		{"expired", -time.Second, 0, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			expires, err := outgoingExpiry(now, now.Add(c.arrived))
			if c.refused {
				var ie *ilpError
				if !errors.As(err, &ie) || ie.code != ilp.CodeInsufficientTimeout {
					t.Fatalf("got %v, want R02", err)
				}
				return
			}
			if err != nil || !expires.Equal(now.Add(c.expires)) {
				t.Fatalf("leaves expiring %s (%v), want %s", expires.Sub(now), err, c.expires)
			}
			if got := holdTimeout(now, expires); got != c.holdFor {
				t.Fatalf("held %s, want %s", got, c.holdFor)
			}
		})
	}
}
