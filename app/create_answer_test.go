package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/config"
)

// A create's answer is what a read of the object gives right after it,
// byte for byte, whether the answer was made from the command's event or
// read back (metadata, which Postgres rewrites): incoming payments with and
// without an amount, an expiry to the nanosecond, metadata; quotes of a
// fixed debit and a fixed delivery, with fees, across two currencies;
// outgoing payments from a quote, with metadata, and from an incoming
// payment.
func TestCreateAnswersWhatAReadGives(t *testing.T) {
	rates := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"base":"USD","rates":{"EUR":0.5}}`))
	}))
	defer rates.Close()
	s := startSystem(t, false, func(c *config.Config) { c.ExchangeRatesURL = rates.URL })
	ctx := context.Background()
	op := s.operator
	_, alice, bob, carol := quoteParties(t, ctx, op)
	amount := func(v, code string) map[string]any {
		return map[string]any{"value": v, "assetCode": code, "assetScale": 2}
	}

	// answer runs a create and reads what it made; both as JSON.
	answer := func(t *testing.T, mutation, field, object string, input map[string]any, read, readFields string) (created, readBack []byte) {
		t.Helper()
		var out map[string]map[string]json.RawMessage
		if err := op.Do(ctx, `mutation($input: `+mutation+`) { `+field+`(input: $input) { `+object+` { `+readFields+` } } }`,
			map[string]any{"input": input}, &out); err != nil {
			t.Fatal(err)
		}
		created = out[field][object]
		var made struct{ ID string }
		if err := json.Unmarshal(created, &made); err != nil || made.ID == "" {
			t.Fatalf("%s answered %s: %v", field, created, err)
		}
		var got map[string]json.RawMessage
		if err := op.Do(ctx, `query($id: String!) { `+read+`(id: $id) { `+readFields+` } }`, map[string]any{"id": made.ID}, &got); err != nil {
			t.Fatal(err)
		}
		return created, got[read]
	}
	same := func(t *testing.T, created, readBack []byte) {
		t.Helper()
		if !bytes.Equal(created, readBack) {
			t.Fatalf("created:\n%s\nread:\n%s", created, readBack)
		}
	}
	incoming := func(t *testing.T, input map[string]any) string {
		t.Helper()
		created, readBack := answer(t, "CreateIncomingPaymentInput!", "createIncomingPayment", "payment", input, "incomingPayment", incomingPaymentFields)
		same(t, created, readBack)
		var p struct{ URL string }
		if err := json.Unmarshal(created, &p); err != nil {
			t.Fatal(err)
		}
		return p.URL
	}
	quote := func(t *testing.T, input map[string]any) string {
		t.Helper()
		created, readBack := answer(t, "CreateQuoteInput!", "createQuote", "quote", input, "quote", quoteFields)
		same(t, created, readBack)
		var q struct{ ID string }
		if err := json.Unmarshal(created, &q); err != nil {
			t.Fatal(err)
		}
		return q.ID
	}
	outgoing := func(t *testing.T, mutation, field string, input map[string]any) {
		t.Helper()
		created, readBack := answer(t, mutation, field, "payment", input, "outgoingPayment", outgoingPaymentFields)
		same(t, created, readBack)
	}

	// An expiry to the nanosecond, its last microsecond's digits past the
	// millisecond answered.
	expiresAt := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond).Add(999_999 * time.Nanosecond).Format(time.RFC3339Nano)
	toBob := incoming(t, map[string]any{"walletAddressId": bob.ID, "incomingAmount": amount("100000", "USD"), "expiresAt": expiresAt})
	toCarol := incoming(t, map[string]any{"walletAddressId": carol.ID})
	incoming(t, map[string]any{"walletAddressId": bob.ID, "metadata": map[string]any{"z": 1e21, "a": []any{"x", 2.50}, "m": map[string]any{}}})

	fixedDebit := quote(t, map[string]any{"walletAddressId": alice.ID, "receiver": toBob, "debitAmount": amount("410", "USD")})
	quote(t, map[string]any{"walletAddressId": alice.ID, "receiver": toBob, "receiveAmount": amount("300", "USD")})
	crossCurrency := quote(t, map[string]any{"walletAddressId": alice.ID, "receiver": toCarol, "debitAmount": amount("400", "USD")})

	outgoing(t, "CreateOutgoingPaymentInput!", "createOutgoingPayment", map[string]any{"walletAddressId": alice.ID, "quoteId": fixedDebit})
	outgoing(t, "CreateOutgoingPaymentInput!", "createOutgoingPayment", map[string]any{"walletAddressId": alice.ID, "quoteId": crossCurrency,
		"metadata": map[string]any{"b": 1e2, "a": "x"}})
	outgoing(t, "CreateOutgoingPaymentFromIncomingPaymentInput!", "createOutgoingPaymentFromIncomingPayment", map[string]any{
		"walletAddressId": alice.ID, "incomingPayment": toBob, "debitAmount": amount("250", "USD")})
}

// A payment made from an incoming payment makes its quote too: the answer
// holds the quote, and a read of the quote right after finds it, however
// far the quotes' read model is behind the payments' (held back here by a
// lock on its checkpoint while the payment is made).
func TestPaymentFromIncomingPaymentAnswersItsQuote(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	op := s.operator
	alice, ip := aliceAndBob(t, s)
	tx, err := s.running.Deps.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT sequence FROM projection_checkpoints WHERE name = 'quotes' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		ID    string
		Quote *struct{ ID string }
	}
	answered := make(chan answer, 1)
	failed := make(chan error, 1)
	go func() {
		var out struct {
			CreateOutgoingPaymentFromIncomingPayment struct{ Payment answer } `json:"createOutgoingPaymentFromIncomingPayment"`
		}
		if err := op.Do(ctx, `mutation($input: CreateOutgoingPaymentFromIncomingPaymentInput!) {
				createOutgoingPaymentFromIncomingPayment(input: $input) { payment { id quote { id } } } }`,
			map[string]any{"input": map[string]any{"walletAddressId": alice.ID, "incomingPayment": ip.URL,
				"debitAmount": map[string]any{"value": "100", "assetCode": "USD", "assetScale": 2}}}, &out); err != nil {
			failed <- err
			return
		}
		answered <- out.CreateOutgoingPaymentFromIncomingPayment.Payment
	}()
	select {
	case p := <-answered:
		t.Fatalf("answered while the quote's read model is held back: %+v", p)
	case err := <-failed:
		t.Fatal(err)
	case <-time.After(500 * time.Millisecond):
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var p answer
	select {
	case p = <-answered:
	case err := <-failed:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("no answer once the quote's read model went on")
	}
	if p.Quote == nil || p.Quote.ID != p.ID {
		t.Fatalf("payment answered without its quote: %+v", p)
	}
	var read struct{ Quote *struct{ ID string } }
	if err := op.Do(ctx, `query($id: String!) { quote(id: $id) { id } }`, map[string]any{"id": p.ID}, &read); err != nil || read.Quote == nil {
		t.Fatalf("quote read right after: %+v, %v", read.Quote, err)
	}
}
