package systemtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
)

// TestTwoInstances runs Rafiki's integration flows between two `rafiki
// dev` installations on one machine, peered over ILP-over-HTTP in USD as
// Rafiki's test environment peers cloud-nine-wallet and happy-life-bank:
//
//   - remote Open Payments (scripts/interop/e2e.mjs, with the npm client):
//     an interactive outgoing-payment grant continued by polling, one
//     finished by a redirect, and two outgoing payments into one incoming
//     payment against a grant's debit limit, each with the client named by
//     its wallet address and with directed identity;
//   - the admin API, remote: peer to peer in USD, and USD to EUR;
//   - the admin API, local: peer to peer, a fixed send, USD to EUR, and two
//     outgoing payments into one incoming payment.
//
// Every step uses only the public APIs (Open Payments, GNAP, the identity
// provider's API, admin GraphQL, webhooks), so either side could be Rafiki
// itself. Each installation's wallet is a webhook endpoint that funds an
// outgoing payment when told it was created, as Rafiki's test wallets do.
// The amounts are those of Rafiki's test: no fees, USD→EUR at 0.91 and
// SLIPPAGE 0.01. At the end each side's peer liquidity has moved by exactly
// what went over the peering, and `rafiki ledger check` is clean on both.
// The installations share a PostgreSQL of the test's own.
func TestTwoInstances(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed to run the Open Payments SDK: %v", err)
	}
	root := repositoryRoot(t)
	if _, err := os.Stat(filepath.Join(root, "node_modules", "@interledger", "open-payments")); err != nil {
		t.Fatalf("@interledger/open-payments is not installed (scripts/test-deps.sh installs it): %v", err)
	}
	rates := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		base := req.URL.Query().Get("base")
		seed := map[string]map[string]float64{"USD": {"EUR": 0.91}, "EUR": {"USD": 1.10}}
		_ = json.NewEncoder(w).Encode(map[string]any{"base": base, "rates": seed[base]})
	}))
	defer rates.Close()

	h := newHarness(t)
	// Two installations hold many connections (each projection's lease has
	// one of its own, besides the pools): more than a shared server with
	// max_connections 100 leaves free while other tests use it.
	pg := h.PostgresServer()
	idpSecret := "idp-" + randomHex(t, 16)
	c9 := newInstance(t, h, pg, "test.cloud-nine-wallet", rates.URL, idpSecret)
	hlb := newInstance(t, h, pg, "test.happy-life-bank", rates.URL, idpSecret)
	devs := []*Process{c9.r.Start("dev-c9", nil, "dev"), hlb.r.Start("dev-hlb", nil, "dev")}
	c9.r.WaitReady(t, devs[0], 90*time.Second)
	hlb.r.WaitReady(t, devs[1], 90*time.Second)
	c9.seed(t)
	hlb.seed(t)
	c9.peerWith(t, hlb)
	hlb.peerWith(t, c9)
	ctx := context.Background()

	gfranklin := c9.account(t, "accounts/gfranklin", "USD")
	bhamchest := c9.account(t, "accounts/bhamchest", "USD")
	lrossi := c9.account(t, "accounts/lrossi", "EUR")
	pfry := hlb.account(t, "accounts/pfry", "USD")
	lars := hlb.account(t, "accounts/lars", "EUR")

	t.Run("open payments", func(t *testing.T) {
		clientWA, keyID, keyFile := registerClient(t, c9.op, c9.assets["USD"], "/e2e-client")
		runCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(runCtx, node, filepath.Join(root, "scripts", "interop", "e2e.mjs"))
		cmd.Dir = root
		cmd.Env = append(baseEnv(),
			"CLIENT_WA="+clientWA.Address,
			"KEY_ID="+keyID,
			"PRIVATE_KEY="+keyFile,
			"SENDER_WA="+gfranklin.Address,
			"RECEIVER_WA="+pfry.Address,
			fmt.Sprintf("INTERACTION_URL=http://127.0.0.1:%d", c9.r.Ports["INTERACTION_PORT"]),
			"IDP_SECRET="+idpSecret,
			"FINISH_URI=https://example.com/finish",
		)
		out, err := cmd.CombinedOutput()
		t.Logf("e2e.mjs:\n%s", out)
		if err != nil {
			t.Fatalf("e2e.mjs: %v", err)
		}
		if !strings.Contains(string(out), `"step":"wallet addresses"`) {
			t.Error(`e2e.mjs did not report "wallet addresses"`)
		}
		for _, how := range []string{"", " (directed identity)"} {
			for _, step := range []string{"polling%s: paid", "redirect%s: paid", "limit%s: paid", "limit%s: received", "limit%s: refused past the limit"} {
				if step = fmt.Sprintf(step, how); !strings.Contains(string(out), `"step":"`+step+`"`) {
					t.Errorf("e2e.mjs did not report %q", step)
				}
			}
		}
		// The receiving wallet was told of each incoming payment made over
		// Open Payments, the sending one of each outgoing payment's end.
		hlb.hooks.wait(t, "incoming_payment.created", 6)
		c9.hooks.wait(t, "outgoing_payment.completed", 8)
	})

	t.Run("remote peer to peer", func(t *testing.T) {
		rc := c9.createReceiver(t, pfry.Address, usd(500))
		q := c9.createQuote(t, gfranklin.ID, rc.ID, nil)
		// 500 / (1 - SLIPPAGE), rounded up: the least debit sure to deliver
		// 500 at the worst rate the quote accepts.
		checkAmount(t, "quoted debit", q.DebitAmount, usd(506))
		p := c9.pay(t, gfranklin.ID, q.ID)
		checkAmount(t, "sent", p.SentAmount, usd(500))
		ip := hlb.incomingPayment(t, rc.ID, "500")
		checkAmount(t, "received", ip.ReceivedAmount, usd(500))
		if ip.State != "COMPLETED" {
			t.Fatalf("incoming payment %s", ip.State)
		}
	})

	t.Run("remote partial payments decided by the receiving wallet", func(t *testing.T) {
		// Data for the receiver goes with the money; the receiving
		// wallet is asked before the money moves, in plain text, and
		// accepts a JSON object.
		data := `{"invoice":"` + uuid.NewString() + `"}`
		rc := c9.createReceiver(t, pfry.Address, usd(500))
		q := c9.createQuote(t, gfranklin.ID, rc.ID, nil)
		p := c9.completed(t, c9.createOutgoing(t, gfranklin.ID, q.ID, map[string]any{"dataToTransmit": data}))
		checkAmount(t, "sent", p.SentAmount, usd(500))
		if ip := hlb.incomingPayment(t, rc.ID, "500"); ip.State != "COMPLETED" {
			t.Fatalf("incoming payment %s", ip.State)
		}
		if !slices.Contains(hlb.hooks.asked(), data) {
			t.Fatalf("the receiving wallet was asked about %q, want %q among them", hlb.hooks.asked(), data)
		}
		// Refused: the payment fails at once with the wallet's reason,
		// and nothing arrives.
		rc = c9.createReceiver(t, pfry.Address, usd(500))
		q = c9.createQuote(t, gfranklin.ID, rc.ID, nil)
		id := c9.createOutgoing(t, gfranklin.ID, q.ID, map[string]any{"dataToTransmit": "not json"})
		if p := c9.finished(t, id); p.State != "FAILED" || p.Error == nil || *p.Error != refusal {
			t.Fatalf("payment refused by the receiver: %s (%v), want FAILED (%s)", p.State, p.Error, refusal)
		}
		if ip := hlb.incomingPaymentNow(t, rc.ID); ip.State != "PENDING" || ip.ReceivedAmount == nil || ip.ReceivedAmount.Value != "0" {
			t.Fatalf("incoming payment of a refused payment %s, received %+v", ip.State, ip.ReceivedAmount)
		}
	})

	t.Run("remote cross currency", func(t *testing.T) {
		rc := c9.createReceiver(t, lars.Address, eur(500))
		q := c9.createQuote(t, gfranklin.ID, rc.ID, nil)
		p := c9.pay(t, gfranklin.ID, q.ID)
		checkAmount(t, "receive", p.ReceiveAmount, eur(500))
		// 500 / (0.91 × (1 - SLIPPAGE)), rounded up.
		checkAmount(t, "debit", p.DebitAmount, usd(556))
		// 500 / 0.91, rounded up: what the receiver's connector turns into
		// at least 500 EUR.
		checkAmount(t, "sent", p.SentAmount, usd(550))
		ip := hlb.incomingPayment(t, rc.ID, "500")
		checkAmount(t, "received", ip.ReceivedAmount, eur(500))
		if ip.State != "COMPLETED" {
			t.Fatalf("incoming payment %s", ip.State)
		}
	})

	t.Run("local peer to peer", func(t *testing.T) {
		rc := c9.createReceiver(t, bhamchest.Address, usd(500))
		q := c9.createQuote(t, gfranklin.ID, rc.ID, nil)
		p := c9.pay(t, gfranklin.ID, q.ID)
		checkAmount(t, "sent", p.SentAmount, usd(500))
		ip := c9.incomingPayment(t, rc.ID, "500")
		if ip.State != "COMPLETED" {
			t.Fatalf("incoming payment %s", ip.State)
		}
	})

	t.Run("local fixed send", func(t *testing.T) {
		rc := c9.createReceiver(t, bhamchest.Address, nil)
		debit := usd(500)
		q := c9.createQuote(t, gfranklin.ID, rc.ID, debit)
		// No fees, one asset: the whole debit is received.
		checkAmount(t, "quoted receive", q.ReceiveAmount, usd(500))
		p := c9.pay(t, gfranklin.ID, q.ID)
		checkAmount(t, "sent", p.SentAmount, q.ReceiveAmount)
		ip := c9.incomingPayment(t, rc.ID, q.ReceiveAmount.Value)
		checkAmount(t, "received", ip.ReceivedAmount, q.ReceiveAmount)
	})

	t.Run("local cross currency", func(t *testing.T) {
		rc := c9.createReceiver(t, lrossi.Address, eur(500))
		q := c9.createQuote(t, gfranklin.ID, rc.ID, nil)
		p := c9.pay(t, gfranklin.ID, q.ID)
		checkAmount(t, "receive", p.ReceiveAmount, eur(500))
		// A local payment converts at the rate, without slippage.
		checkAmount(t, "debit", p.DebitAmount, usd(550))
		checkAmount(t, "sent", p.SentAmount, usd(550))
		ip := c9.incomingPayment(t, rc.ID, "500")
		checkAmount(t, "received", ip.ReceivedAmount, eur(500))
		if ip.State != "COMPLETED" {
			t.Fatalf("incoming payment %s", ip.State)
		}
	})

	t.Run("local multiple outgoing payments into one incoming payment", func(t *testing.T) {
		rc := c9.createReceiver(t, bhamchest.Address, nil)
		for range 2 {
			var out struct {
				CreateOutgoingPaymentFromIncomingPayment struct{ Payment struct{ ID string } } `json:"createOutgoingPaymentFromIncomingPayment"`
			}
			if err := c9.op.Do(ctx, `mutation($input: CreateOutgoingPaymentFromIncomingPaymentInput!) {
				createOutgoingPaymentFromIncomingPayment(input: $input) { payment { id } } }`,
				map[string]any{"input": map[string]any{"walletAddressId": gfranklin.ID, "incomingPayment": rc.ID, "debitAmount": usd(500)}}, &out); err != nil {
				t.Fatalf("createOutgoingPaymentFromIncomingPayment: %v", err)
			}
			c9.completed(t, out.CreateOutgoingPaymentFromIncomingPayment.Payment.ID)
		}
		ip := c9.incomingPayment(t, rc.ID, "1000")
		if ip.State != "PROCESSING" {
			t.Fatalf("incoming payment %s, want PROCESSING: it expects no amount", ip.State)
		}
	})

	// What went over the peering, in USD: the Open Payments flows, each
	// run twice, sent 100 for each of their two quotes and 49 for each of
	// their two payments of 50 (delivered at 1:1, 50 less SLIPPAGE rounded
	// down); the admin API's 500 and 550, and the 500 of the partial
	// payment accepted (the one refused moved nothing). Each side accounts
	// for all of it: the sender's peer may claim it, the receiver's peer
	// used that much of its credit.
	if !t.Failed() {
		const sent = 2*(2*100+2*49) + 500 + 550 + 500
		if got := c9.peerLiquidity(t, hlb.name); got != fmt.Sprint(10000000+sent) {
			t.Errorf("%s's peer %s has liquidity %s, want %d", c9.name, hlb.name, got, 10000000+sent)
		}
		if got := hlb.peerLiquidity(t, c9.name); got != fmt.Sprint(10000000-sent) {
			t.Errorf("%s's peer %s has liquidity %s, want %d", hlb.name, c9.name, got, 10000000-sent)
		}
	}
	checkLedger(t, c9.r)
	checkLedger(t, hlb.r)
}

