package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/stream"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/testkit"
)

// cxFixture is one instance whose connector a test attacks over
// ILP-over-HTTP, as a peer would reach it.
type cxFixture struct {
	s      *system
	url    string
	client *http.Client
}

func newCX(t *testing.T, configure ...func(*config.Config)) *cxFixture {
	t.Helper()
	s := startSystem(t, false, configure...)
	url, err := s.running.URL(app.ConnectorListener)
	if err != nil {
		t.Fatal(err)
	}
	// Many packets at once from one peer: keep the connections open
	// rather than dialling one per packet.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 128
	t.Cleanup(transport.CloseIdleConnections)
	return &cxFixture{s: s, url: url, client: &http.Client{Transport: transport, Timeout: 30 * time.Second}}
}

// cxPeer is a peer to create: its incoming token is what the attacker
// presents.
type cxPeer struct {
	address, token, liquidity string
	endpoint                  string // where packets to it go; unused when empty
	maxPacket, threshold      string
}

func (f *cxFixture) createPeer(t *testing.T, c *adminclient.Client, assetID string, p cxPeer) string {
	t.Helper()
	endpoint := p.endpoint
	if endpoint == "" {
		endpoint = "http://127.0.0.1:9/unused"
	}
	input := map[string]any{"assetId": assetID, "staticIlpAddress": p.address,
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{p.token}},
			"outgoing": map[string]any{"authToken": "to-" + p.token, "endpoint": endpoint}}}
	if p.liquidity != "" {
		input["initialLiquidity"] = p.liquidity
	}
	if p.maxPacket != "" {
		input["maxPacketAmount"] = p.maxPacket
	}
	if p.threshold != "" {
		input["liquidityThreshold"] = p.threshold
	}
	var out struct {
		CreatePeer struct{ Peer struct{ ID string } } `json:"createPeer"`
	}
	if err := c.Do(context.Background(), `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`,
		map[string]any{"input": input}, &out); err != nil {
		t.Fatalf("peer %s: %v", p.address, err)
	}
	// The connector learns of a peer from its events, a moment later.
	testkit.Eventually(t, 10*time.Second, func() bool { return f.status(t, p.token) != http.StatusUnauthorized },
		"the connector does not know peer %s", p.address)
	return out.CreatePeer.Peer.ID
}

// status is the HTTP status a harmless packet (to no route) gets with the
// token: 401 while the connector does not know it.
func (f *cxFixture) status(t *testing.T, token string) int {
	t.Helper()
	body, _ := ilp.EncodePrepare(ilp.Prepare{ExpiresAt: time.Now().Add(10 * time.Second).Truncate(time.Millisecond), Destination: "test.cx-nowhere"})
	status, _ := f.post(t, cxHeader("Bearer "+token, connector.ContentType), body)
	return status
}

