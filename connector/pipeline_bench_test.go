package connector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/peers"
	"github.com/rafiki-go/rafiki/connector/stream"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/rates"
	"github.com/rafiki-go/rafiki/testkit"
)

// The pipeline benchmarks run packets through ServeHTTP with everything
// that would do I/O kept in memory: the ledger, the receivers, the STREAM
// totals, the rates service's source and the next hop. What they measure is
// the connector's own work on a packet.

const (
	benchTenantID = "00000000-0000-4000-8000-0000000000aa"
	benchUSD      = "00000000-0000-4000-8000-0000000000c1"
	benchEUR      = "00000000-0000-4000-8000-0000000000c2"
	benchPeerA    = "00000000-0000-4000-8000-0000000000a1"
	benchPeerB    = "00000000-0000-4000-8000-0000000000a2"
)

var (
	benchWalletAddress   = uuid.MustParse("00000000-0000-4000-8000-0000000000b1")
	benchIncomingPayment = uuid.MustParse("00000000-0000-4000-8000-0000000000b2")
)

// memLedger holds transfers in memory: a known source, then counts of what
// was held, posted and voided.
type memLedger struct {
	ledger.Ledger
	accounts             map[uuid.UUID]bool
	held, posted, voided atomic.Uint64
}

func (l *memLedger) Transfer(_ context.Context, t ledger.TransferRequest) (ledger.PendingTransfer, error) {
	if !l.accounts[t.Source.ID] {
		return ledger.PendingTransfer{}, ledger.ErrUnknownSourceAccount
	}
	if !l.accounts[t.Destination.ID] {
		return ledger.PendingTransfer{}, ledger.ErrUnknownDestinationAccount
	}
	l.held.Add(1)
	return ledger.PendingTransfer{ID: t.ID}, nil
}

func (l *memLedger) Post(context.Context, ledger.PendingTransfer) error {
	l.posted.Add(1)
	return nil
}

func (l *memLedger) Void(context.Context, ledger.PendingTransfer) error {
	l.voided.Add(1)
	return nil
}

// memReceivers are the receivers, what incoming payments received and the
// connections' totals.
type memReceivers struct {
	byID     map[uuid.UUID]Local
	mu       sync.Mutex
	totals   map[string]uint64
	received atomic.Uint64
}

func (m *memReceivers) Receiver(_ context.Context, id uuid.UUID) (Local, bool, error) {
	l, ok := m.byID[id]
	return l, ok, nil
}

func (m *memReceivers) Add(_ context.Context, connectionID string, amount uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.totals[connectionID] += amount
	return m.totals[connectionID], nil
}

func (m *memReceivers) Received(string, string, uint64) { m.received.Add(1) }

// replayer answers every request with the same status and body, reading
// the request's body as a peer would. It serves one request at a time.
type replayer struct {
	body     []byte
	response http.Response
	reader   reusableBody
	requests int
}

func (r *replayer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	r.requests++
	r.reader.Reset(r.body)
	r.response = http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body: &r.reader, ContentLength: int64(len(r.body)), Request: req}
	return &r.response, nil
}

// responseSink is a ResponseWriter kept across requests, as a server's
// connection keeps its buffers.
type responseSink struct {
	header http.Header
	status int
	body   []byte
}

func (s *responseSink) Header() http.Header { return s.header }

func (s *responseSink) WriteHeader(status int) { s.status = status }

func (s *responseSink) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	s.body = append(s.body, b...)
	return len(b), nil
}

func (s *responseSink) reset() {
	clear(s.header)
	s.status = 0
	s.body = s.body[:0]
}

// reusableBody is a request body read again for every request.
type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

type benchRig struct {
	conn     *Connector
	creds    *stream.Credentials
	ledger   *memLedger
	locals   *memReceivers
	nextHop  *replayer
	received []byte
}