// peerLiquidity is the liquidity of the peer at a static ILP address.
func (in *e2eInstance) peerLiquidity(t *testing.T, address string) string {
	t.Helper()
	var out struct {
		PeerByAddressAndAsset *struct{ Liquidity string } `json:"peerByAddressAndAsset"`
	}
	if err := in.op.Do(context.Background(), `query($address: String!, $asset: String!) { peerByAddressAndAsset(staticIlpAddress: $address, assetId: $asset) { liquidity } }`,
		map[string]any{"address": address, "asset": in.assets["USD"]}, &out); err != nil || out.PeerByAddressAndAsset == nil {
		t.Fatalf("%s: peer %s: %v", in.name, address, err)
	}
	return out.PeerByAddressAndAsset.Liquidity
}

// e2eInstance is one installation of TestTwoInstances with its wallet: the
// webhook endpoint that funds its outgoing payments.
type e2eInstance struct {
	name   string
	r      *Rafiki
	op     *adminclient.Client
	hooks  *wallet
	assets map[string]string // code → id
}

func newInstance(t *testing.T, h *H, pg *PostgresServer, ilpAddress, ratesURL, idpSecret string) *e2eInstance {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	database := strings.ReplaceAll(strings.TrimPrefix(ilpAddress, "test."), "-", "_")
	in := &e2eInstance{name: ilpAddress, hooks: &wallet{seen: map[string]int{}}, assets: map[string]string{}}
	srv := httptest.NewServer(in.hooks)
	t.Cleanup(srv.Close)
	in.r = h.NewRafiki(map[string]string{
		"ILP_ADDRESS":            ilpAddress,
		"STREAM_SECRET":          base64.StdEncoding.EncodeToString(secret),
		"EXCHANGE_RATES_URL":     ratesURL,
		"WEBHOOK_URL":            srv.URL,
		"IDENTITY_SERVER_URL":    "http://127.0.0.1:9/consent",
		"IDENTITY_SERVER_SECRET": idpSecret,
		"WAIT_SECONDS":           "1",
		// Partial payments that carry data are decided by the wallet.
		"ENABLE_PARTIAL_PAYMENT_DECISION": "true",
		"KEY_ID":                          ilpAddress + "-key",
		"DATABASE_URL":                    withParam(pg.URL(database+"_backend"), "pool_max_conns", "4"),
		"AUTH_DATABASE_URL":               withParam(pg.URL(database+"_auth"), "pool_max_conns", "4"),
	})
	in.op = in.r.Operator(20 * time.Second)
	in.hooks.setOperator(in.op)
	return in
}

