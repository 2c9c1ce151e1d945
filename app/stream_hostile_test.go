package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/stream"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/testkit"
)

// hostileBehaviour answers a Prepare alpha's connector sent to its peer:
// forward hands it to beta's connector, as an honest peer would.
type hostileBehaviour func(p ilp.Prepare, forward func(ilp.Prepare) ilp.Packet) ilp.Packet

// hostilePath is two instances, alpha paying beta's receivers through a
// peer alpha reaches over ILP-over-HTTP at a proxy the test controls: the
// proxy forwards to beta, or lies as the behaviour set says. Beta's STREAM
// credentials are the test's, so the proxy can also speak for beta's
// receiver (read and rewrite its STREAM replies).
type hostilePath struct {
	alpha, beta *instance
	usd         map[*instance]string
	behaviour   atomic.Pointer[hostileBehaviour]
	betaURL     string
}

func startHostilePath(t *testing.T) *hostilePath {
	t.Helper()
	secret := func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	}
	h := &hostilePath{usd: map[*instance]string{}}
	h.alpha = startInstance(t, func(c *config.Config) {
		c.ILPAddress, c.Slippage, c.StreamSecret = "test.alpha", 0.01, secret()
		c.OutgoingPaymentRetryAttempts = 1
	})
	h.beta = startInstance(t, func(c *config.Config) { c.ILPAddress, c.StreamSecret = "test.beta", secret() })
	ctx := context.Background()
	for _, in := range []*instance{h.alpha, h.beta} {
		usd, err := createAsset(ctx, in.operator, "USD", 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		h.usd[in] = usd.ID
	}
	var err error
	if h.betaURL, err = h.beta.running.URL(app.ConnectorListener); err != nil {
		t.Fatal(err)
	}
	h.set(nil)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p, err := ilp.DecodePrepare(body)
		if err != nil || r.Header.Get("Authorization") != "Bearer alpha-to-beta" {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		var reply []byte
		switch a := (*h.behaviour.Load())(p, h.forward).(type) {
		case ilp.Fulfill:
			reply, err = ilp.EncodeFulfill(a)
		case ilp.Reject:
			reply, err = ilp.EncodeReject(a)
		}
		if err != nil {
			t.Errorf("proxy: %v", err)
		}
		w.Header().Set("Content-Type", connector.ContentType)
		_, _ = w.Write(reply)
	}))
	t.Cleanup(proxy.Close)
	peerOver(t, h.alpha, h.usd[h.alpha], "test.beta", "beta-to-alpha", "alpha-to-beta", proxy.URL, "0")
	peerOver(t, h.beta, h.usd[h.beta], "test.alpha", "alpha-to-beta", "beta-to-alpha", "http://127.0.0.1:9/unused", "1000000")
	return h
}

// set makes the proxy behave so; nil forwards everything.
func (h *hostilePath) set(b hostileBehaviour) {
	if b == nil {
		b = func(p ilp.Prepare, forward func(ilp.Prepare) ilp.Packet) ilp.Packet { return forward(p) }
	}
	h.behaviour.Store(&b)
}

