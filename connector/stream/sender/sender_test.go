package sender

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/stream"
)

const receiverBase = "test.receiver"

// network is a path to this repository's STREAM receiver, in memory: one
// hop that may refuse packets (temporary rejects, F08 above a max packet
// amount, before or after it converts) and converts amounts at a rate,
// rounding down as connectors do, then the receiver, which may decline
// every packet after some number, or every packet carrying data. It logs
// the payment's packets (those that can be fulfilled) with their data and
// answer.
type network struct {
	creds *stream.Credentials
	keys  *stream.Keys
	asset *stream.Asset

	mu sync.Mutex
	// rate converts source units into the receiver's; nil is one to one.
	rate *big.Rat
	// maxPacket, when set, refuses larger packets F08 with the amounts,
	// or without them when f08Bare; maxAfterRate compares the converted
	// amount, as a hop after the conversion does.
	maxPacket    uint64
	f08Bare      bool
	maxAfterRate bool
	// temporary rejects the first packets of an amount with these codes,
	// one each; always rejects all of them with its code.
	temporary []string
	always    string
	// hangAfter holds every packet of an amount after that many were
	// fulfilled until its context ends.
	hangAfter int
	// declineAfter has the receiver decline (F99) every fulfillable packet
	// after that many were fulfilled.
	declineAfter int
	// unreachable rejects everything F02.
	unreachable bool
	// declineData, when set, has the receiver decline every packet that
	// carries data (F99) closing the connection with these bytes as its
	// reason, as Rafiki's receiver refuses a payment's data.
	declineData []byte

	fulfilled    int
	sourceTotal  uint64
	receiveTotal uint64
	prepares     int
	log          []logged
}

// logged is a payment's packet: the data it carried on the payment's
// stream, and its answer (fulfilled, a reject's code, or no answer).
type logged struct {
	data   string
	answer string
}

func newNetwork(t *testing.T) (*network, string, []byte) {
	t.Helper()
	creds, err := stream.NewCredentials(make([]byte, stream.SecretLength))
	if err != nil {
		t.Fatal(err)
	}
	address, secret, err := creds.Generate(receiverBase, stream.Tag{ID: uuid.New()})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := stream.NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	return &network{creds: creds, keys: keys, asset: &stream.Asset{Code: "EUR", Scale: 2}, declineAfter: -1, hangAfter: -1}, address, secret
}

func (n *network) send(ctx context.Context, p ilp.Prepare) (ilp.Packet, error) {
	answer, err := n.answer(ctx, p)
	if request, ok := n.payment(p); ok {
		l := logged{data: string(dataOf(request)), answer: "no answer"}
		switch a := answer.(type) {
		case ilp.Fulfill:
			l.answer = "fulfilled"
		case ilp.Reject:
			l.answer = a.Code
		}
		n.mu.Lock()
		n.log = append(n.log, l)
		n.mu.Unlock()
	}
	return answer, err
}

// payment reads the STREAM packet of a Prepare of the payment's, one that
// can be fulfilled.
func (n *network) payment(p ilp.Prepare) (stream.Packet, bool) {
	request, err := n.keys.Open(p.Data, stream.TypePrepare)
	if err != nil || stream.Condition(n.keys.Fulfillment(p.Data)) != p.ExecutionCondition {
		return stream.Packet{}, false
	}
	return request, true
}

// dataOf is what a STREAM packet carries on the payment's stream.
func dataOf(p stream.Packet) []byte {
	var data []byte
	for _, f := range p.Frames {
		if d, ok := f.(stream.StreamData); ok && d.StreamID == streamID {
			data = append(data, d.Data...)
		}
	}
	return data
}