func cxHeader(authorization, contentType string) http.Header {
	h := http.Header{}
	if authorization != "" {
		h.Set("Authorization", authorization)
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return h
}

// post sends a raw request and answers the status and body; a 5xx fails
// the test, as the connector answers every packet with an ILP reply.
func (f *cxFixture) post(t *testing.T, header http.Header, body []byte) (int, []byte) {
	t.Helper()
	status, raw, err := f.postErr(http.MethodPost, header, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, raw
}

func (f *cxFixture) postErr(method string, header http.Header, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, f.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = header
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		return resp.StatusCode, raw, fmt.Errorf("the connector answered %d: %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, raw, err
}

// sendErr sends a Prepare as the peer holding token and decodes the reply.
func (f *cxFixture) sendErr(token string, p ilp.Prepare) (ilp.Packet, error) {
	body, err := ilp.EncodePrepare(p)
	if err != nil {
		return nil, err
	}
	status, raw, err := f.postErr(http.MethodPost, cxHeader("Bearer "+token, connector.ContentType), body)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("the connector answered %d: %q", status, raw)
	}
	return ilp.DecodeAny(raw)
}

func (f *cxFixture) send(t *testing.T, token string, p ilp.Prepare) ilp.Packet {
	t.Helper()
	reply, err := f.sendErr(token, p)
	if err != nil {
		t.Fatalf("packet to %s: %v", p.Destination, err)
	}
	return reply
}

// cxCode names a reply: its ILP error code, or "fulfill".
func cxCode(p ilp.Packet) string {
	switch r := p.(type) {
	case ilp.Fulfill:
		return "fulfill"
	case ilp.Reject:
		return r.Code
	}
	return fmt.Sprintf("%T", p)
}

// cxBalance is what an account holds in the ledger; 0 for an account not
// opened yet.
func (f *cxFixture) balance(t *testing.T, id string) uint64 {
	t.Helper()
	b, err := f.s.running.Deps.Ledger.Balance(context.Background(), uuid.MustParse(id))
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return 0
	}
	if err != nil {
		t.Fatalf("balance of %s: %v", id, err)
	}
	return b
}

// cxConn is one STREAM connection to a receiver of the instance.
type cxConn struct {
	address string
	keys    *stream.Keys
}

func cxConnOf(t *testing.T, address string, secret []byte) cxConn {
	t.Helper()
	keys, err := stream.NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	return cxConn{address: address, keys: keys}
}

// cxCredentials makes STREAM credentials for a receiver (incoming payment
// or wallet address) as the instance hands them out under base.
func cxCredentials(t *testing.T, s *system, base, id string) cxConn {
	t.Helper()
	address, secret, err := s.running.Deps.StreamCredentials.Generate(base, stream.Tag{ID: uuid.MustParse(id)})
	if err != nil {
		t.Fatal(err)
	}
	return cxConnOf(t, address, secret)
}

var cxSequence atomic.Uint64

// prepare is a STREAM Prepare of amount asking the receiver for at least
// min, with frames (money on stream 1 when none are given).
func (c cxConn) prepare(t *testing.T, amount, min uint64, frames ...stream.Frame) ilp.Prepare {
	t.Helper()
	if frames == nil {
		frames = []stream.Frame{stream.StreamMoney{StreamID: 1, Shares: 1}}
	}
	data, err := c.keys.Seal(stream.Packet{Version: stream.Version, Type: stream.TypePrepare, Sequence: cxSequence.Add(1), PrepareAmount: min, Frames: frames})
	if err != nil {
		t.Fatal(err)
	}
	return ilp.Prepare{Amount: amount, ExpiresAt: time.Now().Add(10 * time.Second).Truncate(time.Millisecond),
		ExecutionCondition: stream.Condition(c.keys.Fulfillment(data)), Destination: c.address, Data: data}
}

// open reads the receiver's STREAM reply inside an ILP reply.
func (c cxConn) open(reply ilp.Packet) (stream.Packet, error) {
	switch r := reply.(type) {
	case ilp.Fulfill:
		return c.keys.Open(r.Data, stream.TypeFulfill)
	case ilp.Reject:
		return c.keys.Open(r.Data, stream.TypeReject)
	}
	return stream.Packet{}, fmt.Errorf("no reply")
}

// waitReceiver waits until the connector finds the receiver (its read
// model follows the admin API a moment later): a packet of nothing is
// fulfilled.
func (f *cxFixture) waitReceiver(t *testing.T, token string, c cxConn) {
	t.Helper()
	var reply ilp.Packet
	testkit.Eventually(t, 10*time.Second, func() bool {
		reply = f.send(t, token, c.prepare(t, 0, 0))
		return cxCode(reply) == "fulfill"
	}, "the connector does not find the receiver: %v", stringer(func() string { return fmt.Sprintf("%+v", reply) }))
}

// cxNextHop is a peer's ILP-over-HTTP endpoint that misbehaves as the last
// segment of each destination says; it answers to the outgoing token of
// the peer it is ("to-" + its incoming token).
type cxNextHop struct {
	*httptest.Server
	mu       sync.Mutex
	expiries []time.Time
}

// cxPreimage fulfils the packets to the next hop's "fulfil" destinations.
var cxPreimage = [32]byte{'c', 'x'}

func startNextHop(t *testing.T, token string) *cxNextHop {
	h := &cxNextHop{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p, err := ilp.DecodePrepare(body)
		if err != nil || r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		h.mu.Lock()
		h.expiries = append(h.expiries, p.ExpiresAt)
		h.mu.Unlock()
		var reply []byte
		switch p.Destination[strings.LastIndexByte(p.Destination, '.')+1:] {
		case "fulfil":
			reply, _ = ilp.EncodeFulfill(ilp.Fulfill{Fulfillment: cxPreimage})
		case "wrong":
			var f [32]byte
			_, _ = rand.Read(f[:])
			reply, _ = ilp.EncodeFulfill(ilp.Fulfill{Fulfillment: f})
		case "reject":
			reply, _ = ilp.EncodeReject(ilp.Reject{Code: ilp.CodeFinalApplicationError, TriggeredBy: "test.next", Message: "no thanks"})
		case "http500":
			http.Error(w, "down", http.StatusInternalServerError)
			return
		case "prepare":
			reply = body
		case "garbage":
			reply = []byte("hello")
		case "huge":
			reply = make([]byte, 70<<10)
		case "slow":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		w.Header().Set("Content-Type", connector.ContentType)
		_, _ = w.Write(reply)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *cxNextHop) lastExpiry() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.expiries[len(h.expiries)-1]
}

// forwardPrepare is a Prepare the next hop may fulfil (its condition is
// cxPreimage's).
func forwardPrepare(amount uint64, destination string, expiresAt time.Time) ilp.Prepare {
	return ilp.Prepare{Amount: amount, ExpiresAt: expiresAt.Truncate(time.Millisecond), ExecutionCondition: sha256.Sum256(cxPreimage[:]), Destination: destination}
}

// A hostile peer's packets and requests: whatever it sends, the connector
// answers with an ILP reply (never a 5xx), refuses what is not its to
// take, forwards only within the peer's tenant, and moves exactly the
// money of the packets it fulfils, from the peer's liquidity.
func TestConnectorAgainstAHostilePeer(t *testing.T) {
	f := newCX(t)
	ctx := context.Background()
	op := f.s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	hop := startNextHop(t, "to-from-next")
	next := f.createPeer(t, op, usd.ID, cxPeer{address: "test.next", token: "from-next", liquidity: "0", endpoint: hop.URL})
	mallory := f.createPeer(t, op, usd.ID, cxPeer{address: "test.mallory", token: "from-mallory", liquidity: "1000", maxPacket: "500"})
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "victim"})
	if err != nil {
		t.Fatal(err)
	}
	toWA := cxCredentials(t, f.s, "test.rafiki", wa.ID)
	f.waitReceiver(t, "from-mallory", toWA)

	// Another tenant, with its own peer and receiver.
	bank := newPayingTenant(t, f.s, "bank-b")
	trudy := f.createPeer(t, bank.c, bank.assets["USD"].ID, cxPeer{address: "test.trudy", token: "from-trudy", liquidity: "1000"})
	bWA := bank.wallet(t, "bob")
	toBWA := cxCredentials(t, f.s, "test.rafiki", bWA.ID)
	f.waitReceiver(t, "from-trudy", toBWA)

	harmless, _ := ilp.EncodePrepare(toWA.prepare(t, 0, 0))

	// A token is the peer's exact incoming token: near misses are
	// strangers (401), and so are requests that are not POSTs (405) or
	// not ILP-over-HTTP (400).
	t.Run("tokens and requests", func(t *testing.T) {
		for _, authorization := range []string{"", "Bearer", "Bearer ", "Bearer from-mallorx", "Bearer FROM-MALLORY", "Bearer  from-mallory",
			"Basic from-mallory", "Bearer from-mallory from-mallory", "Bearer to-from-mallory", "Bearer from-mallory\t"} {
			status, _ := f.post(t, cxHeader(authorization, connector.ContentType), harmless)
			// Go trims the header's trailing white space, as HTTP says
			// (RFC 9110 §5.5): "Bearer from-mallory\t" is the token.
			want := http.StatusUnauthorized
			if authorization == "Bearer from-mallory\t" {
				want = http.StatusOK
			}
			if status != want {
				t.Errorf("Authorization %q: %d, want %d", authorization, status, want)
			}
		}
		for _, contentType := range []string{"", "text/plain", "application/json", "application/octet-streams"} {
			if status, _ := f.post(t, cxHeader("Bearer from-mallory", contentType), harmless); status != http.StatusBadRequest {
				t.Errorf("Content-Type %q: %d, want 400", contentType, status)
			}
		}
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			if status, _, err := f.postErr(method, cxHeader("Bearer from-mallory", connector.ContentType), harmless); err != nil || status != http.StatusMethodNotAllowed {
				t.Errorf("%s: %d %v, want 405", method, status, err)
			}
		}
	})

	// A deleted peer's token, and a token the peer no longer has, open
	// nothing: the connector follows the peer's events.
	t.Run("deleted and replaced tokens", func(t *testing.T) {
		gone := f.createPeer(t, op, usd.ID, cxPeer{address: "test.gone", token: "from-gone", liquidity: "100"})
		if err := op.Do(ctx, `mutation($input: DeletePeerInput!) { deletePeer(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"id": gone}}, nil); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 5*time.Second, func() bool { return f.status(t, "from-gone") == http.StatusUnauthorized },
			"a deleted peer's token still opens the connector")
		rotated := f.createPeer(t, op, usd.ID, cxPeer{address: "test.rotated", token: "from-old"})
		if err := op.Do(ctx, `mutation($input: UpdatePeerInput!) { updatePeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
			"id": rotated, "http": map[string]any{"incoming": map[string]any{"authTokens": []string{"from-new"}},
				"outgoing": map[string]any{"authToken": "to-from-old", "endpoint": "http://127.0.0.1:9/unused"}}}}, nil); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 5*time.Second, func() bool {
			return f.status(t, "from-old") == http.StatusUnauthorized && f.status(t, "from-new") == http.StatusOK
		}, "a replaced token still opens the connector, or the new one does not")
	})

	// Bytes that are not one Prepare are rejected F01, by this connector.
	t.Run("malformed packets", func(t *testing.T) {
		valid, _ := ilp.EncodePrepare(forwardPrepare(1, "test.abcde", time.Now().Add(10*time.Second)))
		asFulfill := bytes.Clone(valid)
		asFulfill[0] = byte(ilp.TypeFulfill)
		for name, body := range map[string][]byte{
			"empty":                   nil,
			"larger than any packet":  make([]byte, 70<<10),
			"a byte after the packet": append(bytes.Clone(valid), 0),
			"a space in the address":  bytes.Replace(valid, []byte("abcde"), []byte("ab de"), 1),
			"a NUL in the address":    bytes.Replace(valid, []byte("abcde"), []byte("ab\x00de"), 1),
			"a fulfill":               asFulfill,
			"cut short":               valid[:len(valid)-3],
		} {
			status, raw := f.post(t, cxHeader("Bearer from-mallory", connector.ContentType), body)
			reply, err := ilp.DecodeAny(raw)
			if rj, ok := reply.(ilp.Reject); status != http.StatusOK || err != nil || !ok || rj.Code != ilp.CodeInvalidPacket || rj.TriggeredBy != "test.rafiki" {
				t.Errorf("%s: %d %+v %v, want a Reject F01 by test.rafiki", name, status, reply, err)
			}
		}
		// The most data a packet may carry decodes: the packet goes on
		// (here, to no route).
		p := forwardPrepare(1, "test.nowhere", time.Now().Add(10*time.Second))
		p.Data = make([]byte, ilp.DataBytesMax)
		if code := cxCode(f.send(t, "from-mallory", p)); code != ilp.CodeUnreachable {
			t.Errorf("a packet with 32767 bytes of data: %s, want F02", code)
		}
	})

	// Addresses that are not a route of the peer's tenant are F02, moving
	// nothing: the instance's own address and its prefixes, control and
	// private addresses, the sender's own address (a loop), another
	// tenant's peer.
	t.Run("destinations without a route", func(t *testing.T) {
		for _, destination := range []string{"test.rafiki", "peer.route.control", "peer.route.update", "private.moneyd",
			"self.x", "local.x", "example.x", "g.test.rafiki", "test.rafiki.not-a-token", "test.mallory", "test.mallory.loop",
			"test.trudy", "test.trudy.wallet", toWA.address + "x"} {
			reply := f.send(t, "from-mallory", forwardPrepare(100, destination, time.Now().Add(10*time.Second)))
			if rj, ok := reply.(ilp.Reject); !ok || rj.Code != ilp.CodeUnreachable || rj.TriggeredBy != "test.rafiki" {
				t.Errorf("%s: %+v, want F02 by test.rafiki", destination, reply)
			}
		}
		// IL-DCP tells the peer its own address, and moves nothing.
		reply := f.send(t, "from-mallory", ilp.Prepare{ExpiresAt: time.Now().Add(time.Minute).Truncate(time.Millisecond),
			ExecutionCondition: ilp.ILDCPCondition, Destination: ilp.ILDCPDestination})
		fulfill, ok := reply.(ilp.Fulfill)
		if !ok {
			t.Fatalf("IL-DCP: %+v", reply)
		}
		if res, err := ilp.DecodeILDCPResponse(fulfill); err != nil || res.ClientAddress != "test.mallory" || res.AssetCode != "USD" || res.AssetScale != 2 {
			t.Errorf("IL-DCP answered %+v %v", res, err)
		}
		if got := f.balance(t, mallory); got != 1000 {
			t.Errorf("mallory holds %d after packets to nowhere, want 1000", got)
		}
	})

	// Another tenant's receivers are not this peer's to pay, whoever
	// made their credentials: F02, nothing moves.
	t.Run("another tenant's receivers", func(t *testing.T) {
		for _, c := range []struct {
			token string
			to    cxConn
		}{{"from-trudy", toWA}, {"from-mallory", toBWA}} {
			if code := cxCode(f.send(t, c.token, c.to.prepare(t, 100, 0))); code != ilp.CodeUnreachable {
				t.Errorf("%s paying another tenant's wallet address: %s, want F02", c.token, code)
			}
		}
		if m, tr, a, b := f.balance(t, mallory), f.balance(t, trudy), f.balance(t, wa.ID), f.balance(t, bWA.ID); m != 1000 || tr != 1000 || a != 0 || b != 0 {
			t.Errorf("mallory %d, trudy %d, the wallet addresses %d and %d; want 1000, 1000, 0, 0", m, tr, a, b)
		}
	})

	// The peer's maxPacketAmount bounds every packet, near 2^64 too (F08
	// with the amounts), on the way to a receiver or to a peer.
	t.Run("amounts", func(t *testing.T) {
		for _, c := range []struct {
			name string
			p    ilp.Prepare
		}{
			{"501 to a wallet address", toWA.prepare(t, 501, 0)},
			{"2^64-1 to a wallet address", toWA.prepare(t, math.MaxUint64, 0)},
			{"501 to a peer", forwardPrepare(501, "test.next.fulfil", time.Now().Add(10*time.Second))},
			{"2^64-1 to a peer", forwardPrepare(math.MaxUint64, "test.next.fulfil", time.Now().Add(10*time.Second))},
		} {
			reply := f.send(t, "from-mallory", c.p)
			rj, ok := reply.(ilp.Reject)
			if !ok || rj.Code != ilp.CodeAmountTooLarge {
				t.Errorf("%s: %+v, want F08", c.name, reply)
				continue
			}
			if a, err := ilp.DecodeAmountTooLarge(rj.Data); err != nil || a.ReceivedAmount != c.p.Amount || a.MaximumAmount != 500 {
				t.Errorf("%s: F08 data %+v %v", c.name, a, err)
			}
		}
		if got, _ := toWA.open(f.send(t, "from-mallory", toWA.prepare(t, 500, 500))); got.PrepareAmount != 500 {
			t.Errorf("500 to the wallet address: the receiver says %d", got.PrepareAmount)
		}
		if m, a := f.balance(t, mallory), f.balance(t, wa.ID); m != 500 || a != 500 {
			t.Errorf("mallory %d, the wallet address %d; want 500 and 500", m, a)
		}
	})

	// A next hop that lies, fails or stalls: only a Fulfill meeting the
	// condition moves money; every other answer releases the hold.
	t.Run("a misbehaving next hop", func(t *testing.T) {
		for _, c := range []struct {
			segment, code string
			expiresIn     time.Duration
		}{
			{"fulfil", "fulfill", 10 * time.Second},
			{"wrong", ilp.CodeWrongCondition, 10 * time.Second},
			{"reject", ilp.CodeFinalApplicationError, 10 * time.Second},
			{"http500", ilp.CodeInternalError, 10 * time.Second},
			{"prepare", ilp.CodeInternalError, 10 * time.Second},
			{"garbage", ilp.CodeInternalError, 10 * time.Second},
			{"huge", ilp.CodeInternalError, 10 * time.Second},
			{"slow", ilp.CodeTransferTimedOut, 2500 * time.Millisecond},
			{"fulfil", ilp.CodeInsufficientTimeout, 500 * time.Millisecond},
		} {
			reply := f.send(t, "from-mallory", forwardPrepare(100, "test.next."+c.segment, time.Now().Add(c.expiresIn)))
			if code := cxCode(reply); code != c.code {
				t.Errorf("next hop %s: %+v, want %s", c.segment, reply, c.code)
			}
		}
		// An expiry centuries ahead leaves with 30 s at most: the money
		// is held no longer than that.
		sent := time.Now()
		if code := cxCode(f.send(t, "from-mallory", forwardPrepare(100, "test.next.fulfil", time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)))); code != "fulfill" {
			t.Errorf("a packet expiring in 2400: %s", code)
		}
		if got := hop.lastExpiry(); got.After(sent.Add(31 * time.Second)) {
			t.Errorf("a packet expiring in 2400 left expiring at %s, more than 30 s after %s", got, sent)
		}
		if m, n := f.balance(t, mallory), f.balance(t, next); m != 300 || n != 200 {
			t.Errorf("mallory %d, next %d after two fulfilled packets of 100; want 300 and 200", m, n)
		}
	})

	checkLedger(t, f.s)
}

