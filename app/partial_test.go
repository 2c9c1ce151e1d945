package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/testkit"
)

// Partial payments across two instances: alpha's outgoing payments carry
// data (dataToTransmit) to incoming payments of beta, which has its wallet
// decide each packet that brings data (ENABLE_PARTIAL_PAYMENT_DECISION).
// The wallet, played by the test, gets the webhook with the data in plain
// text, and accepts, refuses or says nothing; the payment completes, or
// fails with the wallet's reason, or with Rafiki's text for no answer, and
// no money moves for a declined packet. The data is sealed in beta's events
// and in its webhook events.
func TestPartialPayments(t *testing.T) {
	var beta atomic.Pointer[instance]
	var mu sync.Mutex
	told := map[string]map[string]any{} // data from the sender → the webhook's data
	wallet := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
		if ev.Type != "incoming_payment.partial_payment_received" {
			return
		}
		data, _ := ev.Data["dataFromSender"].(string)
		mu.Lock()
		told[data] = ev.Data
		mu.Unlock()
		input := map[string]any{"incomingPaymentId": ev.Data["id"], "partialIncomingPaymentId": ev.Data["partialIncomingPaymentId"]}
		var err error
		switch {
		case strings.Contains(data, "Alice"):
			err = beta.Load().operator.Do(context.Background(), `mutation($input: ConfirmPartialIncomingPaymentInput!) {
				confirmPartialIncomingPayment(input: $input) { success } }`, map[string]any{"input": input}, nil)
		case strings.Contains(data, "Mallory"):
			input["reason"] = "sender not allowed"
			err = beta.Load().operator.Do(context.Background(), `mutation($input: RejectPartialIncomingPaymentInput!) {
				rejectPartialIncomingPayment(input: $input) { success } }`, map[string]any{"input": input}, nil)
		}
		if err != nil {
			t.Errorf("deciding on %q: %v", data, err)
		}
	}))
	defer wallet.Close()

	pair := startPeered(t, func(c *config.Config) { c.OutgoingPaymentRetryAttempts = 1 }, func(c *config.Config) {
		c.PartialPaymentDecision, c.PartialPaymentDecisionMaxWait = true, 3*time.Second
		c.WebhookURL, c.WebhookWorkerIdle = wallet.URL, 20*time.Millisecond
	})
	alpha, b, assets := pair.alpha, pair.beta, pair.usd
	beta.Store(b)
	ctx := context.Background()
	alice, err := createWalletAddress(ctx, alpha.operator, map[string]any{"assetId": assets[alpha], "address": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := createWalletAddress(ctx, b.operator, map[string]any{"assetId": assets[b], "address": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	o := newOutgoing(alpha.system)

	// pay sends 500 from alice to a new incoming payment of bob's with
	// data, and answers how the payment ended and the incoming payment.
	pay := func(data string) (outgoingPaymentOut, outgoingpayment.State, string) {
		t.Helper()
		ip, err := createIncomingPayment(ctx, b.operator, map[string]any{"walletAddressId": bob.ID,
			"incomingAmount": map[string]any{"value": "1000", "assetCode": "USD", "assetScale": 2}})
		if err != nil {
			t.Fatal(err)
		}
		q := pair.quote(t, alice.ID, ip.URL, "500")
		id, err := o.create(alice.ID, q.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.fundWithData(id, &data); err != nil {
			t.Fatal(err)
		}
		out, s := o.finished(t, id, 30*time.Second)
		return out, s, ip.ID
	}
	received := func(ipID string) string {
		got, err := getIncomingPayment(ctx, b.operator, ipID)
		if err != nil {
			t.Fatal(err)
		}
		return got.ReceivedAmount.Value
	}

	t.Run("accepted", func(t *testing.T) {
		const data = `{"name":"Alice Liddell"}`
		out, s, ipID := pay(data)
		if s.State != outgoingpayment.Completed || s.Delivered < 495 {
			t.Fatalf("payment %+v", out)
		}
		testkit.Eventually(t, 10*time.Second, func() bool { return received(ipID) == "495" || received(ipID) == "500" },
			"the incoming payment received %s", received(ipID))
		mu.Lock()
		hook := told[data]
		mu.Unlock()
		if hook == nil || hook["id"] != ipID || hook["partialIncomingPaymentId"] == "" {
			t.Fatalf("the wallet was told %v", hook)
		}
		// Beta's log and webhook events hold the data sealed.
		envs, _, err := b.running.Deps.Store.Load(ctx, mustSubject(t, b.tenantID, ipID))
		if err != nil {
			t.Fatal(err)
		}
		partials := 0
		for _, env := range envs {
			if strings.Contains(string(env.Data), "Alice") {
				t.Fatalf("%s holds the sender's data in plain text: %s", env.Type, env.Data)
			}
			if env.Type == "incoming_payment.partial_payment_received" {
				partials++
			}
		}
		if partials == 0 {
			t.Fatal("no partial payment recorded")
		}
		var events struct {
			WebhookEvents struct {
				Edges []struct{ Node struct{ Data map[string]any } }
			}
		}
		if err := b.operator.Do(ctx, `query { webhookEvents(filter: {type: {in: ["incoming_payment.partial_payment_received"]}}) {
			edges { node { data } } } }`, nil, &events); err != nil {
			t.Fatal(err)
		}
		for _, e := range events.WebhookEvents.Edges {
			if d, _ := e.Node.Data["dataFromSender"].(string); !strings.HasPrefix(d, "enc:") {
				t.Fatalf("a webhook event holds the data %q", d)
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		out, s, ipID := pay(`{"name":"Mallory"}`)
		if s.State != outgoingpayment.Failed || out.Error == nil || *out.Error != "sender not allowed" || s.Sent != 0 {
			t.Fatalf("payment %+v, state %+v", out, s)
		}
		if got := received(ipID); got != "0" {
			t.Fatalf("a refused packet brought %s", got)
		}
	})

	t.Run("no answer", func(t *testing.T) {
		out, s, ipID := pay(`{"name":"Nobody"}`)
		if s.State != outgoingpayment.Failed || out.Error == nil || *out.Error != "No response from receiving ASE" || s.Sent != 0 {
			t.Fatalf("payment %+v, state %+v", out, s)
		}
		if got := received(ipID); got != "0" {
			t.Fatalf("an unanswered packet brought %s", got)
		}
	})
}

func mustSubject(t *testing.T, tenantID, id string) string {
	t.Helper()
	s, err := incomingpayment.Subject(tenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