func (n *network) answer(ctx context.Context, p ilp.Prepare) (ilp.Packet, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := ilp.EncodePrepare(p); err != nil {
		return ilp.Reject{Code: ilp.CodeBadRequest, TriggeredBy: "test.hop", Message: err.Error()}, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.prepares++
	if n.unreachable {
		return ilp.Reject{Code: ilp.CodeUnreachable, TriggeredBy: "test.hop", Message: "no route"}, nil
	}
	if p.Amount > 0 && n.always != "" {
		return ilp.Reject{Code: n.always, TriggeredBy: "test.hop"}, nil
	}
	if p.Amount > 0 && n.hangAfter >= 0 && n.fulfilled >= n.hangAfter {
		n.mu.Unlock()
		<-ctx.Done()
		n.mu.Lock()
		return nil, ctx.Err()
	}
	if p.Amount > 0 && len(n.temporary) > 0 {
		code := n.temporary[0]
		n.temporary = n.temporary[1:]
		return ilp.Reject{Code: code, TriggeredBy: "test.hop"}, nil
	}
	converted := p.Amount
	if n.rate != nil {
		converted = mulFloor(p.Amount, n.rate)
	}
	compared := p.Amount
	if n.maxAfterRate {
		compared = converted
	}
	if n.maxPacket > 0 && compared > n.maxPacket {
		rj := ilp.Reject{Code: ilp.CodeAmountTooLarge, TriggeredBy: "test.hop"}
		if !n.f08Bare {
			rj.Data = ilp.EncodeAmountTooLarge(ilp.AmountTooLarge{ReceivedAmount: compared, MaximumAmount: n.maxPacket})
		}
		return rj, nil
	}
	source := p.Amount
	p.Amount = converted
	in, answer := n.creds.Receive(receiverBase, p, n.asset)
	if answer != nil {
		return answer, nil
	}
	if n.declineAfter >= 0 && n.fulfilled >= n.declineAfter {
		return in.FinalDecline(nil), nil
	}
	if n.declineData != nil && len(in.Data) > 0 {
		return n.declineWithData(p, in.Amount)
	}
	n.fulfilled++
	n.sourceTotal += source
	n.receiveTotal += in.Amount
	return in.Accept(n.receiveTotal), nil
}

// declineWithData is the receiver's F99 that closes the connection with
// its reason on the payment's stream.
func (n *network) declineWithData(p ilp.Prepare, received uint64) (ilp.Packet, error) {
	request, err := n.keys.Open(p.Data, stream.TypePrepare)
	if err != nil {
		return nil, err
	}
	data, err := n.keys.Seal(stream.Packet{Version: stream.Version, Type: stream.TypeReject, Sequence: request.Sequence, PrepareAmount: received,
		Frames: []stream.Frame{stream.ConnectionClose{Code: stream.NoError}, stream.StreamData{StreamID: streamID, Data: n.declineData}}})
	if err != nil {
		return nil, err
	}
	return ilp.Reject{Code: ilp.CodeFinalApplicationError, TriggeredBy: receiverBase, Data: data}, nil
}

func (n *network) totals() (fulfilled int, source, received uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fulfilled, n.sourceTotal, n.receiveTotal
}

func testSender(n *network) Sender {
	return Sender{Send: n.send, RetryDelay: time.Millisecond, RetryDelayMax: 5 * time.Millisecond, InFlightMax: 4}
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*network)
		low, high *big.Rat
		maxPacket uint64
	}{
		{"one to one", func(*network) {}, big.NewRat(1, 1), big.NewRat(1_000_000_000_001, 1_000_000_000_000), math.MaxUint64},
		{"a rate of 0.5", func(n *network) { n.rate = big.NewRat(1, 2) }, big.NewRat(1, 2), big.NewRat(500_000_000_001, 1_000_000_000_000), math.MaxUint64},
		{"F08 with its amounts", func(n *network) { n.maxPacket = 1000 }, big.NewRat(1, 1), big.NewRat(1001, 1000), 1000},
		{"F08 after a rate of 0.5", func(n *network) { n.rate, n.maxPacket, n.maxAfterRate = big.NewRat(1, 2), 700, true },
			big.NewRat(1, 2), big.NewRat(701, 1400), 1400},
		{"F08 without its amounts", func(n *network) { n.maxPacket, n.f08Bare = 1234, true }, big.NewRat(1, 1), big.NewRat(1235, 1234), 1234},
		{"temporary rejects", func(n *network) { n.temporary = []string{ilp.CodeInsufficientLiquidity, ilp.CodeInternalError} },
			big.NewRat(1, 1), big.NewRat(1_000_000_000_001, 1_000_000_000_000), math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, address, secret := newNetwork(t)
			tt.setup(n)
			ctx := context.Background()
			c, err := testSender(n).Connect(ctx, address, secret)
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			if a, ok := c.Asset(); !ok || a != *n.asset {
				t.Fatalf("asset %+v %v, want %+v", a, ok, *n.asset)
			}
			p, err := c.Probe(ctx)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if p.RateLow.Cmp(tt.low) != 0 || p.RateHigh.Cmp(tt.high) != 0 || p.MaxPacketAmount != tt.maxPacket {
				t.Fatalf("probe [%s, %s) max %d, want [%s, %s) max %d", p.RateLow, p.RateHigh, p.MaxPacketAmount, tt.low, tt.high, tt.maxPacket)
			}
			if fulfilled, _, _ := n.totals(); fulfilled != 0 {
				t.Fatalf("the probe paid %d packets", fulfilled)
			}
		})
	}
}