// Many packets at once from one peer, more than its liquidity covers: the
// ledger takes exactly what the liquidity allows, whether the money stays
// here (an incoming payment) or goes on to another peer, and refuses the
// rest T04.
func TestConnectorConservesLiquidityUnderConcurrentPackets(t *testing.T) {
	f := newCX(t)
	ctx := context.Background()
	op := f.s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	hop := startNextHop(t, "to-from-next")
	next := f.createPeer(t, op, usd.ID, cxPeer{address: "test.next", token: "from-next", liquidity: "0", endpoint: hop.URL})
	crowd := f.createPeer(t, op, usd.ID, cxPeer{address: "test.crowd", token: "from-crowd", liquidity: "1000"})
	relay := f.createPeer(t, op, usd.ID, cxPeer{address: "test.relay", token: "from-relay", liquidity: "1000"})
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "crowded"})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID})
	if err != nil {
		t.Fatal(err)
	}
	toIP := cxCredentials(t, f.s, "test.rafiki", ip.ID)
	f.waitReceiver(t, "from-crowd", toIP)

	const n = 40
	run := func(token string, prepare func(i int) ilp.Prepare, received func(ilp.Packet) uint64) (fulfilled int, total uint64, codes map[string]int) {
		prepares := make([]ilp.Prepare, n)
		for i := range prepares {
			prepares[i] = prepare(i)
		}
		replies := make([]ilp.Packet, n)
		errs := concurrently(n, func(i int) error {
			var err error
			replies[i], err = f.sendErr(token, prepares[i])
			return err
		})
		codes = map[string]int{}
		for i, reply := range replies {
			if errs[i] != nil {
				t.Errorf("packet %d: %v", i, errs[i])
				continue
			}
			codes[cxCode(reply)]++
			if _, ok := reply.(ilp.Fulfill); ok {
				fulfilled++
				total += received(reply)
			}
		}
		return fulfilled, total, codes
	}

	fulfilled, total, codes := run("from-crowd", func(int) ilp.Prepare { return toIP.prepare(t, 100, 100) }, func(reply ilp.Packet) uint64 {
		got, err := toIP.open(reply)
		if err != nil {
			t.Errorf("a Fulfill without the receiver's reply: %v", err)
		}
		return got.PrepareAmount
	})
	if fulfilled != 10 || total != 1000 || codes[ilp.CodeInsufficientLiquidity] != n-10 {
		t.Errorf("into the incoming payment: %v, the receiver says it got %d; want 10 fulfilled, 1000, %d T04", codes, total, n-10)
	}
	if c, p := f.balance(t, crowd), f.balance(t, ip.ID); c != 0 || p != 1000 {
		t.Errorf("the peer holds %d, the incoming payment %d; want 0 and 1000", c, p)
	}

	fulfilled, _, codes = run("from-relay", func(int) ilp.Prepare {
		return forwardPrepare(100, "test.next.fulfil", time.Now().Add(10*time.Second))
	}, func(ilp.Packet) uint64 { return 100 })
	if fulfilled != 10 || codes[ilp.CodeInsufficientLiquidity] != n-10 {
		t.Errorf("on to another peer: %v; want 10 fulfilled, %d T04", codes, n-10)
	}
	if r, x := f.balance(t, relay), f.balance(t, next); r != 0 || x != 1000 {
		t.Errorf("the sending peer holds %d, the next %d; want 0 and 1000", r, x)
	}
	checkLedger(t, f.s)
}