// newBenchRig: peer A (USD, token "token-a") sends; peer B (EUR, routes
// test.b) is reached through an in-memory round tripper that fulfills;
// 1 USD buys 0.5 EUR; the wallet address and the incoming payment receive
// in EUR.
func newBenchRig(b *testing.B) *benchRig {
	b.Helper()
	table := peers.NewTable()
	var seq uint64
	apply := func(tenantID, id string, ev events.Event) {
		seq++
		if err := table.Apply(events.Envelope{AggregateID: id, TenantID: tenantID, Type: ev.EventType(), Sequence: seq}, ev); err != nil {
			b.Fatal(err)
		}
	}
	apply(benchTenantID, benchUSD, &events.AssetCreated{Code: "USD", Scale: 2, Ledger: 1})
	apply(benchTenantID, benchEUR, &events.AssetCreated{Code: "EUR", Scale: 2, Ledger: 2})
	maxPacketAmount := uint64(1_000_000)
	apply(benchTenantID, benchPeerA, &events.PeerCreated{AssetID: benchUSD, StaticILPAddress: "test.a", MaxPacketAmount: &maxPacketAmount,
		IncomingAuthTokens: []string{"token-a"}, OutgoingAuthToken: "to-test.a", OutgoingEndpoint: "http://a.example/ilp"})
	apply(benchTenantID, benchPeerB, &events.PeerCreated{AssetID: benchEUR, StaticILPAddress: "test.b",
		IncomingAuthTokens: []string{"token-b"}, OutgoingAuthToken: "to-test.b", OutgoingEndpoint: "http://b.example/ilp"})

	fulfill, err := ilp.EncodeFulfill(ilp.Fulfill{Fulfillment: benchFulfillment, Data: []byte("thanks")})
	if err != nil {
		b.Fatal(err)
	}
	hop := &replayer{body: fulfill}
	ratesSource := &replayer{body: []byte(`{"base":"USD","rates":{"EUR":0.5}}`)}
	r := rates.New("http://rates.example/", nil, time.Hour, &http.Client{Transport: ratesSource})

	eur := peers.Asset{ID: benchEUR, Code: "EUR", Scale: 2, Ledger: 2}
	locals := &memReceivers{totals: map[string]uint64{}, byID: map[uuid.UUID]Local{
		benchWalletAddress: {Account: ledger.Account{ID: benchWalletAddress, Type: ledger.WebMonetization, AssetID: uuid.MustParse(benchEUR), Ledger: 2},
			Asset: eur, TenantID: benchTenantID},
		benchIncomingPayment: {Account: ledger.Account{ID: benchIncomingPayment, Type: ledger.Incoming, AssetID: uuid.MustParse(benchEUR), Ledger: 2},
			Asset: eur, TenantID: benchTenantID, IncomingPaymentID: benchIncomingPayment.String()},
	}}
	l := &memLedger{accounts: map[uuid.UUID]bool{uuid.MustParse(benchPeerA): true, uuid.MustParse(benchPeerB): true,
		benchWalletAddress: true, benchIncomingPayment: true}}
	// The application's client has a timeout too (app.NewConnector), which
	// its transport, an http.Transport, leaves to the packet's own
	// deadline, always the sooner; a client given another round tripper
	// would start a timer and a goroutine of its own for every request.
	client := &http.Client{Transport: hop}
	creds, err := stream.NewCredentials(bytes.Repeat([]byte{5}, stream.SecretLength))
	if err != nil {
		b.Fatal(err)
	}
	conn := New(Config{ILPAddress: "test.rafiki", RatePerMinute: 1 << 40, Stream: creds,
		Receivers: locals, Outcomes: locals, Totals: locals}, table, r, l, client, slog.New(slog.DiscardHandler))
	return &benchRig{conn: conn, creds: creds, ledger: l, locals: locals, nextHop: hop}
}

var benchFulfillment = [32]byte{1, 2, 3}

// streamPrepare is a sender's STREAM money packet to tag, as
// ilp-protocol-stream sends one: 1,000 USD cents on stream 1, asking at
// least 490 EUR cents to arrive.
func (r *benchRig) streamPrepare(b *testing.B, tag stream.Tag) (ilp.Prepare, *stream.Keys) {
	b.Helper()
	address, secret, err := r.creds.Generate("test.rafiki", tag)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := stream.NewKeys(secret)
	if err != nil {
		b.Fatal(err)
	}
	data, err := keys.Seal(stream.Packet{Version: stream.Version, Type: stream.TypePrepare, Sequence: 3, PrepareAmount: 490,
		Frames: []stream.Frame{stream.StreamMoney{StreamID: 1, Shares: 1}}})
	if err != nil {
		b.Fatal(err)
	}
	return ilp.Prepare{Amount: 1000, ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Millisecond),
		ExecutionCondition: stream.Condition(keys.Fulfillment(data)), Destination: address, Data: data}, keys
}

