package connector_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/peers"
	"github.com/rafiki-go/rafiki/connector/stream"
	"github.com/rafiki-go/rafiki/connector/stream/sender"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/peer"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/ledger/postgres"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/rates"
	"github.com/rafiki-go/rafiki/testkit"
)

const tenantID = "00000000-0000-4000-8000-0000000000aa"

var (
	walletAddressID   = uuid.MustParse("00000000-0000-4000-8000-0000000000b1")
	incomingPaymentID = uuid.MustParse("00000000-0000-4000-8000-0000000000b2")
	closedPaymentID   = uuid.MustParse("00000000-0000-4000-8000-0000000000b3")
	expiredPaymentID  = uuid.MustParse("00000000-0000-4000-8000-0000000000b4")
	// othersWalletID is a wallet address of another tenant than the peers'.
	othersWalletID = uuid.MustParse("00000000-0000-4000-8000-0000000000b5")
)

// localReceivers are the instance's STREAM receivers as the test sets them
// up, what incoming payments were told they received, and the connections'
// totals.
type localReceivers struct {
	mu       sync.Mutex
	byID     map[uuid.UUID]connector.Local
	recorded []uint64
	totals   map[string]uint64
	partials []connector.PartialPayment
	refuse   *string
}

func (l *localReceivers) Receiver(_ context.Context, id uuid.UUID) (connector.Local, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.byID[id]
	return r, ok, nil
}

func (l *localReceivers) Received(_, _ string, amount uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recorded = append(l.recorded, amount)
}

// decide plays the account servicing entity deciding partial payments:
// it keeps what it was asked and answers with answer (accept by default).
func (l *localReceivers) Decide(_ context.Context, p connector.PartialPayment) (bool, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partials = append(l.partials, p)
	if l.refuse != nil {
		return false, *l.refuse
	}
	return true, ""
}

func (l *localReceivers) Add(_ context.Context, connectionID string, amount uint64) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.totals[connectionID] += amount
	return l.totals[connectionID], nil
}

// nextHop plays the peer packets are forwarded to: answer decides what it
// answers to each Prepare it receives, which it keeps.
type nextHop struct {
	mu       sync.Mutex
	received []ilp.Prepare
	tokens   []string
	answer   func(p ilp.Prepare) (status int, reply []byte)
}