// A peer gets Rafiki's 10,000 packets a minute (T05 past them), counted
// for it alone: another peer is served meanwhile.
func TestConnectorRateLimitsAPeer(t *testing.T) {
	f := newCX(t)
	ctx := context.Background()
	op := f.s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.createPeer(t, op, usd.ID, cxPeer{address: "test.flood", token: "from-flood", liquidity: "0"})
	f.createPeer(t, op, usd.ID, cxPeer{address: "test.calm", token: "from-calm", liquidity: "0"})
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "flooded"})
	if err != nil {
		t.Fatal(err)
	}
	to := cxCredentials(t, f.s, "test.rafiki", wa.ID)
	f.waitReceiver(t, "from-flood", to)

	// Packets of nothing cost the connector no ledger write: only the
	// limit stops them.
	body, _ := ilp.EncodePrepare(to.prepare(t, 0, 0))
	header := cxHeader("Bearer from-flood", connector.ContentType)
	const total, workers = 10_400, 64
	var sent atomic.Int64
	var fulfilled, limited, other atomic.Int64
	began := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sent.Add(1) <= total {
				status, raw, err := f.postErr(http.MethodPost, header, body)
				reply, derr := ilp.DecodeAny(raw)
				switch {
				case err != nil || status != http.StatusOK || derr != nil:
					other.Add(1)
				case cxCode(reply) == "fulfill":
					fulfilled.Add(1)
				case cxCode(reply) == ilp.CodeRateLimited:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	// The bucket holds 10,000 and refills 10,000 a minute.
	allowed := int64(10_000 + elapsed.Seconds()*10_000/60 + 1)
	t.Logf("%d packets in %v: %d fulfilled, %d T05, %d other", total, elapsed, fulfilled.Load(), limited.Load(), other.Load())
	if other.Load() != 0 || limited.Load() == 0 || fulfilled.Load() > allowed {
		t.Errorf("%d fulfilled (at most %d allowed), %d T05, %d other answers", fulfilled.Load(), allowed, limited.Load(), other.Load())
	}
	if code := cxCode(f.send(t, "from-calm", to.prepare(t, 0, 0))); code != "fulfill" {
		t.Errorf("another peer, while the first is throttled: %s", code)
	}
}

// cxSPSP asks the wallet address server for STREAM credentials, with
// receipts when nonce is set; it answers the HTTP status and connection.
func cxSPSP(t *testing.T, s *system, path string, nonce, secret []byte) (int, cxConn) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.opURL+path, nil)
	req.Host = "wallet.test"
	req.Header.Set("Accept", "application/spsp4+json")
	if nonce != nil {
		req.Header.Set("Receipt-Nonce", base64.StdEncoding.EncodeToString(nonce))
		req.Header.Set("Receipt-Secret", base64.StdEncoding.EncodeToString(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, cxConn{}
	}
	var spsp struct {
		Destination string `json:"destination_account"`
		Secret      string `json:"shared_secret"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&spsp); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(spsp.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, cxConnOf(t, spsp.Destination, raw)
}

// cxReceipt checks a STREAM receipt (RFC 39) made for nonce and secret,
// and answers the total it tells.
func cxReceipt(t *testing.T, reply stream.Packet, nonce, secret []byte) (uint64, bool) {
	t.Helper()
	for _, fr := range reply.Frames {
		r, ok := fr.(stream.StreamReceipt)
		if !ok {
			continue
		}
		b := r.Receipt
		if len(b) != 1+16+1+8+32 || b[0] != 1 || !bytes.Equal(b[1:17], nonce) {
			t.Errorf("receipt %x is not one of nonce %x", b, nonce)
			return 0, false
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write(b[:26])
		if !hmac.Equal(mac.Sum(nil), b[26:]) {
			t.Errorf("receipt %x is not signed with the sender's secret", b)
		}
		return binary.BigEndian.Uint64(b[18:26]), true
	}
	return 0, false
}

// A hostile STREAM sender, through a peer: frames that claim more than the
// packet brings, packets the receiver cannot or must not take, receipts,
// receivers that closed. The receiver credits exactly the ILP amounts of
// the packets it fulfils, and what the peer's liquidity lost is what the
// receivers got.
func TestConnectorAgainstAHostileStreamSender(t *testing.T) {
	f := newCX(t)
	ctx := context.Background()
	op := f.s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	const liquidity = 100_000
	peer := f.createPeer(t, op, usd.ID, cxPeer{address: "test.streamer", token: "from-streamer", liquidity: fmt.Sprint(liquidity)})
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "payee"})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID, "incomingAmount": usdAmount("100000")})
	if err != nil {
		t.Fatal(err)
	}
	toIP := cxCredentials(t, f.s, "test.rafiki", ip.ID)
	f.waitReceiver(t, "from-streamer", toIP)
	send := func(p ilp.Prepare) ilp.Packet { return f.send(t, "from-streamer", p) }
	var intoIP uint64 // what the packets fulfilled brought the incoming payment

	t.Run("packets the receiver refuses", func(t *testing.T) {
		less := send(toIP.prepare(t, 100, 101))
		if got, err := toIP.open(less); cxCode(less) != ilp.CodeInsufficientDestinationAmount || err != nil || got.PrepareAmount != 100 {
			t.Errorf("100 for a sender asking at least 101: %s, reply %+v %v; want F04 telling 100", cxCode(less), got, err)
		}
		probe := toIP.prepare(t, 100, 0)
		_, _ = rand.Read(probe.ExecutionCondition[:])
		if code := cxCode(send(probe)); code != ilp.CodeWrongCondition {
			t.Errorf("a condition the receiver cannot meet: %s, want F05", code)
		}
		garbage := toIP.prepare(t, 100, 0)
		garbage.Data = make([]byte, 200)
		_, _ = rand.Read(garbage.Data)
		if code := cxCode(send(garbage)); code != ilp.CodeUnexpectedPayment {
			t.Errorf("data that does not decrypt: %s, want F06", code)
		}
		data, _ := toIP.keys.Seal(stream.Packet{Version: stream.Version, Type: stream.TypeFulfill, Sequence: 1, Frames: []stream.Frame{stream.StreamMoney{StreamID: 1, Shares: 1}}})
		if code := cxCode(send(ilp.Prepare{Amount: 100, ExpiresAt: time.Now().Add(10 * time.Second).Truncate(time.Millisecond),
			ExecutionCondition: stream.Condition(toIP.keys.Fulfillment(data)), Destination: toIP.address, Data: data})); code != ilp.CodeBadRequest {
			t.Errorf("a reply's STREAM packet in a Prepare: %s, want F00", code)
		}
		tampered := toIP.prepare(t, 100, 0)
		last := tampered.Destination[len(tampered.Destination)-1]
		tampered.Destination = tampered.Destination[:len(tampered.Destination)-1] + map[bool]string{true: "B", false: "A"}[last == 'A']
		if reply := send(tampered); cxCode(reply) == "fulfill" {
			t.Errorf("a token tampered with was fulfilled")
		}
		closing := send(toIP.prepare(t, 100, 0, stream.StreamMoney{StreamID: 1, Shares: 1}, stream.ConnectionClose{Code: stream.NoError}))
		if got, err := toIP.open(closing); cxCode(closing) != ilp.CodeFinalApplicationError || err != nil || len(got.Frames) == 0 {
			t.Errorf("money with ConnectionClose: %s %+v %v, want F99 closing", cxCode(closing), got, err)
		}
		if p := f.balance(t, ip.ID); p != 0 {
			t.Errorf("refused packets brought the incoming payment %d", p)
		}
	})

	// The receiver keeps nothing of a connection: after a close, the same
	// credentials pay again; what frames claim changes nothing of what
	// the packet brings.
	t.Run("frames that claim more", func(t *testing.T) {
		open := send(toIP.prepare(t, 0, 0, stream.ConnectionNewAddress{SourceAccount: "test.streamer.me"}))
		got, err := toIP.open(open)
		var details *stream.ConnectionAssetDetails
		for _, fr := range got.Frames {
			if d, ok := fr.(stream.ConnectionAssetDetails); ok {
				details = &d
			}
		}
		if cxCode(open) != "fulfill" || err != nil || details == nil || details.SourceAssetCode != "USD" || details.SourceAssetScale != 2 {
			t.Errorf("ConnectionNewAddress: %s %+v %v, want the receiver's asset", cxCode(open), got, err)
		}
		for _, frames := range [][]stream.Frame{
			{stream.StreamMoney{StreamID: math.MaxUint64, Shares: math.MaxUint64}},
			{stream.StreamMoney{StreamID: 1, Shares: 1}, stream.StreamMaxMoney{StreamID: 1, ReceiveMax: math.MaxUint64, TotalReceived: math.MaxUint64},
				stream.ConnectionMaxData{MaxOffset: math.MaxUint64}, stream.ConnectionMaxStreamID{MaxStreamID: math.MaxUint64},
				stream.StreamMoneyBlocked{StreamID: 1, SendMax: math.MaxUint64, TotalSent: math.MaxUint64}},
			{stream.StreamMoney{StreamID: 1, Shares: 1}, stream.StreamMoney{StreamID: 2, Shares: math.MaxUint64}, stream.StreamClose{StreamID: 2}},
		} {
			reply := send(toIP.prepare(t, 100, 100, frames...))
			got, err := toIP.open(reply)
			if cxCode(reply) != "fulfill" || err != nil || got.PrepareAmount != 100 {
				t.Errorf("frames %+v: %s %+v %v, want 100 received", frames, cxCode(reply), got, err)
				continue
			}
			intoIP += 100
		}
		if p := f.balance(t, ip.ID); p != intoIP {
			t.Errorf("the incoming payment holds %d, want %d", p, intoIP)
		}
	})

	// Receipts count what each connection received, never a refused
	// packet, and are signed with the sender's secret; two connections
	// asked for with one nonce count apart.
	var intoWA uint64
	t.Run("receipts", func(t *testing.T) {
		nonce, secret := make([]byte, 16), make([]byte, 32)
		_, _ = rand.Read(nonce)
		_, _ = rand.Read(secret)
		status, conn := cxSPSP(t, f.s, "/payee", nonce, secret)
		if status != http.StatusOK {
			t.Fatalf("SPSP: %d", status)
		}
		want := uint64(0)
		for _, c := range []struct{ amount, min uint64 }{{100, 100}, {50, 60}, {70, 70}} {
			reply := send(conn.prepare(t, c.amount, c.min))
			got, err := conn.open(reply)
			if err != nil {
				t.Fatalf("reply: %v", err)
			}
			total, ok := cxReceipt(t, got, nonce, secret)
			if c.amount < c.min {
				if cxCode(reply) != ilp.CodeInsufficientDestinationAmount || ok {
					t.Errorf("a refused packet: %s, receipt %t", cxCode(reply), ok)
				}
				continue
			}
			want += c.amount
			intoWA += c.amount
			if !ok || total != want {
				t.Errorf("receipt after %d: %d (%t), want %d", c.amount, total, ok, want)
			}
		}
		_, again := cxSPSP(t, f.s, "/payee", nonce, secret)
		got, _ := again.open(send(again.prepare(t, 10, 10)))
		intoWA += 10
		if total, ok := cxReceipt(t, got, nonce, secret); !ok || total != 10 {
			t.Errorf("a second connection with the nonce: receipt %d (%t), want 10", total, ok)
		}
		if w := f.balance(t, wa.ID); w != intoWA {
			t.Errorf("the wallet address holds %d, want %d", w, intoWA)
		}
	})

	t.Run("receivers that closed", func(t *testing.T) {
		expiresAt := time.Now().Add(3 * time.Second).UTC().Truncate(time.Millisecond)
		brief, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID, "expiresAt": expiresAt.Format(time.RFC3339Nano)})
		if err != nil {
			t.Fatal(err)
		}
		toBrief := cxCredentials(t, f.s, "test.rafiki", brief.ID)
		f.waitReceiver(t, "from-streamer", toBrief)

		leaving, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "leaving"})
		if err != nil {
			t.Fatal(err)
		}
		var toLeaving cxConn
		testkit.Eventually(t, 5*time.Second, func() bool {
			var status int
			status, toLeaving = cxSPSP(t, f.s, "/leaving", nil, nil)
			return status == http.StatusOK
		}, "no SPSP for a new wallet address")
		if got, _ := toLeaving.open(send(toLeaving.prepare(t, 10, 10))); got.PrepareAmount != 10 {
			t.Fatalf("paying a wallet address: %+v", got)
		}
		intoWA += 10
		if err := op.Do(ctx, `mutation($id: ID!) { updateWalletAddress(input: {id: $id, status: INACTIVE}) { walletAddress { id } } }`,
			map[string]any{"id": leaving.ID}, nil); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 5*time.Second, func() bool {
			status, _ := cxSPSP(t, f.s, "/leaving", nil, nil)
			return status == http.StatusNotFound
		}, "SPSP still answers for a deactivated wallet address")

		time.Sleep(time.Until(expiresAt.Add(1100 * time.Millisecond))) // the connector keeps a receiver a second
		if code := cxCode(send(toBrief.prepare(t, 100, 0))); code != ilp.CodeUnreachable {
			t.Errorf("money for an expired incoming payment: %s, want F02", code)
		}
		if code := cxCode(send(toLeaving.prepare(t, 10, 0))); code != ilp.CodeUnreachable {
			t.Errorf("money for a deactivated wallet address: %s, want F02", code)
		}
		if b, l := f.balance(t, brief.ID), f.balance(t, leaving.ID); b != 0 || l != 10 {
			t.Errorf("the expired payment holds %d, the deactivated wallet address %d; want 0 and 10", b, l)
		}
	})

	if got, want := f.balance(t, peer), uint64(liquidity)-intoIP-intoWA; got != want {
		t.Errorf("the peer holds %d, want %d − %d − %d = %d", got, liquidity, intoIP, intoWA, want)
	}
	checkLedger(t, f.s)
}

// The Authorization header is read as Rafiki reads it (getBearerToken:
// two words split on a space, the first /^Bearer$/i): the scheme is
// case-insensitive (RFC 9110 §11.1), and a header without it carries no
// token.
func TestConnectorReadsTheBearerSchemeAsRafiki(t *testing.T) {
	f := newCX(t)
	usd, err := createAsset(context.Background(), f.s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.createPeer(t, f.s.operator, usd.ID, cxPeer{address: "test.case", token: "from-case"})
	body, _ := ilp.EncodePrepare(forwardPrepare(0, "test.nowhere", time.Now().Add(10*time.Second)))
	t.Run("the scheme in any case", func(t *testing.T) {
		for _, authorization := range []string{"bearer from-case", "BEARER from-case"} {
			if status, _ := f.post(t, cxHeader(authorization, connector.ContentType), body); status != http.StatusOK {
				t.Errorf("Authorization %q: %d, want 200 (the peer's token)", authorization, status)
			}
		}
	})
	t.Run("no scheme, no token", func(t *testing.T) {
		if status, _ := f.post(t, cxHeader("from-case", connector.ContentType), body); status != http.StatusUnauthorized {
			t.Errorf("Authorization %q (the bare token): %d, want 401", "from-case", status)
		}
	})
}

// A Content-Type with parameters is still application/octet-stream (RFC
// 9110 §8.3.1), as Rafiki reads it (Koa's request.type drops them).
func TestConnectorTakesAContentTypeWithParameters(t *testing.T) {
	f := newCX(t)
	usd, err := createAsset(context.Background(), f.s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.createPeer(t, f.s.operator, usd.ID, cxPeer{address: "test.typed", token: "from-typed"})
	body, _ := ilp.EncodePrepare(forwardPrepare(0, "test.nowhere", time.Now().Add(10*time.Second)))
	if status, raw := f.post(t, cxHeader("Bearer from-typed", "application/octet-stream; charset=binary"), body); status != http.StatusOK {
		t.Errorf("Content-Type with a parameter: %d %q, want 200 and the packet's reply", status, raw)
	}
}

// A packet the connector fulfils is paid for by the peer that sent it. A
// packet whose amount rounds to nothing in the receiver's asset (99 of a
// USD/2 peer into a USD/0 wallet address) delivers nothing: the
// connector may refuse it (Rafiki's ledger refuses a transfer of a
// destination amount 0, and the packet fails) or charge the peer its 99,
// but must not fulfil it for free. The peer here holds nothing, so no
// Fulfill is right.
func TestConnectorChargesForEveryPacketItFulfils(t *testing.T) {
	f := newCX(t)
	ctx := context.Background()
	op := f.s.operator
	cents, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	dollars, err := createAsset(ctx, op, "USD", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	peer := f.createPeer(t, op, cents.ID, cxPeer{address: "test.penny", token: "from-penny", liquidity: "0"})
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": dollars.ID, "address": "dollars"})
	if err != nil {
		t.Fatal(err)
	}
	to := cxCredentials(t, f.s, "test.rafiki", wa.ID)
	f.waitReceiver(t, "from-penny", to)
	fulfilled := 0
	for range 5 {
		if reply := f.send(t, "from-penny", to.prepare(t, 99, 0)); cxCode(reply) == "fulfill" {
			fulfilled++
		}
	}
	if fulfilled > 0 {
		t.Errorf("a peer holding %d had %d of 5 packets of 99 fulfilled (the wallet address got %d): the peer's side collects 495 it never pays",
			f.balance(t, peer), fulfilled, f.balance(t, wa.ID))
	}
	checkLedger(t, f.s)
}

// A cancelled incoming payment takes no money: the account servicing
// entity refused it (Rafiki's maintainers call accepting funds into it a
// bug, interledger/rafiki#3933).
func TestConnectorRefusesMoneyForACancelledIncomingPayment(t *testing.T) {
	f := newCX(t)
	ctx := context.Background()
	op := f.s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.createPeer(t, op, usd.ID, cxPeer{address: "test.payer", token: "from-payer", liquidity: "1000"})
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "refuser"})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID, "incomingAmount": usdAmount("500")})
	if err != nil {
		t.Fatal(err)
	}
	to := cxCredentials(t, f.s, "test.rafiki", ip.ID)
	f.waitReceiver(t, "from-payer", to)
	cancelled, err := actOn(ctx, op, "cancelIncomingPayment", map[string]any{"id": ip.ID, "cancellationReason": "KYC failed"})
	if err != nil || cancelled.CancelledAt == nil {
		t.Fatalf("cancel: %+v %v", cancelled, err)
	}
	time.Sleep(1100 * time.Millisecond) // the connector keeps a receiver a second
	reply := f.send(t, "from-payer", to.prepare(t, 100, 0))
	if code := cxCode(reply); code != ilp.CodeUnreachable {
		got, _ := getIncomingPayment(ctx, op, ip.ID)
		t.Errorf("money for a cancelled incoming payment: %s, want F02; the payment (state %s) holds %d",
			code, got.State, f.balance(t, ip.ID))
	}
}

// A peer whose liquidity its packets take to its liquidityThreshold or
// below is told of, as a withdrawal below it is: Rafiki's ledger calls the
// peer's onDebit after every posted transfer, which makes
// peer.liquidity_low.
func TestConnectorWarnsOfAPeersLowLiquidity(t *testing.T) {
	f := newCX(t)
	ctx := context.Background()
	op := f.s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "sink"})
	if err != nil {
		t.Fatal(err)
	}
	to := cxCredentials(t, f.s, "test.rafiki", wa.ID)
	lowEvent := func(peer string) bool {
		return hostileWithin(3*time.Second, func() bool { return webhookEventIDOf(t, f.s, peer, "peer.liquidity_low") != "" })
	}

	t.Run("a withdrawal below the threshold", func(t *testing.T) {
		peer := f.createPeer(t, op, usd.ID, cxPeer{address: "test.withdrawn", token: "from-withdrawn", liquidity: "1000", threshold: "500"})
		if err := op.Do(ctx, `mutation($input: CreatePeerLiquidityWithdrawalInput!) { createPeerLiquidityWithdrawal(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"peerId": peer, "amount": "600", "id": uuid.NewString(), "idempotencyKey": uuid.NewString(), "timeoutSeconds": "0"}}, nil); err != nil {
			t.Fatal(err)
		}
		if !lowEvent(peer) {
			t.Errorf("no peer.liquidity_low after a withdrawal left 400 of a threshold of 500")
		}
	})

	t.Run("packets below the threshold", func(t *testing.T) {
		peer := f.createPeer(t, op, usd.ID, cxPeer{address: "test.drained", token: "from-drained", liquidity: "1000", threshold: "500"})
		f.waitReceiver(t, "from-drained", to)
		for range 3 {
			if code := cxCode(f.send(t, "from-drained", to.prepare(t, 200, 200))); code != "fulfill" {
				t.Fatalf("paying: %s", code)
			}
		}
		if got := f.balance(t, peer); got != 400 {
			t.Fatalf("the peer holds %d, want 400", got)
		}
		if !lowEvent(peer) {
			t.Errorf("no peer.liquidity_low after its packets left the peer 400 of a threshold of 500")
		}
	})
}