func TestPay(t *testing.T) {
	tests := []struct {
		name          string
		setup         func(*network)
		fixedDelivery bool
		amount        uint64
		// afterQuote changes the path between the quote and the payment.
		afterQuote func(*network)
		// sent, delivered and packets are the outcome when the payment
		// completes; err is the error it ends with otherwise.
		sent, delivered uint64
		packets         int
		err             error
		code            string
	}{
		{name: "one packet", setup: func(*network) {}, amount: 12345, sent: 12345, delivered: 12345, packets: 1},
		{name: "a rate of 0.5", setup: func(n *network) { n.rate = big.NewRat(1, 2) }, amount: 10001, sent: 10001, delivered: 5000, packets: 1},
		{name: "packets of the max F08 told", setup: func(n *network) { n.rate, n.maxPacket = big.NewRat(1, 2), 1000 },
			amount: 10500, sent: 10500, delivered: 5250, packets: 11},
		{name: "packets of a max found without F08 amounts", setup: func(n *network) { n.maxPacket, n.f08Bare = 999, true },
			amount: 2000, sent: 2000, delivered: 2000, packets: 3},
		{name: "a fixed delivery at 0.5", setup: func(n *network) { n.rate, n.maxPacket = big.NewRat(1, 2), 1000 },
			fixedDelivery: true, amount: 5000, sent: 10000, delivered: 5000, packets: 10},
		{name: "a fixed delivery that does not divide", setup: func(n *network) { n.rate = big.NewRat(1, 3) },
			fixedDelivery: true, amount: 1000, sent: 3001, delivered: 1000, packets: 1},
		{name: "T04 and T00 sent again", setup: func(n *network) { n.maxPacket = 100 },
			afterQuote: func(n *network) {
				n.temporary = []string{ilp.CodeInsufficientLiquidity, ilp.CodeInternalError, ilp.CodeInsufficientLiquidity}
			},
			amount: 1000, sent: 1000, delivered: 1000, packets: 10},
		{name: "temporary rejects without end", setup: func(*network) {},
			afterQuote: func(n *network) { n.always = ilp.CodeInsufficientLiquidity },
			amount:     1000, err: ErrRetries, code: ilp.CodeInsufficientLiquidity},
		{name: "an F99 from a hop", setup: func(n *network) { n.maxPacket = 100 },
			afterQuote: func(n *network) { n.always = ilp.CodeFinalApplicationError },
			amount:     1000, code: ilp.CodeFinalApplicationError},
		{name: "an F02 from a hop", setup: func(*network) {},
			afterQuote: func(n *network) { n.always = ilp.CodeUnreachable },
			amount:     1000, code: ilp.CodeUnreachable},
		{name: "a payment cancelled with packets in flight", setup: func(n *network) { n.maxPacket = 100 },
			afterQuote: func(n *network) { n.hangAfter = 2 },
			amount:     1000, err: context.DeadlineExceeded},
		{name: "the receiver declines F99", setup: func(n *network) { n.maxPacket = 100 },
			afterQuote: func(n *network) { n.declineAfter = 3 },
			amount:     1000, err: ErrClosed},
		// Packets of one unit at 0.995 deliver nothing: asking for the floor
		// of 0.99 of each, a payment let the path keep it all.
		{name: "a max packet too small to deliver at the minimum rate", setup: func(n *network) { n.rate = big.NewRat(199, 200) },
			afterQuote: func(n *network) { n.maxPacket = 1 },
			amount:     500, err: ErrInsufficientRate},
		{name: "one unit lost to rounding, on the last packet", setup: func(n *network) { n.rate, n.maxPacket = big.NewRat(199, 200), 200 },
			amount: 402, sent: 402, delivered: 399, packets: 3},
		{name: "a rate that fell below the minimum", setup: func(n *network) { n.rate = big.NewRat(1, 2) },
			afterQuote: func(n *network) { n.rate = big.NewRat(2, 5) },
			amount:     1000, code: ilp.CodeInsufficientDestinationAmount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, address, secret := newNetwork(t)
			tt.setup(n)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := testSender(n).Connect(ctx, address, secret)
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			p, err := c.Probe(ctx)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			var q Quote
			if tt.fixedDelivery {
				q, err = QuoteDelivery(p, tt.amount, Terms{Slippage: 0.01})
			} else {
				q, err = QuoteSend(p, tt.amount, Terms{Slippage: 0.01})
			}
			if err != nil {
				t.Fatalf("quote: %v", err)
			}
			if tt.afterQuote != nil {
				n.mu.Lock()
				tt.afterQuote(n)
				n.mu.Unlock()
			}
			payCtx := ctx
			if tt.err == context.DeadlineExceeded {
				var cancel context.CancelFunc
				payCtx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
			}
			out, err := c.Pay(payCtx, q)
			fulfilled, source, received := n.totals()
			if out.Sent != source || out.Delivered != received || out.Packets != fulfilled {
				t.Fatalf("outcome %+v; the receiver was paid %d packets, %d sent, %d received", out, fulfilled, source, received)
			}
			if tt.err != nil || tt.code != "" {
				if tt.err != nil && !errors.Is(err, tt.err) {
					t.Fatalf("Pay: %v, want %v", err, tt.err)
				}
				var rj *RejectError
				if tt.code != "" && (!errors.As(err, &rj) || rj.Code != tt.code) {
					t.Fatalf("Pay: %v, want a %s reject", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pay: %v", err)
			}
			if out.Sent != tt.sent || out.Delivered != tt.delivered || out.Packets != tt.packets {
				t.Fatalf("outcome %+v, want %d sent, %d delivered in %d packets", out, tt.sent, tt.delivered, tt.packets)
			}
			if tt.fixedDelivery && out.Sent > q.SourceAmount {
				t.Fatalf("sent %d, more than the quote's %d", out.Sent, q.SourceAmount)
			}
			if !tt.fixedDelivery && out.Delivered < q.DeliveryAmount {
				t.Fatalf("delivered %d, less than the quote's %d", out.Delivered, q.DeliveryAmount)
			}
			if err := c.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}

// TestPayData sends a payment's data: in every packet until one carrying
// it is fulfilled, again after a temporary reject of one, and a receiver
// declining it with a reason ends the payment with that reason.
func TestPayData(t *testing.T) {
	const data = "name=Alice Smith"
	reason := []byte("the sender failed our checks")
	most := strings.Repeat("d", DataBytesMax)
	tests := []struct {
		name     string
		data     string
		amount   uint64
		inFlight int
		setup    func(*network)
		// log is the payment's packets, as "answer" or "answer with data"
		// (the data being the payment's); with packets in flight at once,
		// in any order.
		log []string
		err error
		// reason is the data of the ApplicationError the payment ends with.
		reason []byte
	}{
		{name: "carried until fulfilled", data: data, inFlight: 1, setup: func(*network) {},
			log: []string{"fulfilled with data", "fulfilled", "fulfilled"}},
		{name: "carried again after a T04", data: data, inFlight: 1,
			setup: func(n *network) { n.temporary = []string{ilp.CodeInsufficientLiquidity} },
			log:   []string{"T04 with data", "fulfilled with data", "fulfilled", "fulfilled"}},
		{name: "carried again after a T00 and a T04", data: data, inFlight: 1,
			setup: func(n *network) { n.temporary = []string{ilp.CodeInternalError, ilp.CodeInsufficientLiquidity} },
			log:   []string{"T00 with data", "T04 with data", "fulfilled with data", "fulfilled", "fulfilled"}},
		{name: "in every packet sent before one is fulfilled", data: data, amount: 500, inFlight: 3, setup: func(*network) {},
			log: []string{"fulfilled", "fulfilled", "fulfilled with data", "fulfilled with data", "fulfilled with data"}},
		{name: "none", inFlight: 1, setup: func(*network) {},
			log: []string{"fulfilled", "fulfilled", "fulfilled"}},
		{name: "the most a Prepare holds", data: most, inFlight: 1, setup: func(*network) {},
			log: []string{"fulfilled with data", "fulfilled", "fulfilled"}},
		{name: "more than a Prepare holds", data: most + "d", inFlight: 1, setup: func(*network) {},
			err: ErrInvalidQuote},
		{name: "declined with a reason", data: data, inFlight: 1, setup: func(n *network) { n.declineData = reason },
			log: []string{"F99 with data"}, err: ErrClosed, reason: reason},
		{name: "declined with a reason after a T04", data: data, inFlight: 1,
			setup: func(n *network) { n.temporary, n.declineData = []string{ilp.CodeInsufficientLiquidity}, reason },
			log:   []string{"T04 with data", "F99 with data"}, err: ErrClosed, reason: reason},
		{name: "declined without a reason", data: data, inFlight: 1, setup: func(n *network) { n.declineAfter = 1 },
			log: []string{"fulfilled with data", "F99"}, err: ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, address, secret := newNetwork(t)
			n.maxPacket = 100
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s := testSender(n)
			s.InFlightMax = tt.inFlight
			c, err := s.Connect(ctx, address, secret)
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			p, err := c.Probe(ctx)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			amount := tt.amount
			if amount == 0 {
				amount = 300
			}
			q, err := QuoteSend(p, amount, Terms{Slippage: 0.01})
			if err != nil {
				t.Fatalf("quote: %v", err)
			}
			q.Data = []byte(tt.data)
			n.mu.Lock()
			tt.setup(n)
			n.mu.Unlock()
			out, err := c.Pay(ctx, q)
			var appErr *ApplicationError
			switch {
			case tt.err == nil && err != nil:
				t.Fatalf("Pay: %v", err)
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Fatalf("Pay: %v, want %v", err, tt.err)
			case errors.As(err, &appErr) != (tt.reason != nil):
				t.Fatalf("Pay: %v, want an application error: %v", err, tt.reason != nil)
			case appErr != nil && !bytes.Equal(appErr.Data, tt.reason):
				t.Fatalf("the application error's data %q, want %q", appErr.Data, tt.reason)
			}
			if fulfilled, source, _ := n.totals(); out.Packets != fulfilled || out.Sent != source {
				t.Fatalf("outcome %+v; the receiver was paid %d packets, %d sent", out, fulfilled, source)
			}
			n.mu.Lock()
			var log []string
			for _, l := range n.log {
				switch l.data {
				case "":
					log = append(log, l.answer)
				case tt.data:
					log = append(log, l.answer+" with data")
				default:
					log = append(log, l.answer+" with other data")
				}
			}
			n.mu.Unlock()
			if tt.inFlight > 1 {
				slices.Sort(log)
			}
			if !slices.Equal(log, tt.log) {
				t.Fatalf("packets %q, want %q", log, tt.log)
			}
		})
	}
}

func TestConnectFails(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*network)
		err   error
	}{
		{"unreachable", func(n *network) { n.unreachable = true }, ErrEstablishment},
		{"no asset told", func(n *network) { n.asset = nil }, ErrUnknownAsset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, address, secret := newNetwork(t)
			tt.setup(n)
			_, err := testSender(n).Connect(context.Background(), address, secret)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Connect: %v, want %v", err, tt.err)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	half := Probe{RateLow: big.NewRat(1, 2), RateHigh: big.NewRat(501, 1000), MaxPacketAmount: 1000}
	tests := []struct {
		name           string
		probe          Probe
		fixedDelivery  bool
		amount         uint64
		terms          Terms
		source, target uint64
		minRate        *big.Rat
		err            error
	}{
		{"send at 0.5 less 1%", half, false, 10000, Terms{Slippage: 0.01}, 10000, 4950, big.NewRat(99, 200), nil},
		{"send with a rest", half, false, 10999, Terms{Slippage: 0.01}, 10999, 4950 + 494, big.NewRat(99, 200), nil},
		{"deliver at 0.5 less 1%", half, true, 5000, Terms{Slippage: 0.01}, 10102, 5000, big.NewRat(99, 200), nil},
		{"deliver without slippage", half, true, 5000, Terms{Slippage: 0}, 10000, 5000, big.NewRat(1, 2), nil},
		{"a min rate of zero", half, true, 5000, Terms{Slippage: 1}, 0, 0, nil, ErrInsufficientRate},
		{"slippage above 1", half, false, 100, Terms{Slippage: 1.5}, 0, 0, nil, ErrInvalidQuote},
		{"slippage NaN", half, false, 100, Terms{Slippage: math.NaN()}, 0, 0, nil, ErrInvalidQuote},
		{"send at an expected rate of 0.5", half, false, 10000, Terms{Slippage: 0.01, Rate: big.NewRat(1, 2)}, 10000, 4950, big.NewRat(99, 200), nil},
		{"deliver at an expected rate of 0.4", half, true, 1000, Terms{Slippage: 0.5, Rate: big.NewRat(2, 5)}, 5000, 1000, big.NewRat(1, 5), nil},
		{"a probe below the expected rate", half, false, 10000, Terms{Slippage: 0.01, Rate: big.NewRat(3, 5)}, 0, 0, nil, ErrInsufficientRate},
		{"a negative expected rate", half, false, 10000, Terms{Rate: big.NewRat(-1, 5)}, 0, 0, nil, ErrInvalidQuote},
		{"nothing to send", half, false, 0, Terms{Slippage: 0.01}, 0, 0, nil, ErrInvalidQuote},
		{"more than fits", Probe{RateLow: big.NewRat(1, 1000), RateHigh: big.NewRat(1, 999), MaxPacketAmount: math.MaxUint64},
			true, math.MaxUint64 / 10, Terms{}, 0, 0, nil, ErrInvalidQuote},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q Quote
			var err error
			if tt.fixedDelivery {
				q, err = QuoteDelivery(tt.probe, tt.amount, tt.terms)
			} else {
				q, err = QuoteSend(tt.probe, tt.amount, tt.terms)
			}
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("quote: %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if q.SourceAmount != tt.source || q.DeliveryAmount != tt.target || q.MinExchangeRate.Cmp(tt.minRate) != 0 || q.FixedDelivery != tt.fixedDelivery {
				t.Fatalf("quote %d → %d at %s, want %d → %d at %s", q.SourceAmount, q.DeliveryAmount, q.MinExchangeRate, tt.source, tt.target, tt.minRate)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	s := Sender{RetryDelay: 10 * time.Millisecond, RetryDelayMax: 50 * time.Millisecond}
	for failures, want := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond, 4: 50 * time.Millisecond, 60: 50 * time.Millisecond} {
		if got := s.retryDelay(failures); got != want {
			t.Errorf("retryDelay(%d) = %v, want %v", failures, got, want)
		}
	}
}
