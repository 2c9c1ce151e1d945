package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/testkit"
)

// The example wallet beside the stack, as `rafiki dev` runs it: it seeds
// the demo accounts, and a payment between them completes with no manual
// step: the wallet funds the outgoing payment when told it was created and
// withdraws what the completed payments leave (the money received, the
// payment's remainder). A webhook not signed with the secret is refused.
func TestExampleWalletCompletesAPayment(t *testing.T) {
	s := startServices(t, app.Set{Backend: true, Worker: true, ExampleWallet: true}, false, func(c *config.Config) {
		c.ExampleWalletPort = testkit.FreePort(t)
	})
	ctx := context.Background()
	op := s.operator
	var alice, bob walletAddressOut
	testkit.Eventually(t, 20*time.Second, func() bool {
		var errA, errB error
		alice, errA = walletAddressByURL(ctx, op, "http://wallet.test/alice")
		bob, errB = walletAddressByURL(ctx, op, "http://wallet.test/bob")
		return errA == nil && errB == nil && alice.ID != "" && bob.ID != ""
	}, "the demo accounts were not seeded")
	ip, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": bob.ID,
		"incomingAmount": map[string]any{"value": "2500", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	q, err := createQuote(ctx, op, map[string]any{"walletAddressId": alice.ID, "receiver": ip.URL})
	if err != nil {
		t.Fatal(err)
	}
	// The wallet funds the payment as soon as it hears of it, which may be
	// before this answer is made: the answer's state and liquidity are the
	// payment's by then, so only its id is asked for.
	var created struct {
		CreateOutgoingPayment struct{ Payment struct{ ID string } } `json:"createOutgoingPayment"`
	}
	if err := op.Do(ctx, `mutation($input: CreateOutgoingPaymentInput!) { createOutgoingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "quoteId": q.ID}}, &created); err != nil {
		t.Fatal(err)
	}
	p, _ := newOutgoing(s).finished(t, created.CreateOutgoingPayment.Payment.ID, 20*time.Second)
	if p.State != "COMPLETED" || p.SentAmount.Value != "2500" {
		t.Fatalf("payment %+v", p)
	}
	testkit.Eventually(t, 20*time.Second, func() bool {
		got, err := getIncomingPayment(ctx, op, ip.ID)
		return err == nil && got.State == "COMPLETED" && got.Liquidity != nil && *got.Liquidity == "0"
	}, "the incoming payment's money was not withdrawn")

	walletURL, err := s.running.URL(app.ExampleWalletListener)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(walletURL+"/webhooks", "application/json", strings.NewReader(`{"id":"x","type":"outgoing_payment.created","data":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an unsigned webhook: %d", resp.StatusCode)
	}
	resp, err = http.Get(walletURL + "/rates?base=USD")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rates: %d", resp.StatusCode)
	}
}

func walletAddressByURL(ctx context.Context, c *adminclient.Client, url string) (walletAddressOut, error) {
	var out struct {
		WalletAddressByURL *walletAddressOut `json:"walletAddressByUrl"`
	}
	if err := c.Do(ctx, `query($url: String!) { walletAddressByUrl(url: $url) { id address } }`, map[string]any{"url": url}, &out); err != nil {
		return walletAddressOut{}, err
	}
	if out.WalletAddressByURL == nil {
		return walletAddressOut{}, nil
	}
	return *out.WalletAddressByURL, nil
}