// serve posts the Prepares as peer A through ServeHTTP b.N times, one after
// another, and checks the last reply, answering it and the index of its
// Prepare. Besides ns/op it reports cpu-ns/op, the process's CPU time per
// packet (the garbage collector's included), which other work on the
// machine does not inflate.
func (r *benchRig) serve(b *testing.B, prepares ...ilp.Prepare) (ilp.Packet, int) {
	b.Helper()
	raws := make([][]byte, len(prepares))
	for i, p := range prepares {
		raw, err := ilp.EncodePrepare(p)
		if err != nil {
			b.Fatal(err)
		}
		raws[i] = raw
	}
	body := &reusableBody{}
	req := (&http.Request{Method: http.MethodPost, Header: http.Header{
		"Authorization": {"Bearer token-a"}, "Content-Type": {ContentType}},
		Body: body}).WithContext(context.Background())
	w := &responseSink{header: http.Header{}}
	last := -1
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		if last < 0 {
			cpu = testkit.ProcessCPU()
		}
		last = (last + 1) % len(raws)
		w.reset()
		body.Reset(raws[last])
		req.ContentLength = int64(len(raws[last]))
		r.conn.ServeHTTP(w, req)
		if w.status != http.StatusOK || len(w.body) == 0 || w.body[0] != byte(ilp.TypeFulfill) {
			b.Fatalf("answer %d %x", w.status, w.body)
		}
	}
	if cpu > 0 {
		b.ReportMetric(float64(testkit.ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
	}
	reply, err := ilp.DecodeAny(w.body)
	if err != nil {
		b.Fatal(err)
	}
	return reply, last
}

// BenchmarkPipelineReceive is an ILP-over-HTTP Prepare carrying a STREAM
// money packet to a receiver of this instance, answered with its Fulfill:
// decoding, the peer's token, the STREAM token, the rate, the limits,
// decrypting and reading the frames, the ledger's hold and post, the
// connection's total, the encrypted reply and its encoding.
func BenchmarkPipelineReceive(b *testing.B) {
	for _, c := range []struct {
		name string
		tag  stream.Tag
		// newConnection makes every packet its connection's first: the
		// destination's token is opened and its keys derived each time.
		newConnection bool
	}{
		{"wallet address", stream.Tag{ID: benchWalletAddress}, false},
		{"wallet address with receipts", stream.Tag{ID: benchWalletAddress, Receipt: &stream.ReceiptSetup{Nonce: [16]byte{1}, Secret: [32]byte{2}}}, false},
		{"incoming payment", stream.Tag{ID: benchIncomingPayment}, false},
		{"wallet address, first packet of its connection", stream.Tag{ID: benchWalletAddress}, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := newBenchRig(b)
			// Twice as many connections as Find keeps: each is gone
			// when its turn comes again.
			connections := 1
			if c.newConnection {
				connections = 20_000
			}
			prepares := make([]ilp.Prepare, connections)
			keys := make([]*stream.Keys, connections)
			for i := range connections {
				prepares[i], keys[i] = r.streamPrepare(b, c.tag)
			}
			reply, last := r.serve(b, prepares...)
			f, ok := reply.(ilp.Fulfill)
			if !ok {
				b.Fatal("not fulfilled")
			}
			p := prepares[last]
			answer, err := keys[last].Open(f.Data, stream.TypeFulfill)
			if err != nil || answer.PrepareAmount != 500 || sha256.Sum256(f.Fulfillment[:]) != p.ExecutionCondition {
				b.Fatalf("reply %+v %v", answer, err)
			}
			if n := r.ledger.posted.Load(); n != r.ledger.held.Load() || n == 0 {
				b.Fatalf("%d transfers held, %d posted", r.ledger.held.Load(), n)
			}
		})
	}
}

// BenchmarkPipelineForward is an ILP-over-HTTP Prepare forwarded to the
// peer its destination routes to, converted into the peer's asset, and the
// peer's Fulfill answered: the same steps up to the rate, then the ledger's
// hold, the Prepare encoded with its new expiry, the HTTP request to the
// peer through an in-memory round tripper, its answer decoded and checked,
// the post, and the Fulfill encoded.
func BenchmarkPipelineForward(b *testing.B) {
	r := newBenchRig(b)
	p := ilp.Prepare{Amount: 1000, ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Millisecond),
		ExecutionCondition: sha256.Sum256(benchFulfillment[:]), Destination: "test.b.bob.payment-7", Data: bytes.Repeat([]byte{7}, 80)}
	reply, _ := r.serve(b, p)
	f, ok := reply.(ilp.Fulfill)
	if !ok || f.Fulfillment != benchFulfillment || string(f.Data) != "thanks" {
		b.Fatalf("reply %+v", f)
	}
	if n := r.ledger.posted.Load(); n != r.ledger.held.Load() || n == 0 || r.nextHop.requests == 0 {
		b.Fatalf("%d transfers held, %d posted, %d forwarded", r.ledger.held.Load(), n, r.nextHop.requests)
	}
}