// seed makes Rafiki's test assets, USD and EUR at scale 2, each with
// liquidity for the payments converted through it.
func (in *e2eInstance) seed(t *testing.T) {
	t.Helper()
	for _, code := range []string{"USD", "EUR"} {
		id, err := createAsset(context.Background(), in.op, code, 2)
		if err != nil {
			t.Fatalf("%s: createAsset %s: %v", in.name, code, err)
		}
		in.assets[code] = id
		if err := in.op.Do(context.Background(), `mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"assetId": id, "amount": "100000000", "id": uuid.NewString(), "idempotencyKey": uuid.NewString()}}, nil); err != nil {
			t.Fatalf("%s: depositAssetLiquidity %s: %v", in.name, code, err)
		}
	}
}

// peerWith makes the other installation a USD peer over ILP-over-HTTP:
// packets to its ILP address go to its connector with the token it
// expects, and its packets are taken with the token it sends. The initial
// liquidity is what the other may send before settling, as in Rafiki's
// test seed.
func (in *e2eInstance) peerWith(t *testing.T, other *e2eInstance) {
	t.Helper()
	token := func(from, to *e2eInstance) string { return "test-USD-" + from.name + "-" + to.name }
	if err := in.op.Do(context.Background(), `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`,
		map[string]any{"input": map[string]any{
			"assetId": in.assets["USD"], "staticIlpAddress": other.name, "initialLiquidity": "10000000", "name": other.name,
			"http": map[string]any{
				"incoming": map[string]any{"authTokens": []string{token(other, in)}},
				"outgoing": map[string]any{"authToken": token(in, other), "endpoint": fmt.Sprintf("http://127.0.0.1:%d", other.r.Ports["CONNECTOR_PORT"])},
			}}}, nil); err != nil {
		t.Fatalf("%s: createPeer %s: %v", in.name, other.name, err)
	}
}

func (in *e2eInstance) account(t *testing.T, path, asset string) walletAddress {
	t.Helper()
	wa, err := createWalletAddress(context.Background(), in.op, in.assets[asset], path, "")
	if err != nil {
		t.Fatalf("%s: createWalletAddress %s: %v", in.name, path, err)
	}
	return wa
}

type e2eAmount struct {
	Value      string `json:"value"`
	AssetCode  string `json:"assetCode"`
	AssetScale int    `json:"assetScale"`
}

func usd(v int) *e2eAmount { return &e2eAmount{Value: fmt.Sprint(v), AssetCode: "USD", AssetScale: 2} }
func eur(v int) *e2eAmount { return &e2eAmount{Value: fmt.Sprint(v), AssetCode: "EUR", AssetScale: 2} }

func checkAmount(t *testing.T, what string, got, want *e2eAmount) {
	t.Helper()
	if got == nil || *got != *want {
		t.Fatalf("%s amount %+v, want %+v", what, got, want)
	}
}

type e2eReceiver struct {
	ID             string     `json:"id"`
	IncomingAmount *e2eAmount `json:"incomingAmount"`
}

func (in *e2eInstance) createReceiver(t *testing.T, walletAddressURL string, amount *e2eAmount) e2eReceiver {
	t.Helper()
	input := map[string]any{"walletAddressUrl": walletAddressURL, "metadata": map[string]any{"description": "For lunch!"}}
	if amount != nil {
		input["incomingAmount"] = amount
	}
	var out struct {
		CreateReceiver struct{ Receiver *e2eReceiver } `json:"createReceiver"`
	}
	if err := in.op.Do(context.Background(), `mutation($input: CreateReceiverInput!) { createReceiver(input: $input) { receiver { id incomingAmount { value assetCode assetScale } } } }`,
		map[string]any{"input": input}, &out); err != nil || out.CreateReceiver.Receiver == nil {
		t.Fatalf("%s: createReceiver %s: %v", in.name, walletAddressURL, err)
	}
	return *out.CreateReceiver.Receiver
}

type e2eQuote struct {
	ID            string     `json:"id"`
	DebitAmount   *e2eAmount `json:"debitAmount"`
	ReceiveAmount *e2eAmount `json:"receiveAmount"`
}

func (in *e2eInstance) createQuote(t *testing.T, walletAddressID, receiver string, debit *e2eAmount) e2eQuote {
	t.Helper()
	input := map[string]any{"walletAddressId": walletAddressID, "receiver": receiver}
	if debit != nil {
		input["debitAmount"] = debit
	}
	var out struct {
		CreateQuote struct{ Quote *e2eQuote } `json:"createQuote"`
	}
	if err := in.op.Do(context.Background(), `mutation($input: CreateQuoteInput!) { createQuote(input: $input) {
		quote { id debitAmount { value assetCode assetScale } receiveAmount { value assetCode assetScale } } } }`,
		map[string]any{"input": input}, &out); err != nil || out.CreateQuote.Quote == nil {
		t.Fatalf("%s: createQuote: %v", in.name, err)
	}
	return *out.CreateQuote.Quote
}

type e2eOutgoing struct {
	State         string     `json:"state"`
	Error         *string    `json:"error"`
	DebitAmount   *e2eAmount `json:"debitAmount"`
	ReceiveAmount *e2eAmount `json:"receiveAmount"`
	SentAmount    *e2eAmount `json:"sentAmount"`
}

// pay makes the outgoing payment of a quote, which the wallet funds when
// told it was created, and answers it completed.
func (in *e2eInstance) pay(t *testing.T, walletAddressID, quoteID string) e2eOutgoing {
	t.Helper()
	return in.completed(t, in.createOutgoing(t, walletAddressID, quoteID, map[string]any{}))
}

// createOutgoing makes the outgoing payment of a quote and answers its id.
func (in *e2eInstance) createOutgoing(t *testing.T, walletAddressID, quoteID string, metadata map[string]any) string {
	t.Helper()
	var out struct {
		CreateOutgoingPayment struct{ Payment struct{ ID string } } `json:"createOutgoingPayment"`
	}
	if err := in.op.Do(context.Background(), `mutation($input: CreateOutgoingPaymentInput!) { createOutgoingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": walletAddressID, "quoteId": quoteID, "metadata": metadata}}, &out); err != nil {
		t.Fatalf("%s: createOutgoingPayment: %v", in.name, err)
	}
	return out.CreateOutgoingPayment.Payment.ID
}

// completed waits until an outgoing payment is COMPLETED; any other end
// fails the test.
func (in *e2eInstance) completed(t *testing.T, id string) e2eOutgoing {
	t.Helper()
	p := in.finished(t, id)
	if p.State != "COMPLETED" {
		t.Fatalf("%s: outgoing payment %s is %s (%v)", in.name, id, p.State, p.Error)
	}
	return p
}

// finished waits until an outgoing payment is no longer waiting for its
// money or sending it.
func (in *e2eInstance) finished(t *testing.T, id string) e2eOutgoing {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out struct{ OutgoingPayment e2eOutgoing }
		if err := in.op.Do(context.Background(), `query($id: String!) { outgoingPayment(id: $id) { state error
			debitAmount { value assetCode assetScale } receiveAmount { value assetCode assetScale } sentAmount { value assetCode assetScale } } }`,
			map[string]any{"id": id}, &out); err != nil {
			t.Fatalf("%s: outgoingPayment: %v", in.name, err)
		}
		p := out.OutgoingPayment
		switch {
		case p.State != "FUNDING" && p.State != "SENDING":
			return p
		case time.Now().After(deadline):
			t.Fatalf("%s: outgoing payment %s still %s", in.name, id, p.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type e2eIncoming struct {
	State          string     `json:"state"`
	ReceivedAmount *e2eAmount `json:"receivedAmount"`
}

// incomingPayment reads the incoming payment of a receiver URL once it
// has received value: the money arrives with the last packet, which may
// be recorded a little after the sender completed.
func (in *e2eInstance) incomingPayment(t *testing.T, url, value string) e2eIncoming {
	t.Helper()
	id := url[strings.LastIndex(url, "/")+1:]
	deadline := time.Now().Add(10 * time.Second)
	for {
		ip := in.incomingPaymentNow(t, url)
		if ip.ReceivedAmount != nil && ip.ReceivedAmount.Value == value && ip.State != "PENDING" {
			return ip
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: incoming payment %s is %s, received %+v, want %s", in.name, id, ip.State, ip.ReceivedAmount, value)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// incomingPaymentNow reads the incoming payment of a receiver URL.
func (in *e2eInstance) incomingPaymentNow(t *testing.T, url string) e2eIncoming {
	t.Helper()
	var out struct{ IncomingPayment e2eIncoming }
	if err := in.op.Do(context.Background(), `query($id: String!) { incomingPayment(id: $id) { state receivedAmount { value assetCode assetScale } } }`,
		map[string]any{"id": url[strings.LastIndex(url, "/")+1:]}, &out); err != nil {
		t.Fatalf("%s: incomingPayment: %v", in.name, err)
	}
	return out.IncomingPayment
}

// wallet is an account servicing entity's webhook endpoint: it funds each
// outgoing payment it is told was created (depositOutgoingPaymentLiquidity,
// keyed by the event's id, so a delivery repeated funds once), with the
// data for the receiver its metadata's dataToTransmit holds; it accepts a
// partial payment whose data from the sender is a JSON object and refuses
// any other; and it counts the events by type.
type wallet struct {
	op   *adminclient.Client
	mu   sync.Mutex
	seen map[string]int
	// fromSenders is the data of every partial payment it was asked about.
	fromSenders []string
}

// refusal is what the wallet tells a sender whose data it refuses.
const refusal = "the sender's data is not a JSON object"

func (w *wallet) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var e struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			ID             string `json:"id"`
			PartialID      string `json:"partialIncomingPaymentId"`
			DataFromSender string `json:"dataFromSender"`
			Metadata       struct {
				DataToTransmit string `json:"dataToTransmit"`
			} `json:"metadata"`
		} `json:"data"`
	}
	if err != nil || json.Unmarshal(body, &e) != nil {
		http.Error(rw, "unreadable event", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	op := w.op
	w.mu.Unlock()
	switch e.Type {
	case "outgoing_payment.created":
		input := map[string]any{"outgoingPaymentId": e.Data.ID, "idempotencyKey": e.ID}
		if data := e.Data.Metadata.DataToTransmit; data != "" {
			input["dataToTransmit"] = data
		}
		if err := op.Do(req.Context(), `mutation($input: DepositOutgoingPaymentLiquidityInput!) { depositOutgoingPaymentLiquidity(input: $input) { success } }`,
			map[string]any{"input": input}, nil); err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
	case "incoming_payment.partial_payment_received":
		w.mu.Lock()
		w.fromSenders = append(w.fromSenders, e.Data.DataFromSender)
		w.mu.Unlock()
		input := map[string]any{"incomingPaymentId": e.Data.ID, "partialIncomingPaymentId": e.Data.PartialID}
		decision := "confirmPartialIncomingPayment(input: $input) { success }"
		inputType := "ConfirmPartialIncomingPaymentInput"
		var object map[string]any
		if json.Unmarshal([]byte(e.Data.DataFromSender), &object) != nil {
			input["reason"] = refusal
			decision, inputType = "rejectPartialIncomingPayment(input: $input) { success }", "RejectPartialIncomingPaymentInput"
		}
		if err := op.Do(req.Context(), fmt.Sprintf("mutation($input: %s!) { %s }", inputType, decision), map[string]any{"input": input}, nil); err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.mu.Lock()
	w.seen[e.Type]++
	w.mu.Unlock()
	rw.WriteHeader(http.StatusOK)
}

// asked is the data of the partial payments the wallet was asked about.
func (w *wallet) asked() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.fromSenders)
}

// setOperator gives the wallet the admin API client it funds payments with,
// once the installation it is the webhook endpoint of is configured.
func (w *wallet) setOperator(op *adminclient.Client) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.op = op
}

// wait fails the test unless at least n events of a type were delivered
// within 10 s.
func (w *wallet) wait(t *testing.T, eventType string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		got := w.seen[eventType]
		w.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s webhooks delivered, want at least %d", got, eventType, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
