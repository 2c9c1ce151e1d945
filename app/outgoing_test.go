package app_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/connector/stream/sender"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/testkit"
)

// outgoing makes and funds outgoing payments of one system through the
// admin API, or, for a payment under a grant (which only Open Payments
// makes), through the backend's handler.
type outgoing struct {
	s        *system
	operator commands.Actor
}

func newOutgoing(s *system) outgoing {
	return outgoing{s: s, operator: commands.Actor{TenantID: s.operator.TenantID, Operator: true}}
}

func (o outgoing) meta() commands.Meta {
	return commands.Meta{ID: uuid.NewString(), Actor: o.operator}
}

func (o outgoing) create(walletAddressID, quoteID string, grant *commands.OutgoingPaymentGrant) (string, error) {
	if grant != nil {
		id, _, err := o.s.running.Backend.OutgoingPayments.Create(context.Background(), commands.CreateOutgoingPayment{
			Meta: o.meta(), WalletAddressID: walletAddressID, QuoteID: quoteID, Grant: grant, InitiatedBy: events.InitiatedByOpenPayments})
		return id, err
	}
	var out struct {
		CreateOutgoingPayment struct{ Payment outgoingPaymentOut } `json:"createOutgoingPayment"`
	}
	err := o.s.operator.Do(context.Background(), `mutation($input: CreateOutgoingPaymentInput!) { createOutgoingPayment(input: $input) { payment { `+
		outgoingPaymentFields+` } } }`, map[string]any{"input": map[string]any{"walletAddressId": walletAddressID, "quoteId": quoteID}}, &out)
	if err == nil && (out.CreateOutgoingPayment.Payment.State != "FUNDING" || out.CreateOutgoingPayment.Payment.Liquidity != nil) {
		return "", fmt.Errorf("a new payment %+v", out.CreateOutgoingPayment.Payment)
	}
	return out.CreateOutgoingPayment.Payment.ID, err
}

func (o outgoing) fund(id string) error {
	return o.fundWithData(id, nil)
}