func (h *hostilePath) forward(p ilp.Prepare) ilp.Packet {
	body, _ := ilp.EncodePrepare(p)
	req, _ := http.NewRequest(http.MethodPost, h.betaURL, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer alpha-to-beta")
	req.Header.Set("Content-Type", connector.ContentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ilp.Reject{Code: ilp.CodeInternalError, TriggeredBy: "test.beta", Message: err.Error()}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	reply, err := ilp.DecodeAny(raw)
	if err != nil {
		return ilp.Reject{Code: ilp.CodeInternalError, TriggeredBy: "test.beta", Message: err.Error()}
	}
	return reply
}

// keys are the STREAM keys of the connection a Prepare to beta is on.
func (h *hostilePath) keys(t *testing.T, p ilp.Prepare) *stream.Keys {
	// Beta's credentials are made under its tenant's address: all but
	// the token, the last segment.
	base := p.Destination[:max(strings.LastIndex(p.Destination, "."), 0)]
	_, secret, err := h.beta.running.Deps.StreamCredentials.Open(base, p.Destination)
	if err != nil {
		t.Errorf("not beta's STREAM address %q: %v", p.Destination, err)
		return nil
	}
	k, err := stream.NewKeys(secret)
	if err != nil {
		t.Error(err)
	}
	return k
}

// rewriteReply changes the STREAM packet beta's receiver answered with.
func (h *hostilePath) rewriteReply(t *testing.T, p ilp.Prepare, data []byte, change func(*stream.Packet)) []byte {
	k := h.keys(t, p)
	if k == nil || len(data) == 0 {
		return data
	}
	plain, err := k.Decrypt(nil, data)
	if err != nil {
		t.Errorf("reply does not decrypt: %v", err)
		return data
	}
	sp, err := stream.Decode(plain)
	if err != nil {
		t.Errorf("reply does not decode: %v", err)
		return data
	}
	change(&sp)
	out, err := k.Seal(sp)
	if err != nil {
		t.Errorf("reply does not seal: %v", err)
		return data
	}
	return out
}

// pay quotes 500 cents from alice to a new incoming payment of bob's of
// 1000 cents with the proxy forwarding, then has it behave so and funds
// the payment, and answers the payment as its events leave it, once
// finished, and the incoming payment's id.
func (h *hostilePath) pay(t *testing.T, b hostileBehaviour) (outgoingpayment.State, string) {
	t.Helper()
	ctx := context.Background()
	h.set(nil)
	alice, err := createWalletAddress(ctx, h.alpha.operator, map[string]any{"assetId": h.usd[h.alpha], "address": "alice-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := createWalletAddress(ctx, h.beta.operator, map[string]any{"assetId": h.usd[h.beta], "address": "bob-" + uuid.NewString()[:8]})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := createIncomingPayment(ctx, h.beta.operator, map[string]any{"walletAddressId": bob.ID,
		"incomingAmount": map[string]any{"value": "1000", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	var q quoteOut
	testkit.Eventually(t, 10*time.Second, func() bool {
		q, err = createQuote(ctx, h.alpha.operator, map[string]any{"walletAddressId": alice.ID, "receiver": ip.URL,
			"debitAmount": map[string]any{"value": "500", "assetCode": "USD", "assetScale": 2}})
		return err == nil
	}, "no quote: %v", stringer(func() string { return errString(err) }))
	o := newOutgoing(h.alpha.system)
	id, err := o.create(alice.ID, q.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.set(b)
	if err := o.fund(id); err != nil {
		t.Fatal(err)
	}
	var s outgoingpayment.State
	testkit.Eventually(t, 40*time.Second, func() bool {
		s, _, err = h.alpha.running.Backend.OutgoingPayments.Load(ctx, h.alpha.operator.TenantID, id)
		return err == nil && s.Finished()
	}, "payment %s not finished: %+v", id, &s)
	h.set(nil)
	t.Logf("payment %s: sent %d, delivered %d, error %q", s.State, s.Sent, s.Delivered, s.Error)
	return s, ip.ID
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// accountedFor checks the accounting invariant after a hostile exchange:
// the payment's sentAmount is what its ledger account sent, never more than
// its debit amount, the admin API shows the payment as its events do, and
// both ledgers check clean.
func (h *hostilePath) accountedFor(t *testing.T, s outgoingpayment.State) {
	t.Helper()
	ctx := context.Background()
	sent, err := h.alpha.running.Deps.Ledger.TotalSent(ctx, uuid.MustParse(s.ID))
	if err != nil || sent != s.Sent || s.Sent > s.DebitAmount {
		t.Errorf("the payment's account sent %d (%v), the payment says %d of its %d", sent, err, s.Sent, s.DebitAmount)
	}
	var shown outgoingPaymentOut
	ok := hostileWithin(10*time.Second, func() bool {
		shown, err = newOutgoing(h.alpha.system).get(s.ID)
		return err == nil && shown.State == s.State && shown.SentAmount.Value == strconv.FormatUint(s.Sent, 10)
	})
	if !ok {
		t.Errorf("the events say %s, sent %d (error %q); after 10 s the admin API still shows %+v (%v)", s.State, s.Sent, s.Error, shown, err)
	}
	checkLedger(t, h.alpha.system)
	checkLedger(t, h.beta.system)
}

// What a hostile peer or receiver does to one payment of alpha's: whatever
// it answers, the payment ends, sends no more than its debit amount, and
// says what its ledger account sent.
func TestHostileStreamPath(t *testing.T) {
	h := startHostilePath(t)

	// A fulfillment that does not meet the condition is a reject: nothing
	// is sent (RFC 27: the connector checks it, F05).
	t.Run("wrong fulfillment", func(t *testing.T) {
		s, _ := h.pay(t, func(p ilp.Prepare, forward func(ilp.Prepare) ilp.Packet) ilp.Packet {
			reply := forward(p)
			if f, ok := reply.(ilp.Fulfill); ok && p.Amount > 0 {
				_, _ = rand.Read(f.Fulfillment[:])
				return f
			}
			return reply
		})
		if s.State != outgoingpayment.Failed || s.Sent != 0 {
			t.Errorf("payment %s sent %d: %s", s.State, s.Sent, s.Error)
		}
		h.accountedFor(t, s)
	})

	// A receiver that fulfils but says it got nothing broke STREAM: the
	// payment ends, counting what its fulfilled packets took.
	t.Run("receiver claims it got nothing", func(t *testing.T) {
		s, _ := h.pay(t, func(p ilp.Prepare, forward func(ilp.Prepare) ilp.Packet) ilp.Packet {
			reply := forward(p)
			if f, ok := reply.(ilp.Fulfill); ok && p.Amount > 0 {
				f.Data = h.rewriteReply(t, p, f.Data, func(sp *stream.Packet) { sp.PrepareAmount = 0 })
				return f
			}
			return reply
		})
		if s.State != outgoingpayment.Failed || s.Sent == 0 {
			t.Errorf("payment %s sent %d: %s", s.State, s.Sent, s.Error)
		}
		h.accountedFor(t, s)
	})

	// A receiver that claims far more than it got ends the payment early (it
	// hurts itself): never does the sender send more than it holds.
	t.Run("receiver claims a huge delivery", func(t *testing.T) {
		s, _ := h.pay(t, func(p ilp.Prepare, forward func(ilp.Prepare) ilp.Packet) ilp.Packet {
			reply := forward(p)
			switch r := reply.(type) {
			case ilp.Fulfill:
				r.Data = h.rewriteReply(t, p, r.Data, func(sp *stream.Packet) { sp.PrepareAmount = 1 << 40 })
				return r
			case ilp.Reject:
				r.Data = h.rewriteReply(t, p, r.Data, func(sp *stream.Packet) { sp.PrepareAmount = 1 << 40 })
				return r
			}
			return reply
		})
		if s.Sent > 500 {
			t.Errorf("payment %s sent %d: %s", s.State, s.Sent, s.Error)
		}
		h.accountedFor(t, s)
	})

	// T04 forever: the sender gives up after its retries, not spinning.
	t.Run("T04 forever", func(t *testing.T) {
		began := time.Now()
		s, _ := h.pay(t, func(p ilp.Prepare, forward func(ilp.Prepare) ilp.Packet) ilp.Packet {
			return ilp.Reject{Code: ilp.CodeInsufficientLiquidity, TriggeredBy: "test.beta", Message: "no"}
		})
		if s.State != outgoingpayment.Failed || s.Sent != 0 || time.Since(began) > 30*time.Second {
			t.Errorf("payment %s sent %d after %v: %s", s.State, s.Sent, time.Since(began), s.Error)
		}
		h.accountedFor(t, s)
	})

	// An F08 that allows nothing ends the payment.
	t.Run("F08 with a max of 0", func(t *testing.T) {
		s, _ := h.pay(t, func(p ilp.Prepare, forward func(ilp.Prepare) ilp.Packet) ilp.Packet {
			if p.Amount == 0 {
				return forward(p)
			}
			return ilp.Reject{Code: ilp.CodeAmountTooLarge, TriggeredBy: "test.beta",
				Data: ilp.EncodeAmountTooLarge(ilp.AmountTooLarge{ReceivedAmount: p.Amount, MaximumAmount: 0})}
		})
		if s.State != outgoingpayment.Failed || s.Sent != 0 {
			t.Errorf("payment %s sent %d: %s", s.State, s.Sent, s.Error)
		}
		h.accountedFor(t, s)
	})

	// A Reject's code is any three ASCII bytes, NUL among them. Postgres
	// refuses NUL in text and jsonb: a payment's error that kept it would be
	// set aside by the projections, the payment shown SENDING for ever and
	// its outgoing_payment.failed webhook never made.
	t.Run("reject code with NUL", func(t *testing.T) {
		s, _ := h.pay(t, func(p ilp.Prepare, forward func(ilp.Prepare) ilp.Packet) ilp.Packet {
			return ilp.Reject{Code: "F\x00\x00", TriggeredBy: "test.beta", Message: "x"}
		})
		if s.State != outgoingpayment.Failed || s.Sent != 0 {
			t.Errorf("payment %s sent %d: %q", s.State, s.Sent, s.Error)
		}
		h.accountedFor(t, s)
		if webhookEventIDOf(t, h.alpha.system, s.ID, "outgoing_payment.failed") == "" {
			t.Errorf("no outgoing_payment.failed webhook event for the failed payment")
		}
	})

	// The same through the receiver's own decline (F99 closing the
	// connection with data on stream 1), whose reason becomes the payment's
	// error.
	t.Run("receiver declines with NUL in its reason", func(t *testing.T) {
		s, _ := h.pay(t, func(p ilp.Prepare, forward func(ilp.Prepare) ilp.Packet) ilp.Packet {
			if p.Amount == 0 {
				return forward(p)
			}
			k := h.keys(t, p)
			if k == nil || stream.Condition(k.Fulfillment(p.Data)) != p.ExecutionCondition {
				return forward(p) // the probe's packets: only the payment's are declined
			}
			req, err := k.Open(p.Data, stream.TypePrepare)
			if err != nil {
				t.Errorf("prepare: %v", err)
				return forward(p)
			}
			data, _ := k.Seal(stream.Packet{Version: stream.Version, Type: stream.TypeReject, Sequence: req.Sequence, PrepareAmount: p.Amount,
				Frames: []stream.Frame{stream.ConnectionClose{Code: stream.ApplicationError, Message: "m"}, stream.StreamData{StreamID: 1, Data: []byte("no\x00way")}}})
			return ilp.Reject{Code: ilp.CodeFinalApplicationError, TriggeredBy: "test.beta", Data: data}
		})
		if s.State != outgoingpayment.Failed || s.Sent != 0 {
			t.Errorf("payment %s sent %d: %q", s.State, s.Sent, s.Error)
		}
		h.accountedFor(t, s)
	})

	// A Fulfill that comes back more than 5 s (Rafiki's two-phase timeout)
	// after the Prepare, well within its expiry, still finds its money held:
	// were the hold expired, the post would fail, alpha's sender be answered
	// T00 and send the packet again, while beta's receiver kept the first,
	// so that beta received the payment twice and alpha counted it once.
	t.Run("fulfill after the hold's timeout", func(t *testing.T) {
		var delayed atomic.Bool
		s, ipID := h.pay(t, func(p ilp.Prepare, forward func(ilp.Prepare) ilp.Packet) ilp.Packet {
			reply := forward(p)
			if _, ok := reply.(ilp.Fulfill); ok && p.Amount > 0 && delayed.CompareAndSwap(false, true) {
				time.Sleep(5500 * time.Millisecond)
			}
			return reply
		})
		h.accountedFor(t, s)
		var received string
		ok := hostileWithin(10*time.Second, func() bool {
			got, err := getIncomingPayment(context.Background(), h.beta.operator, ipID)
			received = got.ReceivedAmount.Value
			return err == nil && received == strconv.FormatUint(s.Delivered, 10)
		})
		if !ok {
			t.Errorf("alpha's payment %s sent %d and delivered %d; beta's incoming payment received %s", s.State, s.Sent, s.Delivered, received)
		}
	})

	// A path that probes honestly (a rate of 0.995, within the quote's 1 %
	// slippage), then takes the money packets down to one unit with F08s
	// and passes each on as nothing: a packet of one unit asking for the
	// floor of 0.99 asked for nothing, and the path kept the whole payment.
	// Each packet asks for its amount at the minimum rate rounded up, as
	// Rafiki's sender does (one unit of rounding allowed on the last), and a
	// packet the path's rate cannot deliver that for ends the payment.
	t.Run("path keeping one-unit packets", func(t *testing.T) {
		s, ipID := h.pay(t, func(p ilp.Prepare, forward func(ilp.Prepare) ilp.Packet) ilp.Packet {
			k := h.keys(t, p)
			if p.Amount == 0 || k == nil || stream.Condition(k.Fulfillment(p.Data)) != p.ExecutionCondition {
				p.Amount = p.Amount * 995 / 1000
				return forward(p)
			}
			if p.Amount > 1 {
				return ilp.Reject{Code: ilp.CodeAmountTooLarge, TriggeredBy: "test.beta",
					Data: ilp.EncodeAmountTooLarge(ilp.AmountTooLarge{ReceivedAmount: p.Amount, MaximumAmount: 1})}
			}
			p.Amount = 0
			return forward(p)
		})
		h.accountedFor(t, s)
		var received uint64
		hostileWithin(5*time.Second, func() bool {
			got, err := getIncomingPayment(context.Background(), h.beta.operator, ipID)
			if err != nil {
				return false
			}
			received, _ = strconv.ParseUint(got.ReceivedAmount.Value, 10, 64)
			return received >= s.Delivered
		})
		if lost := s.Sent - min(s.Sent, received); lost > s.Sent/100+1 {
			t.Errorf("payment %s sent %d and beta's receiver got %d (the payment says it delivered %d): the path kept %d, "+
				"the quote's minimum rate allows %d", s.State, s.Sent, received, s.Delivered, lost, s.Sent/100+1)
		}
	})
}

// A path refuses the payment's money (T04) and holds each packet closing
// its connection until just before it expires, then answers T00. The
// close had no deadline of its own and was sent again on T errors, so one
// attempt ran for minutes, past the ack_wait its 20 s keep within: the
// payment's event was handed to another attempt meanwhile, and a payment
// allowed one attempt made several, each holding a worker's slot.
func TestHostilePathHoldingTheClose(t *testing.T) {
	h := startHostilePath(t)
	release := make(chan struct{})
	defer close(release)
	var (
		mu          sync.Mutex
		connections int
		paying      bool
	)
	s, _ := h.pay(t, func(p ilp.Prepare, forward func(ilp.Prepare) ilp.Packet) ilp.Packet {
		k := h.keys(t, p)
		if k == nil {
			return forward(p)
		}
		if p.Amount > 0 && stream.Condition(k.Fulfillment(p.Data)) == p.ExecutionCondition {
			mu.Lock()
			paying = true
			mu.Unlock()
			return ilp.Reject{Code: ilp.CodeInsufficientLiquidity, TriggeredBy: "test.beta"}
		}
		sp, err := k.Open(p.Data, stream.TypePrepare)
		if err != nil {
			return forward(p)
		}
		for _, f := range sp.Frames {
			switch f.(type) {
			case stream.ConnectionNewAddress:
				mu.Lock()
				connections++
				paying = false
				mu.Unlock()
			case stream.ConnectionClose:
				mu.Lock()
				held := paying
				mu.Unlock()
				if !held {
					return forward(p) // the probe's connection
				}
				select {
				case <-release:
				case <-time.After(time.Until(p.ExpiresAt) - 1500*time.Millisecond):
				}
				return ilp.Reject{Code: ilp.CodeInternalError, TriggeredBy: "test.beta"}
			}
		}
		return forward(p)
	})
	h.accountedFor(t, s)
	mu.Lock()
	defer mu.Unlock()
	if s.State != outgoingpayment.Failed || s.Sent != 0 || connections > 2 {
		t.Errorf("payment %s sent %d after %d attempts, over %d STREAM connections: one attempt, a probe's connection and a payment's",
			s.State, s.Sent, s.StateAttempts, connections)
	}
}

// A peer sending to this instance: a STREAM packet that expired before it
// arrived is not fulfilled, and moves nothing.
func TestHostilePeerSendsAnExpiredPrepare(t *testing.T) {
	h := startHostilePath(t)
	ctx := context.Background()
	beta := h.beta
	bob, err := createWalletAddress(ctx, beta.operator, map[string]any{"assetId": h.usd[beta], "address": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := createIncomingPayment(ctx, beta.operator, map[string]any{"walletAddressId": bob.ID,
		"incomingAmount": map[string]any{"value": "1000", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	destination, secret, err := beta.running.Deps.StreamCredentials.Generate("test.beta."+beta.tenantID, stream.Tag{ID: uuid.MustParse(ip.ID)})
	if err != nil {
		t.Fatal(err)
	}
	k, err := stream.NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	data, err := k.Seal(stream.Packet{Version: stream.Version, Type: stream.TypePrepare, Sequence: 1, PrepareAmount: 0,
		Frames: []stream.Frame{stream.StreamMoney{StreamID: 1, Shares: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	send := func(expiresAt time.Time) ilp.Packet {
		return h.forward(ilp.Prepare{Amount: 10, ExpiresAt: expiresAt.Truncate(time.Millisecond),
			ExecutionCondition: stream.Condition(k.Fulfillment(data)), Destination: destination, Data: data})
	}
	var reply ilp.Packet
	testkit.Eventually(t, 10*time.Second, func() bool {
		reply = send(time.Now().Add(-time.Minute))
		rj, ok := reply.(ilp.Reject)
		return !ok || rj.Code != ilp.CodeUnreachable // the peer or payment not known yet
	}, "beta does not know the payment: %+v", &reply)
	if _, fulfilled := reply.(ilp.Fulfill); fulfilled {
		got, _ := getIncomingPayment(ctx, beta.operator, ip.ID)
		t.Errorf("a Prepare that expired a minute ago was fulfilled (the incoming payment received %s), want R00", got.ReceivedAmount.Value)
	}
}

// hostileWithin polls cond until it holds or timeout passes.
func hostileWithin(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