func (h *nextHop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p, err := ilp.DecodePrepare(body)
	if err != nil || r.Header.Get("Content-Type") != connector.ContentType {
		http.Error(w, "bad packet", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.received = append(h.received, p)
	h.tokens = append(h.tokens, r.Header.Get("Authorization"))
	answer := h.answer
	h.mu.Unlock()
	status, reply := answer(p)
	w.WriteHeader(status)
	_, _ = w.Write(reply)
}

func (h *nextHop) last() (ilp.Prepare, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.received[len(h.received)-1], h.tokens[len(h.tokens)-1]
}

func (h *nextHop) set(answer func(p ilp.Prepare) (int, []byte)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answer = answer
}

var fulfillment = [32]byte{1, 2, 3}

func fulfilled(ilp.Prepare) (int, []byte) {
	b, _ := ilp.EncodeFulfill(ilp.Fulfill{Fulfillment: fulfillment, Data: []byte("thanks")})
	return http.StatusOK, b
}

type rig struct {
	url      string
	conn     *connector.Connector
	ledgers  map[string]uint32
	creds    *stream.Credentials
	locals   *localReceivers
	ledger   ledger.Ledger
	hopB     *nextHop
	hopC     *nextHop
	peerA    string
	peerB    string
	peerC    string
	peerD    string
	usd, eur string
}

// newRig: peer A (USD, token "token-a", packets up to 5,000, 10,000 of
// liquidity) sends; peer B (USD, routes test.b) and peer C (EUR, routes
// test.c) are next hops served by httptest servers; 1 USD buys 0.5 EUR.
// Peer D (USD, test.d, served by B's server) has no ledger account yet.
func newRig(t *testing.T, ratePerMinute int) *rig {
	t.Helper()
	ctx := context.Background()
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	keys := testkit.Keyring(t, n.JS)
	sealed := handlers.SealSecrets(store, keys)
	url := testkit.NewDatabase(t)
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	l, err := postgres.New(ctx, testkit.Pool(t, url), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	operator := commands.Actor{TenantID: tenantID, Operator: true}
	meta := func() commands.Meta { return commands.Meta{ID: uuid.NewString(), Actor: operator} }
	if _, _, err := tenant.NewHandler(sealed, tenantID, "test.rafiki", "").Create(ctx, commands.CreateTenant{Meta: meta(), TenantID: tenantID, APISecret: "s"}); err != nil {
		t.Fatal(err)
	}
	assets := asset.NewHandler(store, func(context.Context, string) (bool, error) { return false, nil })
	r := &rig{ledger: l, hopB: &nextHop{answer: fulfilled}, hopC: &nextHop{answer: fulfilled}}
	ledgers := map[string]uint32{}
	for _, code := range []string{"USD", "EUR"} {
		id, _, err := assets.Create(ctx, commands.CreateAsset{Meta: meta(), TenantID: tenantID, Code: code, Scale: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, seq, found, err := store.Last(ctx, "events."+tenantID+".asset."+id)
		if err != nil || !found || seq == 0 {
			t.Fatalf("asset %s: %v", code, err)
		}
		if code == "USD" {
			r.usd = id
		} else {
			r.eur = id
		}
	}
	b := httptest.NewServer(r.hopB)
	t.Cleanup(b.Close)
	c := httptest.NewServer(r.hopC)
	t.Cleanup(c.Close)
	peerHandler := peer.NewHandler(sealed)
	max := uint64(5000)
	for _, p := range []struct {
		id       *string
		assetID  string
		address  string
		incoming string
		endpoint string
		max      *uint64
	}{
		{&r.peerA, r.usd, "test.a", "token-a", "http://127.0.0.1:9/unused", &max},
		{&r.peerB, r.usd, "test.b", "token-b", b.URL, nil},
		{&r.peerC, r.eur, "test.c", "token-c", c.URL, nil},
		{&r.peerD, r.usd, "test.d", "token-d", b.URL, nil},
	} {
		created, err := peerHandler.Create(ctx, commands.CreatePeer{Meta: meta(), AssetID: p.assetID, StaticILPAddress: p.address, MaxPacketAmount: p.max,
			HTTP: commands.PeerHTTP{Incoming: &commands.PeerHTTPIncoming{AuthTokens: []string{p.incoming}},
				Outgoing: commands.PeerHTTPOutgoing{AuthToken: "to-" + p.address, Endpoint: p.endpoint}}})
		if err != nil {
			t.Fatal(err)
		}
		*p.id = created.PeerID
		ledgers[p.assetID] = created.Ledger
	}
	for id, number := range ledgers {
		if err := l.CreateAssetAccounts(ctx, uuid.MustParse(id), number); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []struct{ id, assetID string }{{r.peerA, r.usd}, {r.peerB, r.usd}, {r.peerC, r.eur}} {
		acct := ledger.Account{ID: uuid.MustParse(p.id), Type: ledger.Peer, AssetID: uuid.MustParse(p.assetID), Ledger: ledgers[p.assetID]}
		if err := l.CreateLiquidityAccount(ctx, acct); err != nil {
			t.Fatal(err)
		}
		if err := l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: acct, Amount: 10_000}); err != nil {
			t.Fatal(err)
		}
	}
	// The asset accounts pay out across currencies.
	for id, number := range ledgers {
		acct := ledger.Account{ID: uuid.MustParse(id), Type: ledger.Asset, AssetID: uuid.MustParse(id), Ledger: number}
		if err := l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: acct, Amount: 10_000}); err != nil {
			t.Fatal(err)
		}
	}

	table := peers.NewTable()
	followCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	last := func(ctx context.Context, subject string) (uint64, error) {
		_, seq, _, err := store.Last(ctx, subject)
		return seq, err
	}
	if err := table.Follow(followCtx, n.JS, "EVENTS", keys, last, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	ratesServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"base":"USD","rates":{"EUR":0.5}}`))
	}))
	t.Cleanup(ratesServer.Close)
	r.creds, err = stream.NewCredentials(bytes.Repeat([]byte{5}, stream.SecretLength))
	if err != nil {
		t.Fatal(err)
	}
	r.locals = &localReceivers{byID: map[uuid.UUID]connector.Local{}, totals: map[string]uint64{}}
	for _, p := range []struct {
		id        uuid.UUID
		kind      ledger.AccountType
		assetID   string
		closed    bool
		payment   bool
		expiresAt time.Time
		tenantID  string
	}{
		{walletAddressID, ledger.WebMonetization, r.usd, false, false, time.Time{}, tenantID},
		{incomingPaymentID, ledger.Incoming, r.eur, false, true, time.Now().Add(time.Hour), tenantID},
		{closedPaymentID, ledger.Incoming, r.usd, true, true, time.Now().Add(time.Hour), tenantID},
		{expiredPaymentID, ledger.Incoming, r.usd, false, true, time.Now().Add(-time.Millisecond), tenantID},
		{othersWalletID, ledger.WebMonetization, r.usd, false, false, time.Time{}, "00000000-0000-4000-8000-0000000000ab"},
	} {
		local := connector.Local{Account: ledger.Account{ID: p.id, Type: p.kind, AssetID: uuid.MustParse(p.assetID), Ledger: ledgers[p.assetID]},
			Asset:    peers.Asset{ID: p.assetID, Code: map[string]string{r.usd: "USD", r.eur: "EUR"}[p.assetID], Scale: 2, Ledger: ledgers[p.assetID]},
			TenantID: p.tenantID, Closed: p.closed, ExpiresAt: p.expiresAt}
		if p.payment {
			local.IncomingPaymentID = p.id.String()
		}
		r.locals.byID[p.id] = local
	}
	conn := connector.New(connector.Config{ILPAddress: "test.rafiki", RatePerMinute: ratePerMinute,
		Stream: r.creds, Receivers: r.locals, Outcomes: r.locals, Totals: r.locals, Partial: r.locals}, table,
		rates.New(ratesServer.URL, nil, time.Minute, ratesServer.Client()), l, http.DefaultClient, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(conn)
	t.Cleanup(srv.Close)
	r.url, r.conn, r.ledgers = srv.URL, conn, ledgers
	return r
}

// send posts a Prepare as peer A with token, answering the decoded reply.
func (r *rig) send(t *testing.T, token string, p ilp.Prepare) ilp.Packet {
	t.Helper()
	body, err := ilp.EncodePrepare(p)
	if err != nil {
		t.Fatal(err)
	}
	return r.post(t, token, connector.ContentType, body, http.StatusOK)
}

func (r *rig) post(t *testing.T, token, contentType string, body []byte, status int) ilp.Packet {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("status %d %s, want %d", resp.StatusCode, raw, status)
	}
	if status != http.StatusOK {
		return nil
	}
	reply, err := ilp.DecodeAny(raw)
	if err != nil {
		t.Fatalf("reply %x: %v", raw, err)
	}
	return reply
}

func (r *rig) balance(t *testing.T, id string) uint64 {
	t.Helper()
	b, err := r.ledger.Balance(context.Background(), uuid.MustParse(id))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func prepare(amount uint64, destination string, expiresIn time.Duration) ilp.Prepare {
	return ilp.Prepare{Amount: amount, ExpiresAt: time.Now().Add(expiresIn).Truncate(time.Millisecond),
		ExecutionCondition: sha256.Sum256(fulfillment[:]), Destination: destination, Data: []byte("hello")}
}

func rejectCode(t *testing.T, p ilp.Packet, code string) ilp.Reject {
	t.Helper()
	rj, ok := p.(ilp.Reject)
	if !ok || rj.Code != code {
		t.Fatalf("reply %+v, want reject %s", p, code)
	}
	return rj
}

func TestForwarding(t *testing.T) {
	r := newRig(t, 10_000)

	t.Run("fulfilled, same asset", func(t *testing.T) {
		sent := prepare(100, "test.b.bob", 10*time.Second)
		reply := r.send(t, "token-a", sent)
		f, ok := reply.(ilp.Fulfill)
		if !ok || f.Fulfillment != fulfillment || string(f.Data) != "thanks" {
			t.Fatalf("reply %+v, want the next hop's fulfill", reply)
		}
		got, token := r.hopB.last()
		if got.Amount != 100 || got.Destination != "test.b.bob" || string(got.Data) != "hello" || token != "Bearer to-test.b" {
			t.Fatalf("next hop received %+v with %q", got, token)
		}
		if d := sent.ExpiresAt.Sub(got.ExpiresAt); d < time.Second {
			t.Fatalf("expiry shortened by %s, want at least a second", d)
		}
		if a, b := r.balance(t, r.peerA), r.balance(t, r.peerB); a != 9_900 || b != 10_100 {
			t.Fatalf("balances A %d B %d, want 9,900 and 10,100", a, b)
		}
	})

	t.Run("converted across assets", func(t *testing.T) {
		reply := r.send(t, "token-a", prepare(100, "test.c.carol", 10*time.Second))
		if _, ok := reply.(ilp.Fulfill); !ok {
			t.Fatalf("reply %+v", reply)
		}
		if got, _ := r.hopC.last(); got.Amount != 50 {
			t.Fatalf("next hop received %d EUR cents for 100 USD cents at 0.5, want 50", got.Amount)
		}
		if a, c := r.balance(t, r.peerA), r.balance(t, r.peerC); a != 9_800 || c != 10_050 {
			t.Fatalf("balances A %d C %d, want 9,800 and 10,050", a, c)
		}
	})

	t.Run("sender without an account", func(t *testing.T) {
		rejectCode(t, r.send(t, "token-d", prepare(1, "test.b.bob", 10*time.Second)), ilp.CodeInsufficientLiquidity)
	})

	t.Run("next hop without an account yet", func(t *testing.T) {
		if _, ok := r.send(t, "token-a", prepare(30, "test.d.dan", 10*time.Second)).(ilp.Fulfill); !ok {
			t.Fatal("a packet to a peer without an account was not fulfilled")
		}
		if d := r.balance(t, r.peerD); d != 30 {
			t.Fatalf("D holds %d, want 30", d)
		}
		if a := r.balance(t, r.peerA); a != 9_770 {
			t.Fatalf("A holds %d, want 9,770", a)
		}
	})

	t.Run("ILDCP", func(t *testing.T) {
		p := ilp.Prepare{Amount: 0, ExpiresAt: time.Now().Add(time.Minute).Truncate(time.Millisecond),
			ExecutionCondition: ilp.ILDCPCondition, Destination: ilp.ILDCPDestination}
		f, ok := r.send(t, "token-a", p).(ilp.Fulfill)
		if !ok {
			t.Fatal("peer.config was not fulfilled")
		}
		info, err := ilp.DecodeILDCPResponse(f)
		if err != nil || info.ClientAddress != "test.a" || info.AssetCode != "USD" || info.AssetScale != 2 {
			t.Fatalf("IL-DCP answer %+v %v", info, err)
		}
	})

	before := func() (uint64, uint64) { return r.balance(t, r.peerA), r.balance(t, r.peerB) }
	unchanged := func(t *testing.T, a, b uint64) {
		t.Helper()
		if a2, b2 := before(); a2 != a || b2 != b {
			t.Fatalf("balances moved: A %d → %d, B %d → %d", a, a2, b, b2)
		}
	}
	// The packets' expiries count from when each is sent: the earlier
	// cases take seconds, which the later ones' expiries must not lose.
	built := time.Now()
	for _, c := range []struct {
		name   string
		answer func(ilp.Prepare) (int, []byte)
		p      ilp.Prepare
		code   string
		by     string
	}{
		{"rejected by the next hop", func(ilp.Prepare) (int, []byte) {
			b, _ := ilp.EncodeReject(ilp.Reject{Code: ilp.CodeUnexpectedPayment, TriggeredBy: "test.b.bob", Message: "no"})
			return http.StatusOK, b
		}, prepare(100, "test.b.bob", 10*time.Second), ilp.CodeUnexpectedPayment, "test.b.bob"},
		{"wrong fulfillment", func(ilp.Prepare) (int, []byte) {
			b, _ := ilp.EncodeFulfill(ilp.Fulfill{Fulfillment: [32]byte{9}})
			return http.StatusOK, b
		}, prepare(100, "test.b.bob", 10*time.Second), ilp.CodeWrongCondition, "test.rafiki"},
		{"next hop failing", func(ilp.Prepare) (int, []byte) { return http.StatusBadGateway, nil },
			prepare(100, "test.b.bob", 10*time.Second), ilp.CodeInternalError, "test.rafiki"},
		{"next hop too slow", func(ilp.Prepare) (int, []byte) { time.Sleep(2 * time.Second); return fulfilled(ilp.Prepare{}) },
			prepare(100, "test.b.bob", 2100*time.Millisecond), ilp.CodeTransferTimedOut, "test.rafiki"},
		{"no route", fulfilled, prepare(100, "test.nowhere", 10*time.Second), ilp.CodeUnreachable, "test.rafiki"},
		{"never back to the sender", fulfilled, prepare(100, "test.a.alice", 10*time.Second), ilp.CodeUnreachable, "test.rafiki"},
		{"too little time left", fulfilled, prepare(100, "test.b.bob", 1500*time.Millisecond), ilp.CodeInsufficientTimeout, "test.rafiki"},
		{"more than the sender holds", fulfilled, prepare(5000, "test.b.bob", 10*time.Second), "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r.hopB.set(c.answer)
			defer r.hopB.set(fulfilled)
			a, b := before()
			p := c.p
			p.ExpiresAt = p.ExpiresAt.Add(time.Since(built)).Truncate(time.Millisecond)
			code, by := c.code, c.by
			if code == "" {
				// Drain A so that the next packet exceeds its balance.
				p.Amount = a + 1
				if p.Amount > 5000 {
					r.hopB.set(fulfilled)
					for a > 4000 {
						if _, ok := r.send(t, "token-a", prepare(4000, "test.b.bob", 10*time.Second)).(ilp.Fulfill); !ok {
							t.Fatal("draining A failed")
						}
						a, b = before()
					}
					p.Amount = a + 1
				}
				code, by = ilp.CodeInsufficientLiquidity, "test.rafiki"
			}
			rj := rejectCode(t, r.send(t, "token-a", p), code)
			if rj.TriggeredBy != by {
				t.Fatalf("triggered by %q, want %q", rj.TriggeredBy, by)
			}
			unchanged(t, a, b)
		})
	}

	t.Run("amount too large", func(t *testing.T) {
		rj := rejectCode(t, r.send(t, "token-a", prepare(5001, "test.b.bob", 10*time.Second)), ilp.CodeAmountTooLarge)
		data, err := ilp.DecodeAmountTooLarge(rj.Data)
		if err != nil || data.ReceivedAmount != 5001 || data.MaximumAmount != 5000 {
			t.Fatalf("F08 data %+v %v", data, err)
		}
	})
	t.Run("malformed packet", func(t *testing.T) {
		rejectCode(t, r.post(t, "token-a", connector.ContentType, []byte{12, 3, 1, 2, 3}, http.StatusOK), ilp.CodeInvalidPacket)
	})
	t.Run("unknown token", func(t *testing.T) {
		body, _ := ilp.EncodePrepare(prepare(1, "test.b.bob", 10*time.Second))
		r.post(t, "token-z", connector.ContentType, body, http.StatusUnauthorized)
	})
	t.Run("wrong content type", func(t *testing.T) {
		body, _ := ilp.EncodePrepare(prepare(1, "test.b.bob", 10*time.Second))
		r.post(t, "token-a", "application/ilp+octet-stream", body, http.StatusBadRequest)
	})
}

func TestRateLimit(t *testing.T) {
	r := newRig(t, 3)
	for i := range 3 {
		if _, ok := r.send(t, "token-a", prepare(1, "test.b.bob", 10*time.Second)).(ilp.Fulfill); !ok {
			t.Fatalf("packet %d of 3 refused", i+1)
		}
	}
	rejectCode(t, r.send(t, "token-a", prepare(1, "test.b.bob", 10*time.Second)), ilp.CodeRateLimited)
}

// streamSender is a STREAM sender's side of a connection to credentials the
// instance made.
type streamSender struct {
	address string
	keys    *stream.Keys
}

func (r *rig) streamSender(t *testing.T, tag stream.Tag) streamSender {
	t.Helper()
	address, secret, err := r.creds.Generate("test.rafiki", tag)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := stream.NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	return streamSender{address: address, keys: keys}
}

// prepare carries a STREAM money packet of amount, asking at least atLeast
// to be delivered; a probe's condition cannot be met.
func (s streamSender) prepare(t *testing.T, amount, atLeast uint64, probe bool, frames ...stream.Frame) ilp.Prepare {
	t.Helper()
	data, err := s.keys.Seal(stream.Packet{Version: stream.Version, Type: stream.TypePrepare, Sequence: 1, PrepareAmount: atLeast,
		Frames: append([]stream.Frame{stream.StreamMoney{StreamID: 1, Shares: 1}}, frames...)})
	if err != nil {
		t.Fatal(err)
	}
	condition := stream.Condition(s.keys.Fulfillment(data))
	if probe {
		condition = sha256.Sum256([]byte("probe"))
	}
	return ilp.Prepare{Amount: amount, ExpiresAt: time.Now().Add(10 * time.Second).Truncate(time.Millisecond),
		ExecutionCondition: condition, Destination: s.address, Data: data}
}

func TestReceiving(t *testing.T) {
	r := newRig(t, 10_000)
	wallet := r.streamSender(t, stream.Tag{ID: walletAddressID, Receipt: &stream.ReceiptSetup{Nonce: [16]byte{1}, Secret: [32]byte{2}}})

	t.Run("a wallet address, with receipts", func(t *testing.T) {
		for i, total := range []uint64{100, 250} {
			amount := []uint64{100, 150}[i]
			f, ok := r.send(t, "token-a", wallet.prepare(t, amount, amount, false)).(ilp.Fulfill)
			if !ok {
				t.Fatalf("packet %d not fulfilled", i+1)
			}
			reply, err := wallet.keys.Open(f.Data, stream.TypeFulfill)
			if err != nil || reply.PrepareAmount != amount {
				t.Fatalf("reply %+v %v", reply, err)
			}
			var receipt []byte
			for _, fr := range reply.Frames {
				if rc, ok := fr.(stream.StreamReceipt); ok {
					receipt = rc.Receipt
				}
			}
			if len(receipt) != 58 || binary.BigEndian.Uint64(receipt[18:26]) != total {
				t.Fatalf("receipt %x, want a total of %d", receipt, total)
			}
		}
		if w := r.balance(t, walletAddressID.String()); w != 250 {
			t.Fatalf("the wallet address's account holds %d, want 250", w)
		}
	})

	t.Run("an incoming payment in another asset", func(t *testing.T) {
		payment := r.streamSender(t, stream.Tag{ID: incomingPaymentID})
		f, ok := r.send(t, "token-a", payment.prepare(t, 100, 50, false)).(ilp.Fulfill)
		if !ok {
			t.Fatal("not fulfilled")
		}
		if reply, err := payment.keys.Open(f.Data, stream.TypeFulfill); err != nil || reply.PrepareAmount != 50 {
			t.Fatalf("reply %+v %v: 100 USD cents are 50 EUR cents", reply, err)
		}
		if got := r.balance(t, incomingPaymentID.String()); got != 50 || len(r.locals.recorded) != 1 || r.locals.recorded[0] != 50 {
			t.Fatalf("the payment holds %d and was told %v, want 50", got, r.locals.recorded)
		}
	})

	t.Run("more than the ledger holds in one transfer", func(t *testing.T) {
		// Peer B has no maximum packet amount; the Postgres ledger's amounts
		// stop at 2^63 − 1, and a retry would not mend it.
		before := r.balance(t, r.peerB)
		rejectCode(t, r.send(t, "token-b", wallet.prepare(t, 1<<63, 1, false)), ilp.CodeInvalidAmount)
		if after := r.balance(t, r.peerB); after != before {
			t.Fatalf("the sender's liquidity moved: %d → %d", before, after)
		}
	})

	sender := func() uint64 { return r.balance(t, r.peerA) }
	for _, c := range []struct {
		name    string
		prepare func() ilp.Prepare
		code    string
	}{
		{"a closed incoming payment", func() ilp.Prepare {
			return r.streamSender(t, stream.Tag{ID: closedPaymentID}).prepare(t, 10, 10, false)
		}, ilp.CodeUnreachable},
		{"an incoming payment past its expiry", func() ilp.Prepare {
			return r.streamSender(t, stream.Tag{ID: expiredPaymentID}).prepare(t, 10, 10, false)
		}, ilp.CodeUnreachable},
		{"a receiver that does not exist", func() ilp.Prepare { return r.streamSender(t, stream.Tag{ID: uuid.New()}).prepare(t, 10, 10, false) }, ilp.CodeUnreachable},
		// Another tenant's receiver would be paid from that tenant's
		// liquidity, while the peer's tenant kept what the peer sent.
		{"a receiver of another tenant than the peer's", func() ilp.Prepare {
			return r.streamSender(t, stream.Tag{ID: othersWalletID}).prepare(t, 10, 10, false)
		}, ilp.CodeUnreachable},
		{"a rate probe", func() ilp.Prepare { return wallet.prepare(t, 10, 10, true) }, ilp.CodeWrongCondition},
		{"less than asked", func() ilp.Prepare { return wallet.prepare(t, 10, 11, false) }, ilp.CodeInsufficientDestinationAmount},
		{"too large for the sender", func() ilp.Prepare { return wallet.prepare(t, 5001, 1, false) }, ilp.CodeAmountTooLarge},
		// Its sender's side no longer pays for it.
		{"a prepare past its expiry", func() ilp.Prepare {
			p := wallet.prepare(t, 10, 10, false)
			p.ExpiresAt = time.Now().Add(-time.Minute).Truncate(time.Millisecond)
			return p
		}, ilp.CodeTransferTimedOut},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := sender()
			rejectCode(t, r.send(t, "token-a", c.prepare()), c.code)
			if after := sender(); after != before {
				t.Fatalf("the sender's liquidity moved: %d → %d", before, after)
			}
		})
	}
}

// Packets that bring their sender's data into an incoming payment are
// decided by the account servicing entity before the money moves (partial
// payments); packets without data, and data sent to a wallet address, are
// not.
func TestPartialPayments(t *testing.T) {
	r := newRig(t, 10_000)
	payment := r.streamSender(t, stream.Tag{ID: incomingPaymentID})
	wallet := r.streamSender(t, stream.Tag{ID: walletAddressID})
	kyc := stream.StreamData{StreamID: 1, Data: []byte(`{"name":"Alice"}`)}
	held := func() uint64 { return r.balance(t, incomingPaymentID.String()) }
	asked := func() []connector.PartialPayment {
		r.locals.mu.Lock()
		defer r.locals.mu.Unlock()
		return slices.Clone(r.locals.partials)
	}

	t.Run("accepted", func(t *testing.T) {
		p := payment.prepare(t, 100, 50, false, kyc)
		if _, ok := r.send(t, "token-a", p).(ilp.Fulfill); !ok {
			t.Fatal("not fulfilled")
		}
		got := asked()
		if len(got) != 1 || got[0].IncomingPaymentID != incomingPaymentID.String() || got[0].TenantID != tenantID ||
			got[0].Amount != 50 || string(got[0].Data) != string(kyc.Data) || !got[0].ExpiresAt.Equal(p.ExpiresAt) {
			t.Fatalf("asked %+v", got)
		}
		if held() != 50 {
			t.Fatalf("the payment holds %d, want 50", held())
		}
	})

	t.Run("without data, or to a wallet address, nothing is asked", func(t *testing.T) {
		if _, ok := r.send(t, "token-a", payment.prepare(t, 100, 50, false)).(ilp.Fulfill); !ok {
			t.Fatal("a packet without data was not fulfilled")
		}
		if _, ok := r.send(t, "token-a", wallet.prepare(t, 10, 10, false, kyc)).(ilp.Fulfill); !ok {
			t.Fatal("a packet with data to a wallet address was not fulfilled")
		}
		if n := len(asked()); n != 1 {
			t.Fatalf("asked %d times, want once", n)
		}
	})

	t.Run("refused: declined with the reason, and nothing moves", func(t *testing.T) {
		reason := "sender unknown"
		r.locals.mu.Lock()
		r.locals.refuse = &reason
		r.locals.mu.Unlock()
		before, sent := held(), r.balance(t, r.peerA)
		rj := rejectCode(t, r.send(t, "token-a", payment.prepare(t, 100, 50, false, kyc)), ilp.CodeFinalApplicationError)
		reply, err := payment.keys.Open(rj.Data, stream.TypeReject)
		if err != nil {
			t.Fatal(err)
		}
		closed, told := false, ""
		for _, f := range reply.Frames {
			switch f := f.(type) {
			case stream.ConnectionClose:
				closed = true
			case stream.StreamData:
				told = string(f.Data)
			}
		}
		if !closed || told != reason {
			t.Fatalf("reply frames %+v: want the connection closed and %q told", reply.Frames, reason)
		}
		if held() != before || r.balance(t, r.peerA) != sent {
			t.Fatalf("money moved: the payment holds %d (was %d), the sender %d (was %d)", held(), before, r.balance(t, r.peerA), sent)
		}
	})
}

// An account of this instance (an outgoing payment's) sends through the
// pipeline as a peer does, without a peer's limits (its packet size, its
// rate): to a next hop, and, with the STREAM sender, to a STREAM receiver
// of this instance.
func TestSendFromAnAccount(t *testing.T) {
	r := newRig(t, 1)
	ctx := context.Background()
	usdLedger := r.ledgers[r.usd]
	acct := ledger.Account{ID: uuid.New(), Type: ledger.Outgoing, AssetID: uuid.MustParse(r.usd), Ledger: usdLedger}
	if err := r.ledger.CreateLiquidityAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	if err := r.ledger.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: acct, Amount: 20_000}); err != nil {
		t.Fatal(err)
	}
	o := connector.Origin{ID: acct.ID.String(), TenantID: tenantID, Account: acct,
		Asset: peers.Asset{ID: r.usd, Code: "USD", Scale: 2, Ledger: usdLedger}, Address: "test.rafiki.payer"}

	// Above peer A's 5,000, converted at 0.5 for C.
	if _, ok := r.conn.Send(ctx, o, prepare(6000, "test.c.bob", 10*time.Second)).(ilp.Fulfill); !ok {
		t.Fatal("not fulfilled")
	}
	if got, _ := r.hopC.last(); got.Amount != 3000 {
		t.Fatalf("next hop received %d EUR cents for 6,000 USD cents, want 3,000", got.Amount)
	}
	if got := r.balance(t, acct.ID.String()); got != 14_000 {
		t.Fatalf("the account holds %d, want 14,000", got)
	}

	address, secret, err := r.creds.Generate("test.rafiki", stream.Tag{ID: walletAddressID})
	if err != nil {
		t.Fatal(err)
	}
	// The wallet address's account opens with its first packet.
	before, err := r.ledger.Balance(ctx, walletAddressID)
	if err != nil && !errors.Is(err, ledger.ErrUnknownAccount) {
		t.Fatal(err)
	}
	s := sender.Sender{Send: func(ctx context.Context, p ilp.Prepare) (ilp.Packet, error) { return r.conn.Send(ctx, o, p), nil }}
	c, err := s.Connect(ctx, address, secret)
	if err != nil {
		t.Fatal(err)
	}
	probe, err := c.Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q, err := sender.QuoteSend(probe, 5000, sender.Terms{Slippage: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Pay(ctx, q)
	if err != nil || out.Sent != 5000 || out.Delivered != 5000 {
		t.Fatalf("paid %+v: %v", out, err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.balance(t, walletAddressID.String()) - before; got != 5000 {
		t.Fatalf("the wallet address received %d, want 5,000", got)
	}
	if got := r.balance(t, acct.ID.String()); got != 9000 {
		t.Fatalf("the account holds %d, want 9,000", got)
	}

	// A rate probe's packets hold nothing: an origin without an account
	// reaches the next hop, converted.
	prober := connector.Origin{ID: uuid.NewString(), TenantID: tenantID, Asset: o.Asset, Address: "test.rafiki.prober", Unfulfillable: true}
	unfulfillable := prepare(7000, "test.c.bob", 10*time.Second)
	unfulfillable.ExecutionCondition = sha256.Sum256([]byte("no one knows this"))
	rejectCode(t, r.conn.Send(ctx, prober, unfulfillable), ilp.CodeWrongCondition)
	if got, _ := r.hopC.last(); got.Amount != 3500 {
		t.Fatalf("next hop received %d EUR cents of a probe of 7,000 USD cents, want 3,500", got.Amount)
	}

	rejectCode(t, r.conn.Send(ctx, o, prepare(1, "test.nowhere.x", 10*time.Second)), ilp.CodeUnreachable)
	rejectCode(t, r.conn.Send(ctx, o, prepare(10_000, "test.b.x", 10*time.Second)), ilp.CodeInsufficientLiquidity)
	if got := r.balance(t, acct.ID.String()); got != 9000 {
		t.Fatalf("refused packets moved money: the account holds %d", got)
	}
}