// fundWithData funds a payment with data for its receiver, none when nil.
func (o outgoing) fundWithData(id string, data *string) error {
	return o.s.operator.Do(context.Background(), `mutation($input: DepositOutgoingPaymentLiquidityInput!) { depositOutgoingPaymentLiquidity(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"outgoingPaymentId": id, "idempotencyKey": uuid.NewString(), "dataToTransmit": data}}, nil)
}

func (o outgoing) get(id string) (outgoingPaymentOut, error) {
	var out struct{ OutgoingPayment *outgoingPaymentOut }
	err := o.s.operator.Do(context.Background(), `query($id: String!) { outgoingPayment(id: $id) { `+outgoingPaymentFields+` } }`,
		map[string]any{"id": id}, &out)
	if err == nil && out.OutgoingPayment == nil {
		err = fmt.Errorf("no outgoing payment %s", id)
	}
	if err != nil {
		return outgoingPaymentOut{}, err
	}
	return *out.OutgoingPayment, nil
}

// finished waits until the admin API shows the payment completed, failed
// or cancelled, and answers it with its events' state (what it delivered).
func (o outgoing) finished(t *testing.T, id string, within time.Duration) (outgoingPaymentOut, outgoingpayment.State) {
	t.Helper()
	var p outgoingPaymentOut
	testkit.Eventually(t, within, func() bool {
		var err error
		p, err = o.get(id)
		return err == nil && (p.State == "COMPLETED" || p.State == "FAILED" || p.State == "CANCELLED")
	}, "payment %s not finished: %+v", id, &p)
	s, _, err := o.s.running.Backend.OutgoingPayments.Load(context.Background(), o.operator.TenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != s.State || p.SentAmount.Value != strconv.FormatUint(s.Sent, 10) {
		t.Fatalf("the admin API shows %+v, the events %+v", p, s)
	}
	return p, s
}

// Local payments: the money moves from the payment's account into the
// incoming payment's with one transfer, converted as quoted, and the
// incoming payment records it; the fee stays in the payment's account.
func TestOutgoingPaymentsLocal(t *testing.T) {
	rates := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"base":"USD","rates":{"EUR":0.5}}`))
	}))
	defer rates.Close()
	s := startSystem(t, false, func(c *config.Config) { c.ExchangeRatesURL = rates.URL })
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	eur, err := createAsset(ctx, op, "EUR", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation($input: SetFeeInput!) { setFee(input: $input) { fee { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd.ID, "type": "SENDING", "fee": map[string]any{"fixed": "10", "basisPoints": 0}}}, nil); err != nil {
		t.Fatal(err)
	}
	// Money changing currency comes out of the EUR asset's liquidity.
	if err := op.Do(ctx, `mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"assetId": eur.ID, "amount": "1000", "id": uuid.NewString(), "idempotencyKey": uuid.NewString()}}, nil); err != nil {
		t.Fatal(err)
	}
	wallet := func(asset, name string) string {
		wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": asset, "address": name})
		if err != nil {
			t.Fatal(err)
		}
		return wa.ID
	}
	alice, bob, carol := wallet(usd.ID, "alice"), wallet(usd.ID, "bob"), wallet(eur.ID, "carol")
	o := newOutgoing(s)
	for _, tc := range []struct {
		name, to, asset      string
		debit, receive       string
		sent, delivered, fee uint64
	}{
		{"one currency", bob, "USD", "510", "500", 500, 500, 10},
		{"two currencies", carol, "EUR", "410", "200", 400, 200, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": tc.to,
				"incomingAmount": map[string]any{"value": "1000", "assetCode": tc.asset, "assetScale": 2}})
			if err != nil {
				t.Fatal(err)
			}
			q, err := createQuote(ctx, op, map[string]any{"walletAddressId": alice, "receiver": ip.URL,
				"debitAmount": map[string]any{"value": tc.debit, "assetCode": "USD", "assetScale": 2}})
			if err != nil {
				t.Fatal(err)
			}
			if q.ReceiveAmount.Value != tc.receive {
				t.Fatalf("quote %+v", q)
			}
			id, err := o.create(alice, q.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			if id != q.ID {
				t.Fatalf("payment %s of quote %s", id, q.ID)
			}
			if _, err := o.create(alice, q.ID, nil); code(t, err) != "BAD_USER_INPUT" {
				t.Fatalf("a second payment of the quote: %v", err)
			}
			funded := time.Now()
			if err := o.fund(id); err != nil {
				t.Fatal(err)
			}
			if err := o.fund(id); code(t, err) != "CONFLICT" {
				t.Fatalf("funded twice: %v", err)
			}
			_, p := o.finished(t, id, 10*time.Second)
			t.Logf("completed %v after funding", time.Since(funded))
			if p.State != outgoingpayment.Completed || p.Sent != tc.sent || p.Delivered != tc.delivered {
				t.Fatalf("payment %+v", p)
			}
			balance, err := s.running.Deps.Ledger.Balance(ctx, uuid.MustParse(id))
			if err != nil || balance != tc.fee {
				t.Fatalf("the payment's account holds %d (%v), want the fee %d", balance, err, tc.fee)
			}
			// The incoming payment recorded its money before the payment
			// completed, so that no stop in between leaves it to its expiry.
			_, completedAt, err := s.running.Backend.OutgoingPayments.Load(ctx, op.TenantID, id)
			if err != nil {
				t.Fatal(err)
			}
			target, err := handlers.NewTarget(op.TenantID, incomingpayment.AggregateType, ip.ID)
			if err != nil {
				t.Fatal(err)
			}
			received, receivedAt, err := handlers.Load(ctx, s.running.Deps.Store, target.Subject, incomingpayment.Evolve)
			if err != nil || strconv.FormatUint(received.Received, 10) != tc.receive || receivedAt > completedAt {
				t.Fatalf("the incoming payment recorded %d at sequence %d (%v), the payment completed at %d", received.Received, receivedAt, err, completedAt)
			}
			testkit.Eventually(t, 10*time.Second, func() bool {
				got, err := getIncomingPayment(ctx, op, ip.ID)
				return err == nil && got.ReceivedAmount.Value == tc.receive
			}, "the incoming payment did not record %s", tc.receive)
			// The account servicing entity heard of the payment's creation
			// and completion, with what is left to withdraw: the fee.
			var hooks map[string]map[string]any
			testkit.Eventually(t, 10*time.Second, func() bool {
				hooks = webhookDataOf(t, s, id)
				return len(hooks) == 2
			}, "webhooks of %s: %v", id, hooks)
			created, completed := hooks["outgoing_payment.created"], hooks["outgoing_payment.completed"]
			if created["state"] != "FUNDING" || created["balance"] != "0" || completed["state"] != "COMPLETED" ||
				completed["balance"] != strconv.FormatUint(tc.fee, 10) || fmt.Sprint(completed["sentAmount"]) != fmt.Sprintf("map[assetCode:USD assetScale:2 value:%d]", tc.sent) {
				t.Fatalf("webhooks %v", hooks)
			}
		})
	}
	t.Run("from an incoming payment", func(t *testing.T) {
		ip, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": bob})
		if err != nil {
			t.Fatal(err)
		}
		c := commands.CreateOutgoingPaymentFromIncomingPayment{Meta: o.meta(), WalletAddressID: alice, IncomingPayment: ip.URL,
			DebitAmount: &commands.Amount{Value: 310, AssetCode: "USD", AssetScale: 2}, InitiatedBy: events.InitiatedByAdmin}
		id, _, _, err := s.running.Backend.OutgoingPayments.CreateFromIncomingPayment(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		// A retry of the command is the payment it made.
		again, _, _, err := s.running.Backend.OutgoingPayments.CreateFromIncomingPayment(ctx, c)
		if err != nil || again != id {
			t.Fatalf("a retry made %s (%v), the first %s", again, err, id)
		}
		if err := o.fund(id); err != nil {
			t.Fatal(err)
		}
		if _, p := o.finished(t, id, 10*time.Second); p.State != outgoingpayment.Completed || p.Sent != 300 || p.Delivered != 300 || p.DebitAmount != 310 {
			t.Fatalf("payment %+v", p)
		}
	})
	t.Run("funded with data for its receiver", func(t *testing.T) {
		// A local payment has no STREAM to carry the data; its funding keeps
		// it all the same, sealed in the log, and no audit tool prints it.
		ip, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": bob})
		if err != nil {
			t.Fatal(err)
		}
		q, err := createQuote(ctx, op, map[string]any{"walletAddressId": alice, "receiver": ip.URL,
			"debitAmount": map[string]any{"value": "110", "assetCode": "USD", "assetScale": 2}})
		if err != nil {
			t.Fatal(err)
		}
		id, err := o.create(alice, q.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		// What the handler takes is what the STREAM sender carries.
		if outgoingpayment.DataToTransmitBytesMax != sender.DataBytesMax {
			t.Fatalf("dataToTransmit up to %d bytes, the sender carries %d", outgoingpayment.DataToTransmitBytesMax, sender.DataBytesMax)
		}
		tooLong := strings.Repeat("d", sender.DataBytesMax+1)
		if err := o.fundWithData(id, &tooLong); code(t, err) != "BAD_USER_INPUT" {
			t.Fatalf("funding with more data than a packet holds: %v", err)
		}
		// A payment's data may still be sent until it is finished: shredding
		// it is refused before, as for a payment still open to receive.
		if err := s.running.Deps.Shred(ctx, outgoingpayment.AggregateType, id); err == nil || !strings.Contains(err.Error(), "not finished") {
			t.Fatalf("shredding the data of a payment waiting for its funds: %v", err)
		}
		if err := s.running.Deps.Shred(ctx, "incoming_payment", ip.ID); err == nil || !strings.Contains(err.Error(), "still open") {
			t.Fatalf("shredding an open incoming payment: %v", err)
		}
		data := "name=Alice " + uuid.NewString()
		if err := o.fundWithData(id, &data); err != nil {
			t.Fatal(err)
		}
		if _, p := o.finished(t, id, 10*time.Second); p.State != outgoingpayment.Completed || p.DataToTransmit != data {
			t.Fatalf("payment %+v", p)
		}
		for _, msg := range rawMessages(t, s.nats.JS, app.EventsStream) {
			if strings.Contains(string(msg), data) {
				t.Errorf("the event log holds the payment's data in plain text: %s", msg)
			}
		}
		history := mustHistory(t, s, id)
		funded := 0
		for _, env := range history {
			out := app.RedactedData(env)
			if strings.Contains(out, data) || strings.Contains(out, "enc:v1:") {
				t.Errorf("events of %s print %s", id, out)
			}
			if env.Type == "outgoing_payment.funded" && strings.Contains(out, app.Redacted) {
				funded++
			}
		}
		if funded != 1 {
			t.Fatalf("%d funding events print the data redacted", funded)
		}
		state, err := app.StateAt(history, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if out := fmt.Sprintf("%+v", state); strings.Contains(out, data) || strings.Contains(out, "enc:v1:") || !strings.Contains(out, app.Redacted) {
			t.Errorf("events --at prints %s", out)
		}

		// Finished, its data can be shredded: it reads as none from then on.
		if err := s.running.Deps.Shred(ctx, outgoingpayment.AggregateType, id); err != nil {
			t.Fatal(err)
		}
		if p, _, err := s.running.Backend.OutgoingPayments.Load(ctx, s.operator.TenantID, id); err != nil || p.DataToTransmit != "" || p.State != outgoingpayment.Completed {
			t.Fatalf("a shredded payment reads as %+v (%v)", p, err)
		}
		if err := s.running.Deps.Shred(ctx, outgoingpayment.AggregateType, uuid.NewString()); err == nil || !strings.Contains(err.Error(), "no outgoing_payment") {
			t.Fatalf("shredding an unknown payment: %v", err)
		}
	})
	t.Run("funded and withdrawn through its webhook events", func(t *testing.T) {
		ip, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": bob})
		if err != nil {
			t.Fatal(err)
		}
		q, err := createQuote(ctx, op, map[string]any{"walletAddressId": alice, "receiver": ip.URL,
			"debitAmount": map[string]any{"value": "110", "assetCode": "USD", "assetScale": 2}})
		if err != nil {
			t.Fatal(err)
		}
		id, err := o.create(alice, q.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		eventOf := func(typ string) string {
			var found string
			testkit.Eventually(t, 10*time.Second, func() bool {
				found = webhookEventIDOf(t, s, id, typ)
				return found != ""
			}, "no %s event of %s", typ, id)
			return found
		}
		event := func(mutation, eventID string) error {
			return op.Do(ctx, fmt.Sprintf(`mutation($input: %sInput!) { %s(input: $input) { success } }`, upperFirst(mutation), mutation),
				map[string]any{"input": map[string]any{"eventId": eventID, "idempotencyKey": uuid.NewString()}}, nil)
		}
		created := eventOf("outgoing_payment.created")
		if err := event("withdrawEventLiquidity", created); code(t, err) != "BAD_USER_INPUT" {
			t.Fatalf("withdrawing a created payment's event: %v", err)
		}
		if err := event("depositEventLiquidity", created); err != nil {
			t.Fatal(err)
		}
		if _, p := o.finished(t, id, 10*time.Second); p.State != outgoingpayment.Completed || p.Sent != 100 {
			t.Fatalf("payment %+v", p)
		}
		completed := eventOf("outgoing_payment.completed")
		if err := event("depositEventLiquidity", completed); code(t, err) != "BAD_USER_INPUT" {
			t.Fatalf("depositing on a completed payment's event: %v", err)
		}
		if err := event("withdrawEventLiquidity", completed); err != nil {
			t.Fatal(err)
		}
		if balance, err := s.running.Deps.Ledger.Balance(ctx, uuid.MustParse(id)); err != nil || balance != 0 {
			t.Fatalf("the fee left after its withdrawal: %d (%v)", balance, err)
		}
		if err := event("withdrawEventLiquidity", completed); code(t, err) == "" {
			t.Fatal("the fee withdrawn twice")
		}
	})
}

// webhookEventIDOf is the id of the webhook event of one type about one
// object, "" when there is none yet.
func webhookEventIDOf(t *testing.T, s *system, objectID, typ string) string {
	t.Helper()
	var out struct {
		WebhookEvents struct {
			Edges []struct {
				Node struct {
					ID   string
					Data map[string]any
				}
			}
		}
	}
	if err := s.operator.Do(context.Background(), `query($types: [String!]) { webhookEvents(first: 100, filter: {type: {in: $types}}) { edges { node { id data } } } }`,
		map[string]any{"types": []string{typ}}, &out); err != nil {
		t.Fatal(err)
	}
	for _, e := range out.WebhookEvents.Edges {
		if e.Node.Data["id"] == objectID {
			return e.Node.ID
		}
	}
	return ""
}

// A payment to another instance goes over Interledger: it delivers at least
// what it was quoted, sends no more than it holds, and the incoming payment
// there records what arrived.
// peered is two instances with a USD asset each, alpha peered with beta
// over ILP-over-HTTP: what alpha sends to test.beta, beta owes its
// receivers out of alpha's liquidity.
type peered struct {
	alpha, beta *instance
	usd         map[*instance]string // each instance's asset
	toBeta      string               // alpha's peer
}

// startPeered starts two peered instances; configureAlpha and
// configureBeta, when set, change their configurations.
func startPeered(t *testing.T, configureAlpha, configureBeta func(*config.Config)) peered {
	t.Helper()
	secret := func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	}
	p := peered{usd: map[*instance]string{}}
	p.alpha = startInstance(t, func(c *config.Config) {
		c.ILPAddress, c.Slippage, c.StreamSecret = "test.alpha", 0.01, secret()
		if configureAlpha != nil {
			configureAlpha(c)
		}
	})
	p.beta = startInstance(t, func(c *config.Config) {
		c.ILPAddress, c.StreamSecret = "test.beta", secret()
		if configureBeta != nil {
			configureBeta(c)
		}
	})
	ctx := context.Background()
	for _, in := range []*instance{p.alpha, p.beta} {
		usd, err := createAsset(ctx, in.operator, "USD", 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		p.usd[in] = usd.ID
	}
	betaConnector, err := p.beta.running.URL(app.ConnectorListener)
	if err != nil {
		t.Fatal(err)
	}
	p.toBeta = peerOver(t, p.alpha, p.usd[p.alpha], "test.beta", "beta-to-alpha", "alpha-to-beta", betaConnector, "0")
	peerOver(t, p.beta, p.usd[p.beta], "test.alpha", "alpha-to-beta", "beta-to-alpha", "http://127.0.0.1:9/unused", "100000")
	return p
}

// quote quotes a debit of value USD cents from alpha's wallet address to a
// receiver of beta's, once alpha reaches it: the peer's routes are followed
// a moment after its creation.
// peerOver makes a peer of instance in, in asset assetID, reached over
// ILP-over-HTTP at endpoint with the outgoing token, and taking the
// incoming one.
func peerOver(t *testing.T, in *instance, assetID, address, incoming, outgoing, endpoint, liquidity string) string {
	t.Helper()
	var out struct {
		CreatePeer struct{ Peer struct{ ID string } } `json:"createPeer"`
	}
	if err := in.operator.Do(context.Background(), `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": assetID, "staticIlpAddress": address, "initialLiquidity": liquidity,
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{incoming}},
			"outgoing": map[string]any{"authToken": outgoing, "endpoint": endpoint}}}}, &out); err != nil {
		t.Fatal(err)
	}
	return out.CreatePeer.Peer.ID
}

