package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/testkit"
)

// The admin API's payment surfaces used as an attacker would use
// them: a tenant acting on another's wallet addresses, quotes, payments
// and receivers; hostile amounts, URLs and metadata; the payment state
// machine driven out of order and concurrently; and money conserved
// afterwards.

const (
	createQuoteQ = `mutation($input: CreateQuoteInput!) { createQuote(input: $input) { quote { id walletAddressId receiver expiresAt
		debitAmount { value assetCode assetScale } receiveAmount { value assetCode assetScale } } } }`
	createPaymentQ       = `mutation($input: CreateOutgoingPaymentInput!) { createOutgoingPayment(input: $input) { payment { id state } } }`
	createPaymentFromIPQ = `mutation($input: CreateOutgoingPaymentFromIncomingPaymentInput!) { createOutgoingPaymentFromIncomingPayment(input: $input) { payment { id state debitAmount { value } } } }`
	cancelPaymentQ       = `mutation($input: CancelOutgoingPaymentInput!) { cancelOutgoingPayment(input: $input) { payment { id state } } }`
	fundPaymentQ         = `mutation($input: DepositOutgoingPaymentLiquidityInput!) { depositOutgoingPaymentLiquidity(input: $input) { success } }`
	withdrawPaymentQ     = `mutation($input: CreateOutgoingPaymentWithdrawalInput!) { createOutgoingPaymentWithdrawal(input: $input) { success } }`
	createReceiverQ      = `mutation($input: CreateReceiverInput!) { createReceiver(input: $input) { receiver { id walletAddressUrl completed } } }`
	completeReceiverQ    = `mutation($input: CompleteReceiverInput!) { completeReceiver(input: $input) { receiver { id completed } } }`
	paymentQ             = `query($id: String!) { outgoingPayment(id: $id) { id state error stateAttempts liquidity sentAmount { value } debitAmount { value } receiveAmount { value } } }`
	quoteQ               = `query($id: String!) { quote(id: $id) { id } }`
	receiverQ            = `query($id: String!) { receiver(id: $id) { id completed metadata receivedAmount { value } } }`
	paymentsQ            = `{ outgoingPayments { edges { node { id } } } }`
	incomingPaymentQ     = `query($id: String!) { incomingPayment(id: $id) { state receivedAmount { value } } }`
)

type payingTenant struct {
	id     string
	c      *adminclient.Client
	url    string // WALLET_ADDRESS_URL
	assets map[string]assetOut
}

