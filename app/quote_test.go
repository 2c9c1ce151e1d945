package app_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/testkit"
)

type quoteOut struct {
	ID                    string    `json:"id"`
	TenantID              string    `json:"tenantId"`
	WalletAddressID       string    `json:"walletAddressId"`
	Receiver              string    `json:"receiver"`
	DebitAmount           amountOut `json:"debitAmount"`
	ReceiveAmount         amountOut `json:"receiveAmount"`
	CreatedAt             string    `json:"createdAt"`
	ExpiresAt             string    `json:"expiresAt"`
	EstimatedExchangeRate *float64  `json:"estimatedExchangeRate"`
}

const quoteFields = `id tenantId walletAddressId receiver debitAmount { value assetCode assetScale }
	receiveAmount { value assetCode assetScale } createdAt expiresAt estimatedExchangeRate`

func createQuote(ctx context.Context, c *adminclient.Client, input map[string]any) (quoteOut, error) {
	var out struct {
		CreateQuote struct{ Quote quoteOut } `json:"createQuote"`
	}
	err := c.Do(ctx, `mutation($input: CreateQuoteInput!) { createQuote(input: $input) { quote { `+quoteFields+` } } }`,
		map[string]any{"input": input}, &out)
	return out.CreateQuote.Quote, err
}