func (p peered) quote(t *testing.T, walletAddressID, receiverURL, value string) quoteOut {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		q, err := createQuote(context.Background(), p.alpha.operator, map[string]any{"walletAddressId": walletAddressID, "receiver": receiverURL,
			"debitAmount": map[string]any{"value": value, "assetCode": "USD", "assetScale": 2}})
		if err == nil {
			return q
		}
		if time.Now().After(deadline) {
			t.Fatalf("no quote after 10 s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOutgoingPaymentsRemote(t *testing.T) {
	pair := startPeered(t, func(c *config.Config) { c.OutgoingPaymentRetryAttempts = 1 }, nil)
	alpha, beta, assets, toBeta := pair.alpha, pair.beta, pair.usd, pair.toBeta
	ctx := context.Background()
	alice, err := createWalletAddress(ctx, alpha.operator, map[string]any{"assetId": assets[alpha], "address": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := createWalletAddress(ctx, beta.operator, map[string]any{"assetId": assets[beta], "address": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := createIncomingPayment(ctx, beta.operator, map[string]any{"walletAddressId": bob.ID,
		"incomingAmount": map[string]any{"value": "1000", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	q := pair.quote(t, alice.ID, ip.URL, "500")
	o := newOutgoing(alpha.system)
	id, err := o.create(alice.ID, q.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	funded := time.Now()
	if err := o.fund(id); err != nil {
		t.Fatal(err)
	}
	_, p := o.finished(t, id, 20*time.Second)
	t.Logf("completed %v after funding: sent %d, delivered %d", time.Since(funded), p.Sent, p.Delivered)
	if q.ReceiveAmount.Value != "495" || p.State != outgoingpayment.Completed || p.Sent > 500 || p.Delivered < 495 {
		t.Fatalf("payment %+v, quoted %+v", p, q)
	}
	sent, err := alpha.running.Deps.Ledger.TotalSent(ctx, uuid.MustParse(id))
	if err != nil || sent != p.Sent {
		t.Fatalf("the payment's account sent %d (%v), the payment says %d", sent, err, p.Sent)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		got, err := getIncomingPayment(ctx, beta.operator, ip.ID)
		return err == nil && got.ReceivedAmount.Value == strconv.FormatUint(p.Delivered, 10)
	}, "the incoming payment did not record %d", p.Delivered)

	// With no route to the receiver left, the payment fails at its last
	// attempt; its money stays in its account.
	q, err = createQuote(ctx, alpha.operator, map[string]any{"walletAddressId": alice.ID, "receiver": ip.URL,
		"debitAmount": map[string]any{"value": "200", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := alpha.operator.Do(ctx, `mutation($input: DeletePeerInput!) { deletePeer(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"id": toBeta}}, nil); err != nil {
		t.Fatal(err)
	}
	if id, err = o.create(alice.ID, q.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := o.fund(id); err != nil {
		t.Fatal(err)
	}
	if _, p = o.finished(t, id, 20*time.Second); p.State != outgoingpayment.Failed || p.Sent != 0 || p.Error == "" {
		t.Fatalf("payment %+v", p)
	}
	if balance, err := alpha.running.Deps.Ledger.Balance(ctx, uuid.MustParse(id)); err != nil || balance != 200 {
		t.Fatalf("a failed payment's account holds %d (%v)", balance, err)
	}
}

// Payments racing for one grant's limit: each takes its debit from the
// grant in the same append as its creation, so exactly as many as the
// limit allows are made, and a failed one gives its amount back.
func TestOutgoingPaymentsShareAGrantLimit(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	op := s.operator
	alice, ip := aliceAndBob(t, s)
	const payments, limit, each = 20, 1000, 100
	quotes := make([]string, payments)
	for i := range quotes {
		q, err := createQuote(ctx, op, map[string]any{"walletAddressId": alice.ID, "receiver": ip.URL,
			"debitAmount": map[string]any{"value": strconv.Itoa(each), "assetCode": "USD", "assetScale": 2}})
		if err != nil {
			t.Fatal(err)
		}
		quotes[i] = q.ID
	}
	grant := &commands.OutgoingPaymentGrant{ID: uuid.NewString(), Receiver: ip.URL,
		DebitAmount: &commands.Amount{Value: limit, AssetCode: "USD", AssetScale: 2}, Interval: "R/2020-01-01T00:00:00Z/P1Y"}
	o := newOutgoing(s)
	errs := make(chan error, payments)
	for _, q := range quotes {
		go func() {
			_, err := o.create(alice.ID, q, grant)
			errs <- err
		}()
	}
	made, refused := 0, 0
	var made1 []string
	for range payments {
		switch err := <-errs; {
		case err == nil:
			made++
		case apperr.KindOf(err) == apperr.Forbidden:
			refused++
		default:
			t.Fatalf("a payment neither made nor refused for its grant: %v", err)
		}
	}
	if made != limit/each || refused != payments-limit/each {
		t.Fatalf("%d made and %d refused, want %d and %d", made, refused, limit/each, payments-limit/each)
	}
	// A cancelled payment gives its amount back: one more can be made.
	for _, q := range quotes {
		if p, _, err := s.running.Backend.OutgoingPayments.Load(ctx, op.TenantID, q); err == nil && p.Exists {
			made1 = append(made1, q)
		}
	}
	// What the grant had spent, as each payment's answer tells it, is as
	// of that payment: those counted before it and itself, not those the
	// other requests made after.
	asOf := map[uint64]int{}
	for _, id := range made1 {
		debit, _, took, err := s.running.Backend.OutgoingPayments.GrantSpent(ctx, op.TenantID, grant.ID, id)
		if err != nil || !took {
			t.Fatalf("spent as of payment %s: took %v, %v", id, took, err)
		}
		asOf[debit]++
	}
	for k := 1; k <= limit/each; k++ {
		if asOf[uint64(k*each)] != 1 {
			t.Fatalf("spent as of each payment %v, want each of 100, 200, … %d once", asOf, limit)
		}
	}
	if _, err := s.running.Backend.OutgoingPayments.Cancel(ctx, commands.CancelOutgoingPayment{Meta: o.meta(), OutgoingPaymentID: made1[0]}); err != nil {
		t.Fatal(err)
	}
	again := 0
	for _, q := range quotes {
		if _, err := o.create(alice.ID, q, grant); err == nil {
			again++
		}
	}
	if again != 1 {
		t.Fatalf("%d payments made after one was cancelled, want 1", again)
	}
}

// aliceAndBob makes a USD asset, its wallet addresses alice and bob, and an
// incoming payment to bob, whose local payments a test makes from alice.
func aliceAndBob(t *testing.T, s *system) (walletAddressOut, incomingPaymentOut) {
	t.Helper()
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := createIncomingPayment(ctx, s.operator, map[string]any{"walletAddressId": bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	return alice, ip
}

// webhookDataOf is the data of the webhook events of one object, by type.
func webhookDataOf(t *testing.T, s *system, id string) map[string]map[string]any {
	t.Helper()
	var out struct {
		WebhookEvents struct {
			Edges []struct {
				Node struct {
					Type string
					Data map[string]any
				}
			}
		}
	}
	if err := s.operator.Do(context.Background(), `query { webhookEvents(first: 100) { edges { node { type data } } } }`, nil, &out); err != nil {
		t.Fatal(err)
	}
	found := map[string]map[string]any{}
	for _, e := range out.WebhookEvents.Edges {
		if e.Node.Data["id"] == id {
			found[e.Node.Type] = e.Node.Data
		}
	}
	return found
}

// Funding and cancelling one payment at once, many times over: whichever
// wins, a cancelled payment keeps no money (a deposit that landed as it
// was cancelled goes back to the asset's settlement account), and the
// ledger stays balanced.
func TestFundingRacingACancelLeavesNoMoney(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	op := s.operator
	alice, ip := aliceAndBob(t, s)
	o := newOutgoing(s)
	const payments = 12
	cancelled, funded, returned := 0, 0, 0
	for range payments {
		q, err := createQuote(ctx, op, map[string]any{"walletAddressId": alice.ID, "receiver": ip.URL,
			"debitAmount": map[string]any{"value": "50", "assetCode": "USD", "assetScale": 2}})
		if err != nil {
			t.Fatal(err)
		}
		id, err := o.create(alice.ID, q.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		fundErr, cancelErr := make(chan error, 1), make(chan error, 1)
		go func() { fundErr <- o.fund(id) }()
		go func() {
			_, err := s.running.Backend.OutgoingPayments.Cancel(ctx, commands.CancelOutgoingPayment{Meta: o.meta(), OutgoingPaymentID: id})
			cancelErr <- err
		}()
		errFund, errCancel := <-fundErr, <-cancelErr
		if (errFund == nil) == (errCancel == nil) {
			t.Fatalf("payment %s: funding answered %v and cancelling %v, want exactly one to succeed", id, errFund, errCancel)
		}
		if errCancel != nil {
			funded++
			continue
		}
		cancelled++
		p, _, err := s.running.Backend.OutgoingPayments.Load(ctx, op.TenantID, id)
		if err != nil || p.State != outgoingpayment.Cancelled {
			t.Fatalf("payment %s cancelled, its events say %s (%v)", id, p.State, err)
		}
		balance, err := s.running.Deps.Ledger.Balance(ctx, uuid.MustParse(id))
		if err != nil && !errors.Is(err, ledger.ErrUnknownAccount) {
			t.Fatal(err)
		}
		if balance != 0 {
			t.Fatalf("cancelled payment %s holds %d in its account", id, balance)
		}
		if moved, err := s.running.Deps.Ledger.AccountTransfers(ctx, uuid.MustParse(id), 10); err == nil && len(moved.Debits) > 0 {
			returned++
		}
	}
	t.Logf("%d payments funded, %d cancelled, %d of them after their deposit, which went back", funded, cancelled, returned)
	imbalances, err := s.running.Deps.Ledger.Check(ctx)
	if err != nil || len(imbalances) > 0 {
		t.Fatalf("ledger check: %v %+v", err, imbalances)
	}
	// A deposit returned is explained by its payment's cancellation.
	discrepancies, err := app.CheckLiquidity(ctx, s.nats.JS, s.running.Deps.Ledger)
	if err != nil || len(discrepancies) > 0 {
		t.Fatalf("liquidity check: %v %+v", err, discrepancies)
	}
}

// A payment the ledger could never fund (a debit amount past its bigints,
// which Rafiki's amounts reach) is refused at its quote as the caller's
// invalid input, as Rafiki's bigint columns refuse it: a quote of it could
// be paid for, funded and never sent.
func TestQuotesPastTheLedgersLargestAreRefused(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	alice, ip := aliceAndBob(t, s)
	for _, amount := range []string{"9223372036854775808", "18446744073709551615"} {
		q, err := createQuote(ctx, s.operator, map[string]any{"walletAddressId": alice.ID, "receiver": ip.URL,
			"debitAmount": map[string]any{"value": amount, "assetCode": "USD", "assetScale": 2}})
		var gqlErrs adminclient.Errors
		if !errors.As(err, &gqlErrs) || len(gqlErrs) != 1 || gqlErrs[0].Code() != "BAD_USER_INPUT" {
			t.Fatalf("quote of a debit of %s: %+v (%v), want BAD_USER_INPUT", amount, q, err)
		}
	}
	q, err := createQuote(ctx, s.operator, map[string]any{"walletAddressId": alice.ID, "receiver": ip.URL,
		"debitAmount": map[string]any{"value": "9223372036854775807", "assetCode": "USD", "assetScale": 2}})
	if err != nil || q.DebitAmount.Value != "9223372036854775807" {
		t.Fatalf("quote of the ledger's largest debit: %+v (%v)", q, err)
	}
}