func newPayingTenant(t *testing.T, s *system, name string) payingTenant {
	t.Helper()
	ctx := context.Background()
	secret := "secret-" + uuid.NewString()
	url := "http://wallet.test/" + name
	var created struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := s.operator.Do(ctx, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"apiSecret": secret, "settings": []map[string]any{{"key": "WALLET_ADDRESS_URL", "value": url}}}}, &created); err != nil {
		t.Fatal(err)
	}
	pt := payingTenant{id: created.CreateTenant.Tenant.ID, url: url, assets: map[string]assetOut{}}
	pt.c = s.client(pt.id, secret)
	usd, err := createAsset(ctx, pt.c, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pt.c.Do(ctx, `mutation($input: SetFeeInput!) { setFee(input: $input) { fee { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd.ID, "type": "SENDING", "fee": map[string]any{"fixed": "10", "basisPoints": 0}}}, nil); err != nil {
		t.Fatal(err)
	}
	pt.assets["USD"] = usd
	return pt
}

func (pt payingTenant) wallet(t *testing.T, name string) walletAddressOut {
	t.Helper()
	wa, err := createWalletAddress(context.Background(), pt.c, map[string]any{"assetId": pt.assets["USD"].ID, "address": name})
	if err != nil {
		t.Fatal(err)
	}
	return wa
}

func (pt payingTenant) incoming(t *testing.T, walletAddressID string, amount string) incomingPaymentOut {
	t.Helper()
	input := map[string]any{"walletAddressId": walletAddressID}
	if amount != "" {
		input["incomingAmount"] = usdAmount(amount)
	}
	p, err := createIncomingPayment(context.Background(), pt.c, input)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func usdAmount(v any) map[string]any {
	return map[string]any{"value": v, "assetCode": "USD", "assetScale": 2}
}

type createQuoteOut struct {
	CreateQuote struct{ Quote quoteOut } `json:"createQuote"`
}

func (pt payingTenant) quote(t *testing.T, walletAddressID, receiver, debit string) quoteOut {
	t.Helper()
	var out createQuoteOut
	if err := pt.c.Do(context.Background(), createQuoteQ, map[string]any{"input": map[string]any{"walletAddressId": walletAddressID,
		"receiver": receiver, "debitAmount": usdAmount(debit)}}, &out); err != nil {
		t.Fatalf("quote of %s to %s: %v", debit, receiver, err)
	}
	return out.CreateQuote.Quote
}

func (pt payingTenant) pay(t *testing.T, walletAddressID, quoteID string) string {
	t.Helper()
	var out struct {
		CreateOutgoingPayment struct{ Payment struct{ ID, State string } } `json:"createOutgoingPayment"`
	}
	if err := pt.c.Do(context.Background(), createPaymentQ, map[string]any{"input": map[string]any{"walletAddressId": walletAddressID, "quoteId": quoteID}}, &out); err != nil {
		t.Fatal(err)
	}
	return out.CreateOutgoingPayment.Payment.ID
}

func (pt payingTenant) fund(id string) error {
	return pt.c.Do(context.Background(), fundPaymentQ, map[string]any{"input": map[string]any{"outgoingPaymentId": id, "idempotencyKey": uuid.NewString()}}, nil)
}

func (pt payingTenant) withdraw(id string) error {
	return pt.c.Do(context.Background(), withdrawPaymentQ, map[string]any{"input": map[string]any{"outgoingPaymentId": id,
		"idempotencyKey": uuid.NewString(), "timeoutSeconds": "0"}}, nil)
}

type paymentOut struct {
	ID, State                              string
	Error, Liquidity                       *string
	StateAttempts                          int
	SentAmount, DebitAmount, ReceiveAmount struct{ Value string }
}

func (pt payingTenant) payment(t *testing.T, id string) paymentOut {
	t.Helper()
	var out struct{ OutgoingPayment *paymentOut }
	if err := pt.c.Do(context.Background(), paymentQ, map[string]any{"id": id}, &out); err != nil || out.OutgoingPayment == nil {
		t.Fatalf("payment %s: %v", id, err)
	}
	return *out.OutgoingPayment
}

func (pt payingTenant) finished(t *testing.T, id string) paymentOut {
	t.Helper()
	var p paymentOut
	testkit.Eventually(t, 15*time.Second, func() bool {
		p = pt.payment(t, id)
		return p.State == "COMPLETED" || p.State == "FAILED" || p.State == "CANCELLED"
	}, "payment %s not finished: %s", id, stringer(func() string { return fmt.Sprintf("%+v error %s", p, deref(p.Error)) }))
	return p
}

// refused is a clean refusal: a GraphQL error with one of the codes.
func refused(err error, codes ...string) bool {
	got := refusalCode(err)
	for _, c := range codes {
		if got == c {
			return true
		}
	}
	return false
}

// refusalCode is errorCode, reading too the GraphQL errors of a request
// refused before execution with any 4xx status (a body too large is 413).
func refusalCode(err error) string {
	var status *adminclient.StatusError
	if errors.As(err, &status) && status.Status >= 400 && status.Status < 500 {
		var body struct{ Errors adminclient.Errors }
		if json.Unmarshal([]byte(status.Body), &body) == nil && len(body.Errors) > 0 {
			return body.Errors[0].Code()
		}
	}
	return errorCode(err)
}

// Cross-tenant: tenant B acting by id on what tenant A holds is refused as
// not found, and nothing of A's moves.
func TestPaymentsAcrossTenants(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	a := newPayingTenant(t, s, "bank-a")
	b := newPayingTenant(t, s, "bank-b")
	alice, bob := a.wallet(t, "alice"), a.wallet(t, "bob")
	mallory := b.wallet(t, "mallory")
	toBob := a.incoming(t, bob.ID, "")
	q := a.quote(t, alice.ID, toBob.URL, "500")
	funding := a.pay(t, alice.ID, q.ID)
	q2 := a.quote(t, alice.ID, toBob.URL, "300")
	sent := a.pay(t, alice.ID, q2.ID)
	if err := a.fund(sent); err != nil {
		t.Fatal(err)
	}
	if p := a.finished(t, sent); p.State != "COMPLETED" || p.SentAmount.Value != "290" || p.Liquidity == nil || *p.Liquidity != "10" {
		t.Fatalf("A's payment: %+v", p)
	}
	q3 := a.quote(t, alice.ID, toBob.URL, "200")

	notFound := []string{"NOT_FOUND"}
	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		codes []string
	}{
		{"read A's payment", paymentQ, map[string]any{"id": funding}, notFound},
		{"read A's quote", quoteQ, map[string]any{"id": q.ID}, notFound},
		{"read A's incoming payment", incomingPaymentQ, map[string]any{"id": toBob.ID}, notFound},
		{"quote from A's wallet address", createQuoteQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"receiver": toBob.URL, "debitAmount": usdAmount("100")}}, notFound},
		{"pay A's quote from A's wallet address", createPaymentQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "quoteId": q3.ID}}, notFound},
		{"pay A's quote from B's wallet address", createPaymentQ, map[string]any{"input": map[string]any{"walletAddressId": mallory.ID, "quoteId": q3.ID}},
			[]string{"NOT_FOUND", "BAD_USER_INPUT"}},
		{"pay from A's wallet address, from an incoming payment", createPaymentFromIPQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"incomingPayment": toBob.URL, "debitAmount": usdAmount("100")}}, notFound},
		{"cancel A's payment", cancelPaymentQ, map[string]any{"input": map[string]any{"id": funding}}, notFound},
		{"fund A's payment", fundPaymentQ, map[string]any{"input": map[string]any{"outgoingPaymentId": funding, "idempotencyKey": uuid.NewString()}}, notFound},
		{"withdraw from A's finished payment", withdrawPaymentQ, map[string]any{"input": map[string]any{"outgoingPaymentId": sent,
			"idempotencyKey": uuid.NewString(), "timeoutSeconds": "0"}}, notFound},
		{"create a receiver on A's wallet address", createReceiverQ, map[string]any{"input": map[string]any{"walletAddressUrl": alice.Address}}, notFound},
		{"complete A's incoming payment as a receiver", completeReceiverQ, map[string]any{"input": map[string]any{"incomingPaymentUrl": toBob.URL}},
			notFound},
		{"read A's wallet address's quotes", `query($id: String!) { walletAddress(id: $id) { quotes { edges { node { id } } } } }`,
			map[string]any{"id": alice.ID}, notFound},
	} {
		var out map[string]any
		err := b.c.Do(ctx, tc.query, tc.vars, &out)
		if !refused(err, tc.codes...) {
			t.Errorf("tenant B: %s: err %v, answer %v; want one of %v", tc.name, err, out, tc.codes)
		}
	}
	var list struct {
		OutgoingPayments struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	if err := b.c.Do(ctx, paymentsQ, nil, &list); err != nil || len(list.OutgoingPayments.Edges) != 0 {
		t.Errorf("tenant B's outgoing payments list: %v %+v", err, list)
	}
	// Nothing of A's moved.
	if p := a.payment(t, funding); p.State != "FUNDING" || p.Liquidity != nil && *p.Liquidity != "0" {
		t.Errorf("A's funding payment after B's attempts: %+v", p)
	}
	if p := a.payment(t, sent); p.Liquidity == nil || *p.Liquidity != "10" {
		t.Errorf("A's finished payment after B's attempts: %+v", p)
	}
	if ip, err := getIncomingPayment(ctx, a.c, toBob.ID); err != nil || ip.State == "COMPLETED" || ip.ReceivedAmount.Value != "290" {
		t.Errorf("A's incoming payment after B's attempts: %+v %v", ip, err)
	}
	// Paying into A's incoming payment from B's own wallet address is
	// legitimate; it takes the liquidity of A's asset, which the
	// operator provides.
	if err := s.operator.Do(ctx, `mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"assetId": a.assets["USD"].ID, "amount": "1000", "id": uuid.NewString(), "idempotencyKey": uuid.NewString()}}, nil); err != nil {
		t.Fatal(err)
	}
	qb := b.quote(t, mallory.ID, toBob.URL, "110")
	pb := b.pay(t, mallory.ID, qb.ID)
	if err := b.fund(pb); err != nil {
		t.Fatal(err)
	}
	if p := b.finished(t, pb); p.State != "COMPLETED" || p.SentAmount.Value != "100" {
		t.Fatalf("B paying A: %+v", p)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		ip, err := getIncomingPayment(ctx, a.c, toBob.ID)
		return err == nil && ip.ReceivedAmount.Value == "390"
	}, "A's incoming payment did not receive B's 100")
	checkLedger(t, s)
}