// The rates service's address (with any key in its query) is the
// operator's: a failing rates service leaves the packet F07, without
// telling the sender, any peer or anyone down the path where the rates
// come from. Rafiki's Reject says "Exchange rate error: <kind>".
func TestConnectorKeepsTheRatesServiceToItself(t *testing.T) {
	rates := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer rates.Close()
	f := newCX(t, func(c *config.Config) { c.ExchangeRatesURL = rates.URL + "/rates?apiKey=cx-rates-secret" })
	ctx := context.Background()
	op := f.s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	eur, err := createAsset(ctx, op, "EUR", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.createPeer(t, op, usd.ID, cxPeer{address: "test.tourist", token: "from-tourist", liquidity: "1000"})
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": eur.ID, "address": "euros"})
	if err != nil {
		t.Fatal(err)
	}
	to := cxCredentials(t, f.s, "test.rafiki", wa.ID)
	f.waitReceiver(t, "from-tourist", to)
	reply := f.send(t, "from-tourist", to.prepare(t, 100, 0))
	rj, ok := reply.(ilp.Reject)
	if !ok || rj.Code != ilp.CodeCannotReceive {
		t.Fatalf("no rate: %+v, want F07", reply)
	}
	host := strings.TrimPrefix(rates.URL, "http://")
	if strings.Contains(rj.Message, "cx-rates-secret") || strings.Contains(rj.Message, host) {
		t.Errorf("the F07 a peer gets names the rates service: %q", rj.Message)
	}
}