// Quotes for incoming payments of this instance: a fixed debit, a fixed
// delivery and what the payment still expects, with the asset's sending
// fee, in one currency and across two at the operator's rates; the
// refusals Rafiki gives; the quote read back and listed.
func TestQuotesForLocalIncomingPayments(t *testing.T) {
	rates := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("base") != "USD" {
			http.Error(w, "unknown base", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{"base":"USD","rates":{"EUR":0.5}}`))
	}))
	defer rates.Close()
	s := startSystem(t, false, func(c *config.Config) { c.ExchangeRatesURL = rates.URL; c.QuoteLifespan = time.Minute })
	ctx := context.Background()
	op := s.operator
	eur, alice, bob, carol := quoteParties(t, ctx, op)
	toBob, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": bob.ID,
		"incomingAmount": map[string]any{"value": "1000", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	toCarol, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": carol.ID})
	if err != nil {
		t.Fatal(err)
	}
	amount := func(v, code string) map[string]any {
		return map[string]any{"value": v, "assetCode": code, "assetScale": 2}
	}

	for _, tc := range []struct {
		name           string
		input          map[string]any
		debit, receive amountOut
		rate           float64
	}{
		// 1 % of 410 rounded up and 10: 15 of fees.
		{"a fixed debit", map[string]any{"receiver": toBob.URL, "debitAmount": amount("410", "USD")},
			amountOut{"410", "USD", 2}, amountOut{"395", "USD", 2}, 1},
		{"a fixed delivery", map[string]any{"receiver": toBob.URL, "receiveAmount": amount("300", "USD")},
			amountOut{"313", "USD", 2}, amountOut{"300", "USD", 2}, 1},
		{"what the payment expects", map[string]any{"receiver": toBob.URL},
			amountOut{"1020", "USD", 2}, amountOut{"1000", "USD", 2}, 1},
		// 400 less 14 of fees, at 0.5.
		{"another currency, a fixed debit", map[string]any{"receiver": toCarol.URL, "debitAmount": amount("400", "USD")},
			amountOut{"400", "USD", 2}, amountOut{"193", "EUR", 2}, 0.5},
		// 200 EUR cost 400 USD, and 14 of fees.
		{"another currency, a fixed delivery", map[string]any{"receiver": toCarol.URL, "receiveAmount": amount("200", "EUR")},
			amountOut{"414", "USD", 2}, amountOut{"200", "EUR", 2}, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.input["walletAddressId"] = alice.ID
			before := time.Now()
			q, err := createQuote(ctx, op, tc.input)
			if err != nil {
				t.Fatal(err)
			}
			if q.DebitAmount != tc.debit || q.ReceiveAmount != tc.receive || q.WalletAddressID != alice.ID || q.TenantID != s.running.Deps.Config.OperatorTenantID ||
				q.Receiver != tc.input["receiver"] || q.EstimatedExchangeRate == nil || *q.EstimatedExchangeRate != tc.rate {
				t.Fatalf("quote %+v", q)
			}
			expires, err := time.Parse(time.RFC3339, q.ExpiresAt)
			if err != nil || expires.Before(before.Add(time.Minute-time.Second)) || expires.After(time.Now().Add(time.Minute)) {
				t.Fatalf("expires at %s (%v), want a minute from now", q.ExpiresAt, err)
			}
			var got struct{ Quote quoteOut }
			if err := op.Do(ctx, `query($id: String!) { quote(id: $id) { `+quoteFields+` } }`, map[string]any{"id": q.ID}, &got); err != nil || !reflect.DeepEqual(got.Quote, q) {
				t.Fatalf("read back %+v %v, want %+v", got.Quote, err, q)
			}
		})
	}
	var listed struct {
		WalletAddress struct {
			Quotes struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
	}
	if err := op.Do(ctx, `query($id: String!) { walletAddress(id: $id) { quotes { edges { node { id } } } } }`,
		map[string]any{"id": alice.ID}, &listed); err != nil || len(listed.WalletAddress.Quotes.Edges) != 5 {
		t.Fatalf("alice's quotes %+v %v", listed, err)
	}

	for _, tc := range []struct {
		name  string
		input map[string]any
		code  string
	}{
		{"a receiver elsewhere", map[string]any{"receiver": "https://elsewhere.example/t/incoming-payments/1", "debitAmount": amount("1", "USD")}, "BAD_USER_INPUT"},
		{"not a URL", map[string]any{"receiver": "bob", "debitAmount": amount("1", "USD")}, "BAD_USER_INPUT"},
		{"a debit in another asset", map[string]any{"receiver": toBob.URL, "debitAmount": amount("100", "EUR")}, "BAD_USER_INPUT"},
		{"both amounts", map[string]any{"receiver": toBob.URL, "debitAmount": amount("100", "USD"), "receiveAmount": amount("100", "USD")}, "BAD_USER_INPUT"},
		{"more than the payment expects", map[string]any{"receiver": toBob.URL, "receiveAmount": amount("1001", "USD")}, "BAD_USER_INPUT"},
		{"a debit that is all fees", map[string]any{"receiver": toBob.URL, "debitAmount": amount("10", "USD")}, "BAD_USER_INPUT"},
		{"nothing asked of a payment expecting no amount", map[string]any{"receiver": toCarol.URL}, "BAD_USER_INPUT"},
		{"a delivery whose price does not fit 64 bits", map[string]any{"receiver": toCarol.URL, "receiveAmount": amount("18446744073709551615", "EUR")}, "BAD_USER_INPUT"},
		{"an unknown wallet address", map[string]any{"walletAddressId": eur.ID, "receiver": toBob.URL, "debitAmount": amount("1", "USD")}, "NOT_FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := tc.input["walletAddressId"]; !ok {
				tc.input["walletAddressId"] = alice.ID
			}
			if _, err := createQuote(ctx, op, tc.input); code(t, err) != tc.code {
				t.Fatalf("%v, want %s", err, tc.code)
			}
		})
	}

	// Another tenant neither quotes from the wallet address nor reads its
	// quotes.
	var tenant struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := op.Do(ctx, `mutation { createTenant(input: {apiSecret: "q-secret"}) { tenant { id } } }`, nil, &tenant); err != nil {
		t.Fatal(err)
	}
	stranger := s.client(tenant.CreateTenant.Tenant.ID, "q-secret")
	if _, err := createQuote(ctx, stranger, map[string]any{"walletAddressId": alice.ID, "receiver": toBob.URL, "debitAmount": amount("100", "USD")}); code(t, err) != "NOT_FOUND" {
		t.Fatalf("a stranger quoting: %v", err)
	}
	q, err := createQuote(ctx, op, map[string]any{"walletAddressId": alice.ID, "receiver": toBob.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := stranger.Do(ctx, `query($id: String!) { quote(id: $id) { id } }`, map[string]any{"id": q.ID}, nil); code(t, err) != "NOT_FOUND" {
		t.Fatalf("a stranger reading a quote: %v", err)
	}
}

// A receiver on another instance, reached through a peer: the quote probes
// the path with STREAM through this instance's connector and the other's,
// and quotes what the packets are sure to deliver at the rate expected less
// SLIPPAGE. The probe's packets move no money.
func TestQuotesForRemoteIncomingPayments(t *testing.T) {
	// Each instance has a STREAM secret of its own: one would take the
	// other's credentials for its own.
	secret := func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	}
	sender := startInstance(t, func(c *config.Config) { c.ILPAddress, c.Slippage, c.StreamSecret = "test.alpha", 0.01, secret() })
	remote := startInstance(t, func(c *config.Config) { c.ILPAddress, c.StreamSecret = "test.beta", secret() })
	ctx := context.Background()
	assets := map[*instance]string{}
	for _, in := range []*instance{sender, remote} {
		usd, err := createAsset(ctx, in.operator, "USD", 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		assets[in] = usd.ID
	}
	remoteConnector, err := remote.running.URL(app.ConnectorListener)
	if err != nil {
		t.Fatal(err)
	}
	peer := func(in *instance, address, incoming, outgoing, endpoint string) {
		t.Helper()
		if err := in.operator.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
			"assetId": assets[in], "staticIlpAddress": address, "http": map[string]any{"incoming": map[string]any{"authTokens": []string{incoming}},
				"outgoing": map[string]any{"authToken": outgoing, "endpoint": endpoint}}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	peer(sender, "test.beta", "beta-to-alpha", "alpha-to-beta", remoteConnector)
	peer(remote, "test.alpha", "alpha-to-beta", "beta-to-alpha", "http://127.0.0.1:9/unused")
	alice, err := createWalletAddress(ctx, sender.operator, map[string]any{"assetId": assets[sender], "address": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := createWalletAddress(ctx, remote.operator, map[string]any{"assetId": assets[remote], "address": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	payment, err := createIncomingPayment(ctx, remote.operator, map[string]any{"walletAddressId": bob.ID,
		"incomingAmount": map[string]any{"value": "1000", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	amount := func(v string) map[string]any { return map[string]any{"value": v, "assetCode": "USD", "assetScale": 2} }
	for _, tc := range []struct {
		name           string
		input          map[string]any
		debit, receive string
	}{
		// 500 at 1 less 1 %.
		{"a fixed debit", map[string]any{"debitAmount": amount("500")}, "500", "495"},
		// 300 at 0.99 takes 303.03…, rounded up.
		{"a fixed delivery", map[string]any{"receiveAmount": amount("300")}, "304", "300"},
		{"what the payment expects", map[string]any{}, "1011", "1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.input["walletAddressId"], tc.input["receiver"] = alice.ID, payment.URL
			// The connector learns of the peers from their events, a
			// moment after they are made.
			var q quoteOut
			testkit.Eventually(t, 10*time.Second, func() bool {
				q, err = createQuote(ctx, sender.operator, tc.input)
				return err == nil
			}, "no quote: %v", err)
			if q.DebitAmount != (amountOut{tc.debit, "USD", 2}) || q.ReceiveAmount != (amountOut{tc.receive, "USD", 2}) ||
				q.Receiver != payment.URL || q.EstimatedExchangeRate == nil || *q.EstimatedExchangeRate != 1 {
				t.Fatalf("quote %+v", q)
			}
		})
	}
	// Nothing moved: the probes opened no account for the payment.
	if got := liquidityOf(t, remote.system, `query($id: String!) { incomingPayment(id: $id) { liquidity } }`, payment.ID); got != nil {
		t.Fatalf("the payment holds %s after the probes", *got)
	}
}

// quoteParties makes the USD and EUR assets, a sending fee on USD of 10
// plus 1 %, alice's and bob's wallet addresses in USD and carol's in EUR.
func quoteParties(t *testing.T, ctx context.Context, op *adminclient.Client) (eur assetOut, alice, bob, carol walletAddressOut) {
	t.Helper()
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	eur, err = createAsset(ctx, op, "EUR", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation($input: SetFeeInput!) { setFee(input: $input) { fee { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd.ID, "type": "SENDING", "fee": map[string]any{"fixed": "10", "basisPoints": 100}}}, nil); err != nil {
		t.Fatal(err)
	}
	alice, err = createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err = createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	carol, err = createWalletAddress(ctx, op, map[string]any{"assetId": eur.ID, "address": "carol"})
	if err != nil {
		t.Fatal(err)
	}
	return eur, alice, bob, carol
}