func checkLedger(t *testing.T, s *system) {
	t.Helper()
	ctx := context.Background()
	if imbalances, err := s.running.Deps.Ledger.Check(ctx); err != nil || len(imbalances) != 0 {
		t.Errorf("ledger check: %v %v", imbalances, err)
	}
	if discrepancies, err := app.CheckLiquidity(ctx, s.running.Deps.JS, s.running.Deps.Ledger); err != nil || len(discrepancies) != 0 {
		t.Errorf("liquidity check: %v %v", discrepancies, err)
	}
}

// Hostile input to the payment mutations is refused with the caller's
// error, never an internal one, and moves nothing.
func TestPaymentsHostileInput(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	a := newPayingTenant(t, s, "bank-a")
	b := newPayingTenant(t, s, "bank-b")
	alice, bob := a.wallet(t, "alice"), a.wallet(t, "bob")
	open := a.incoming(t, bob.ID, "")
	expects := a.incoming(t, bob.ID, "1000")
	carol := b.wallet(t, "carol")
	bOpen := b.incoming(t, carol.ID, "")
	q := a.quote(t, alice.ID, open.URL, "500")
	payID := a.pay(t, alice.ID, q.ID)

	deep := map[string]any{"x": 1}
	for range 2600 {
		deep = map[string]any{"x": deep}
	}
	huge := map[string]any{"blob": strings.Repeat("x", 2<<20)}
	bad := []string{"BAD_USER_INPUT"}
	acceptOrBad := []string{"BAD_USER_INPUT", ""}
	badOrNotFound := []string{"BAD_USER_INPUT", "NOT_FOUND"}
	quoteIn := func(extra map[string]any) map[string]any {
		in := map[string]any{"walletAddressId": alice.ID, "receiver": open.URL}
		for k, v := range extra {
			in[k] = v
		}
		return map[string]any{"input": in}
	}
	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		codes []string
	}{
		{"debit 0", createQuoteQ, quoteIn(map[string]any{"debitAmount": usdAmount("0")}), bad},
		{"debit -1", createQuoteQ, quoteIn(map[string]any{"debitAmount": usdAmount("-1")}), bad},
		{"debit -1 as a number", createQuoteQ, quoteIn(map[string]any{"debitAmount": usdAmount(-1)}), bad},
		{"debit abc", createQuoteQ, quoteIn(map[string]any{"debitAmount": usdAmount("abc")}), bad},
		{"debit 1.5", createQuoteQ, quoteIn(map[string]any{"debitAmount": usdAmount("1.5")}), bad},
		{"debit 1e3", createQuoteQ, quoteIn(map[string]any{"debitAmount": usdAmount("1e3")}), bad},
		{"debit 2^64", createQuoteQ, quoteIn(map[string]any{"debitAmount": usdAmount("18446744073709551616")}), bad},
		{"debit all fees", createQuoteQ, quoteIn(map[string]any{"debitAmount": usdAmount("10")}), bad},
		{"debit of another scale", createQuoteQ, quoteIn(map[string]any{"debitAmount": map[string]any{"value": "100", "assetCode": "USD", "assetScale": 3}}), bad},
		{"debit scale 256", createQuoteQ, quoteIn(map[string]any{"debitAmount": map[string]any{"value": "100", "assetCode": "USD", "assetScale": 256}}), bad},
		{"debit of another code", createQuoteQ, quoteIn(map[string]any{"debitAmount": map[string]any{"value": "100", "assetCode": "EUR", "assetScale": 2}}), bad},
		{"receive of another scale", createQuoteQ, quoteIn(map[string]any{"receiveAmount": map[string]any{"value": "100", "assetCode": "USD", "assetScale": 0}}), bad},
		{"receive 0", createQuoteQ, quoteIn(map[string]any{"receiveAmount": usdAmount("0")}), bad},
		{"receive 2^64-1", createQuoteQ, quoteIn(map[string]any{"receiveAmount": usdAmount("18446744073709551615")}), bad},
		{"both amounts", createQuoteQ, quoteIn(map[string]any{"debitAmount": usdAmount("100"), "receiveAmount": usdAmount("50")}), bad},
		{"neither amount, an open receiver", createQuoteQ, quoteIn(nil), bad},
		{"receive more than expected", createQuoteQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "receiver": expects.URL,
			"receiveAmount": usdAmount("1001")}}, bad},
		{"receiver not a URL", createQuoteQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "receiver": "not a url", "debitAmount": usdAmount("100")}}, bad},
		{"receiver empty", createQuoteQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "receiver": "", "debitAmount": usdAmount("100")}}, bad},
		{"receiver 100k long", createQuoteQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"receiver": open.URL + strings.Repeat("a", 100_000), "debitAmount": usdAmount("100")}}, bad},
		{"receiver javascript:", createQuoteQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "receiver": "javascript:alert(1)", "debitAmount": usdAmount("100")}}, bad},
		{"receiver unknown payment of this instance", createQuoteQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"receiver": "http://wallet.test/" + a.id + "/incoming-payments/" + uuid.NewString(), "debitAmount": usdAmount("100")}}, badOrNotFound},
		{"receiver an outgoing payment URL", createQuoteQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"receiver": "http://wallet.test/" + a.id + "/outgoing-payments/" + payID, "debitAmount": usdAmount("100")}}, badOrNotFound},
		{"receiver B's payment under A's tenant path", createQuoteQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"receiver": "http://wallet.test/" + a.id + "/incoming-payments/" + bOpen.ID, "debitAmount": usdAmount("100")}}, badOrNotFound},
		{"receiver a wallet address", createQuoteQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"receiver": bob.Address, "debitAmount": usdAmount("100")}}, badOrNotFound},
		{"wallet address not an id", createQuoteQ, map[string]any{"input": map[string]any{"walletAddressId": "alice", "receiver": open.URL, "debitAmount": usdAmount("100")}}, badOrNotFound},
		{"payment: quote not an id", createPaymentQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "quoteId": "x"}}, badOrNotFound},
		{"payment: unknown quote", createPaymentQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "quoteId": uuid.NewString()}}, badOrNotFound},
		{"payment: another wallet address's quote", createPaymentQ, map[string]any{"input": map[string]any{"walletAddressId": bob.ID, "quoteId": a.quote(t, alice.ID, open.URL, "100").ID}}, badOrNotFound},
		{"payment: metadata deeply nested", createPaymentQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"quoteId": a.quote(t, alice.ID, open.URL, "100").ID, "metadata": deep}}, acceptOrBad},
		{"payment: metadata of 2 MiB", createPaymentQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"quoteId": a.quote(t, alice.ID, open.URL, "100").ID, "metadata": huge}}, bad},
		{"payment from incoming payment: debit 0", createPaymentFromIPQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"incomingPayment": open.URL, "debitAmount": usdAmount("0")}}, bad},
		{"payment from incoming payment: debit of another scale", createPaymentFromIPQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"incomingPayment": open.URL, "debitAmount": map[string]any{"value": "100", "assetCode": "USD", "assetScale": 9}}}, bad},
		{"payment from incoming payment: no debit, open receiver", createPaymentFromIPQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"incomingPayment": open.URL}}, bad},
		{"payment from incoming payment: malformed receiver", createPaymentFromIPQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"incomingPayment": "http://[::1", "debitAmount": usdAmount("100")}}, bad},
		{"payment from incoming payment: metadata nested", createPaymentFromIPQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"incomingPayment": open.URL, "debitAmount": usdAmount("100"), "metadata": deep}}, acceptOrBad},
		{"payment from incoming payment: bad card date", createPaymentFromIPQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
			"incomingPayment": open.URL, "debitAmount": usdAmount("100"), "cardDetails": map[string]any{"requestId": "r", "initiatedAt": "yesterday", "data": map[string]any{}}}}, bad},
		{"cancel: reason 10k", cancelPaymentQ, map[string]any{"input": map[string]any{"id": payID, "reason": strings.Repeat("r", 10_000)}}, bad},
		{"cancel: unknown", cancelPaymentQ, map[string]any{"input": map[string]any{"id": uuid.NewString()}}, badOrNotFound},
		{"cancel: not an id", cancelPaymentQ, map[string]any{"input": map[string]any{"id": "../x"}}, badOrNotFound},
		{"fund: data of 100 KiB", fundPaymentQ, map[string]any{"input": map[string]any{"outgoingPaymentId": payID, "idempotencyKey": uuid.NewString(),
			"dataToTransmit": strings.Repeat("d", 100<<10)}}, bad},
		{"fund: unknown", fundPaymentQ, map[string]any{"input": map[string]any{"outgoingPaymentId": uuid.NewString(), "idempotencyKey": uuid.NewString()}}, badOrNotFound},
		{"withdraw: timeout -1", withdrawPaymentQ, map[string]any{"input": map[string]any{"outgoingPaymentId": payID, "idempotencyKey": uuid.NewString(), "timeoutSeconds": "-1"}}, bad},
		{"withdraw: timeout 2^64", withdrawPaymentQ, map[string]any{"input": map[string]any{"outgoingPaymentId": payID, "idempotencyKey": uuid.NewString(), "timeoutSeconds": "18446744073709551616"}}, bad},
		{"withdraw: not finished", withdrawPaymentQ, map[string]any{"input": map[string]any{"outgoingPaymentId": payID, "idempotencyKey": uuid.NewString(), "timeoutSeconds": "0"}}, []string{"NOT_FOUND", "BAD_USER_INPUT", "CONFLICT"}},
		{"receiver: wallet address malformed", createReceiverQ, map[string]any{"input": map[string]any{"walletAddressUrl": "http://[::1"}}, badOrNotFound},
		{"receiver: wallet address 100k", createReceiverQ, map[string]any{"input": map[string]any{"walletAddressUrl": alice.Address + strings.Repeat("a", 100_000)}}, badOrNotFound},
		{"receiver: incoming amount 0", createReceiverQ, map[string]any{"input": map[string]any{"walletAddressUrl": alice.Address, "incomingAmount": usdAmount("0")}}, bad},
		{"receiver: incoming amount of another asset", createReceiverQ, map[string]any{"input": map[string]any{"walletAddressUrl": alice.Address,
			"incomingAmount": map[string]any{"value": "5", "assetCode": "XRP", "assetScale": 9}}}, bad},
		{"receiver: metadata of 2 MiB", createReceiverQ, map[string]any{"input": map[string]any{"walletAddressUrl": alice.Address, "metadata": huge}}, bad},
		{"receiver: metadata nested", createReceiverQ, map[string]any{"input": map[string]any{"walletAddressUrl": alice.Address, "metadata": deep}}, acceptOrBad},
		{"receiver: expiry in the past", createReceiverQ, map[string]any{"input": map[string]any{"walletAddressUrl": alice.Address, "expiresAt": "2001-01-01T00:00:00Z"}}, bad},
		{"complete receiver: malformed", completeReceiverQ, map[string]any{"input": map[string]any{"incomingPaymentUrl": "::::"}}, badOrNotFound},
		{"complete receiver: unknown of ours", completeReceiverQ, map[string]any{"input": map[string]any{"incomingPaymentUrl": "http://wallet.test/" + a.id + "/incoming-payments/" + uuid.NewString()}}, badOrNotFound},
		{"read receiver: malformed", receiverQ, map[string]any{"id": "http://[::1"}, badOrNotFound},
		{"read payment: not an id", paymentQ, map[string]any{"id": "'; drop table x; --"}, badOrNotFound},
		{"read quote: not an id", quoteQ, map[string]any{"id": strings.Repeat("z", 100_000)}, badOrNotFound},
	} {
		var out map[string]any
		err := a.c.Do(ctx, tc.query, tc.vars, &out)
		if !refused(err, tc.codes...) {
			msg := fmt.Sprint(err)
			if len(msg) > 300 {
				msg = msg[:300] + "..."
			}
			t.Errorf("%s: err %s (code %q), answer %.300v; want one of %v", tc.name, msg, errorCode(err), out, tc.codes)
		}
	}
	// Metadata as deep as the limit allows reads back, alone and listed.
	var listed struct {
		OutgoingPayments struct {
			Edges []struct {
				Node struct{ Metadata map[string]any }
			}
		}
	}
	if err := a.c.Do(ctx, `{ outgoingPayments { edges { node { metadata } } } }`, nil, &listed); err != nil || len(listed.OutgoingPayments.Edges) < 3 {
		t.Errorf("payments list after nested metadata: %v, %d payments", err, len(listed.OutgoingPayments.Edges))
	}
	var incoming struct {
		IncomingPayments struct {
			Edges []struct {
				Node struct{ Metadata map[string]any }
			}
		}
	}
	if err := a.c.Do(ctx, `{ incomingPayments { edges { node { metadata } } } }`, nil, &incoming); err != nil || len(incoming.IncomingPayments.Edges) < 3 {
		t.Errorf("incoming payments list after nested metadata: %v, %d payments", err, len(incoming.IncomingPayments.Edges))
	}
	// The payment refused so much is still waiting, unfunded.
	if p := a.payment(t, payID); p.State != "FUNDING" {
		t.Errorf("payment after the hostile requests: %+v", p)
	}

	// An idempotency key used again for another request is refused.
	key := uuid.NewString()
	in := quoteIn(map[string]any{"debitAmount": usdAmount("100"), "idempotencyKey": key})
	if err := a.c.Do(ctx, createQuoteQ, in, nil); err != nil {
		t.Fatal(err)
	}
	in = quoteIn(map[string]any{"debitAmount": usdAmount("200"), "idempotencyKey": key})
	if err := a.c.Do(ctx, createQuoteQ, in, nil); !refused(err, "BAD_USER_INPUT") {
		t.Errorf("idempotency key again with another amount: %v", err)
	}
	if err := a.c.Do(ctx, createPaymentQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID,
		"quoteId": a.quote(t, alice.ID, open.URL, "100").ID, "idempotencyKey": key}}, nil); !refused(err, "BAD_USER_INPUT") {
		t.Errorf("idempotency key of a quote used for a payment: %v", err)
	}
	checkLedger(t, s)
}

// concurrently runs f n times at once and answers each error.
func concurrently(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Go(func() {
			start.Wait()
			errs[i] = f(i)
		})
	}
	start.Done()
	wg.Wait()
	return errs
}

func successes(errs []error) int {
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	return n
}

// The payment state machine driven out of order and concurrently: one
// payment per quote, one funding, no deposit after the end, a cancel and a
// funding never both taken, a finished payment's money withdrawn once and
// exactly; the money conserved afterwards.
func TestPaymentsOutOfOrderAndConcurrent(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	a := newPayingTenant(t, s, "bank-a")
	alice, bob := a.wallet(t, "alice"), a.wallet(t, "bob")
	open := a.incoming(t, bob.ID, "")
	received := uint64(0) // what open should have received

	// Two payments of one quote, one after the other and at once.
	q := a.quote(t, alice.ID, open.URL, "100")
	first := a.pay(t, alice.ID, q.ID)
	if err := a.c.Do(ctx, createPaymentQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "quoteId": q.ID}}, nil); !refused(err, "BAD_USER_INPUT") {
		t.Errorf("a second payment of a quote: %v", err)
	}
	q = a.quote(t, alice.ID, open.URL, "100")
	errs := concurrently(8, func(int) error {
		return a.c.Do(ctx, createPaymentQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "quoteId": q.ID}}, nil)
	})
	if successes(errs) != 1 {
		t.Errorf("8 payments of one quote at once: %d made, errors %v", successes(errs), errs)
	}
	for _, err := range errs {
		if err != nil && !refused(err, "BAD_USER_INPUT", "CONFLICT") {
			t.Errorf("a payment of a quote paid at once: %v", err)
		}
	}
	racedQuote := q.ID

	// One funding among eight at once; the money deposited once.
	errs = concurrently(8, func(int) error { return a.fund(first) })
	for _, err := range errs {
		if err != nil && !refused(err, "CONFLICT") {
			t.Errorf("a funding at once: %v", err)
		}
	}
	p := a.finished(t, first)
	if p.State != "COMPLETED" || p.SentAmount.Value != "90" || p.Liquidity == nil || *p.Liquidity != "10" {
		t.Errorf("payment funded 8 times at once: %+v", p)
	}
	received += 90
	if err := a.fund(first); !refused(err, "CONFLICT") {
		t.Errorf("funding a completed payment: %v", err)
	}
	if err := a.c.Do(ctx, cancelPaymentQ, map[string]any{"input": map[string]any{"id": first}}, nil); !refused(err, "CONFLICT") {
		t.Errorf("cancelling a completed payment: %v", err)
	}

	// Its fee withdrawn, exactly.
	if err := a.withdraw(first); err != nil {
		t.Errorf("withdrawing a completed payment's fee: %v", err)
	}
	if p := a.payment(t, first); p.Liquidity == nil || *p.Liquidity != "0" {
		t.Errorf("payment after its withdrawal: %+v", p)
	}
	if err := a.withdraw(first); !refused(err, "BAD_USER_INPUT", "DUPLICATE") {
		t.Errorf("withdrawing a payment withdrawn already: %v", err)
	}
	if err := a.fund(first); !refused(err, "CONFLICT") {
		t.Errorf("funding a completed, withdrawn payment: %v", err)
	}

	// The payment of the raced quote, cancelled: no deposit, no withdrawal.
	if err := a.c.Do(ctx, cancelPaymentQ, map[string]any{"input": map[string]any{"id": racedQuote}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.c.Do(ctx, cancelPaymentQ, map[string]any{"input": map[string]any{"id": racedQuote}}, nil); !refused(err, "CONFLICT") {
		t.Errorf("cancelling twice: %v", err)
	}
	if err := a.fund(racedQuote); !refused(err, "CONFLICT") {
		t.Errorf("funding a cancelled payment: %v", err)
	}
	if err := a.withdraw(racedQuote); !refused(err, "NOT_FOUND", "BAD_USER_INPUT", "CONFLICT") {
		t.Errorf("withdrawing from a cancelled payment: %v", err)
	}

	// A cancel and a funding at once: one is taken.
	for round := range 6 {
		q := a.quote(t, alice.ID, open.URL, "50")
		id := a.pay(t, alice.ID, q.ID)
		errs := concurrently(2, func(i int) error {
			if i == 0 {
				return a.fund(id)
			}
			return a.c.Do(ctx, cancelPaymentQ, map[string]any{"input": map[string]any{"id": id}}, nil)
		})
		p := a.finished(t, id)
		switch {
		case errs[0] == nil && errs[1] == nil:
			t.Errorf("round %d: the funding and the cancel both succeeded; payment %+v", round, p)
		case errs[0] == nil:
			if p.State != "COMPLETED" || p.SentAmount.Value != "40" {
				t.Errorf("round %d: funded, then %+v", round, p)
			}
			received += 40
		case errs[1] == nil:
			if p.State != "CANCELLED" || p.SentAmount.Value != "0" || p.Liquidity != nil && *p.Liquidity != "0" {
				t.Errorf("round %d: cancelled, then %+v", round, p)
			}
		default:
			t.Errorf("round %d: both refused: %v", round, errs)
		}
	}

	// A payment whose receiver completed before its funding: nothing is
	// sent, and all its debit comes back.
	other := a.incoming(t, bob.ID, "")
	q = a.quote(t, alice.ID, other.URL, "70")
	late := a.pay(t, alice.ID, q.ID)
	if err := a.c.Do(ctx, completeReceiverQ, map[string]any{"input": map[string]any{"incomingPaymentUrl": other.URL}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.fund(late); err != nil {
		t.Fatal(err)
	}
	p = a.finished(t, late)
	if p.SentAmount.Value != "0" || p.Liquidity == nil || *p.Liquidity != "70" {
		t.Errorf("payment to a completed receiver: %+v", p)
	}
	if err := a.fund(late); !refused(err, "CONFLICT") {
		t.Errorf("funding a payment to a completed receiver again: %v", err)
	}
	if err := a.withdraw(late); err != nil {
		t.Errorf("withdrawing a payment to a completed receiver: %v", err)
	}
	if p := a.payment(t, late); p.Liquidity == nil || *p.Liquidity != "0" {
		t.Errorf("payment to a completed receiver after its withdrawal: %+v", p)
	}

	// Money: the receiver got what the payments sent.
	testkit.Eventually(t, 10*time.Second, func() bool {
		ip, err := getIncomingPayment(ctx, a.c, open.ID)
		return err == nil && ip.ReceivedAmount.Value == fmt.Sprint(received)
	}, "the incoming payment did not receive %d", received)
	checkLedger(t, s)
}

// A quote that expired pays nothing.
func TestPaymentOfAnExpiredQuote(t *testing.T) {
	s := startSystem(t, false, func(c *config.Config) { c.QuoteLifespan = 2 * time.Second })
	ctx := context.Background()
	a := newPayingTenant(t, s, "bank-a")
	alice, bob := a.wallet(t, "alice"), a.wallet(t, "bob")
	open := a.incoming(t, bob.ID, "")
	q := a.quote(t, alice.ID, open.URL, "100")
	time.Sleep(time.Until(mustTime(t, q.ExpiresAt)) + 100*time.Millisecond)
	if err := a.c.Do(ctx, createPaymentQ, map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "quoteId": q.ID}}, nil); !refused(err, "BAD_USER_INPUT") {
		t.Errorf("paying an expired quote: %v", err)
	}
	// A payment made in time, funded after its quote expired.
	q = a.quote(t, alice.ID, open.URL, "100")
	id := a.pay(t, alice.ID, q.ID)
	time.Sleep(time.Until(mustTime(t, q.ExpiresAt)) + 100*time.Millisecond)
	// Funded after its quote expired, it fails, sending nothing, and its
	// whole debit can be withdrawn.
	if err := a.fund(id); err != nil {
		t.Fatalf("funding a payment whose quote expired: %v", err)
	}
	p := a.finished(t, id)
	if p.State != "FAILED" || p.SentAmount.Value != "0" || deref(p.Liquidity) != "100" {
		t.Errorf("payment funded after its quote expired: %+v error %s", p, deref(p.Error))
	}
	if err := a.withdraw(id); err != nil {
		t.Errorf("withdrawing a failed payment: %v", err)
	}
	if p := a.payment(t, id); deref(p.Liquidity) != "0" {
		t.Errorf("failed payment after its withdrawal: %+v", p)
	}
	if err := a.fund(id); !refused(err, "CONFLICT") {
		t.Errorf("funding a failed payment: %v", err)
	}
	checkLedger(t, s)
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

type stringer func() string

func (f stringer) String() string { return f() }

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// Two deposits under one transfer id at once, of different amounts: one is
// taken, and the other must not be told it was.
func TestConcurrentDepositsUnderOneTransferID(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	told := 0 // what the deposits told success add up to
	for round := range 20 {
		id := uuid.NewString()
		amounts := []string{"100", "7"}
		errs := concurrently(2, func(i int) error {
			return s.operator.Do(ctx, `mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
				map[string]any{"input": map[string]any{"assetId": usd.ID, "amount": amounts[i], "id": id, "idempotencyKey": uuid.NewString()}}, nil)
		})
		if successes(errs) != 1 {
			t.Errorf("round %d: two deposits of %v under one id at once: %d told success; errors %v", round, amounts, successes(errs), errs)
		}
		for i, err := range errs {
			if err == nil {
				told += map[string]int{"100": 100, "7": 7}[amounts[i]]
			}
		}
	}
	var out struct{ Asset struct{ Liquidity string } }
	if err := s.operator.Do(ctx, `query($id: String!) { asset(id: $id) { liquidity } }`, map[string]any{"id": usd.ID}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Asset.Liquidity != fmt.Sprint(told) {
		t.Errorf("the asset holds %s; the deposits told success add up to %d", out.Asset.Liquidity, told)
	}
	checkLedger(t, s)
}

// A finished payment's money withdrawn by eight requests at once (other
// idempotency keys, as a wallet's retries or two workers): the money moves
// once, and one request is told it did, the others refused, as Rafiki
// refuses them (its withdrawal's id is the finishing event's, and a second
// one is "Transfer already exists").
func TestConcurrentWithdrawalsOfAFinishedPayment(t *testing.T) {
	s := startSystem(t, false)
	a := newPayingTenant(t, s, "bank-a")
	alice, bob := a.wallet(t, "alice"), a.wallet(t, "bob")
	open := a.incoming(t, bob.ID, "")
	for round := range 5 {
		id := a.pay(t, alice.ID, a.quote(t, alice.ID, open.URL, "100").ID)
		if err := a.fund(id); err != nil {
			t.Fatal(err)
		}
		if p := a.finished(t, id); p.State != "COMPLETED" || deref(p.Liquidity) != "10" {
			t.Fatalf("payment %+v", p)
		}
		errs := concurrently(8, func(int) error { return a.withdraw(id) })
		if successes(errs) != 1 {
			t.Errorf("round %d: 8 withdrawals of a finished payment at once: %d told success, want 1; errors %v", round, successes(errs), errs)
		}
		if p := a.payment(t, id); deref(p.Liquidity) != "0" {
			t.Errorf("round %d: payment after its withdrawals: %+v", round, p)
		}
	}
	checkLedger(t, s)
}
