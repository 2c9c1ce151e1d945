package systemtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
)

// TestSendingSharedByWorkers runs `rafiki backend` and two `rafiki
// worker`s against a nats-server of their own, funds outgoing payments
// while one worker is killed (SIGKILL): the other sends what the killed
// one held, every payment completes, each sent exactly once (its
// receiver got exactly its amount), and `rafiki ledger check` is clean.
func TestSendingSharedByWorkers(t *testing.T) {
	h := newHarness(t)
	ns := h.NATSServer("nats")
	r := h.NewRafiki(map[string]string{"NATS_URL": ns.URL()})
	r.ApplyStreams(t)
	backend := r.Start("backend", nil, "backend")
	r.WaitReady(t, backend, 90*time.Second)
	healthPorts := freePorts(t, 2)
	var workers []*Process
	for i, name := range []string{"worker-1", "worker-2"} {
		w := r.Start(name, map[string]string{"WORKER_HEALTH_PORT": fmt.Sprint(healthPorts[i])}, "worker")
		r.WaitReady(t, w, 60*time.Second)
		workers = append(workers, w)
	}
	ctx := context.Background()
	op, assetID := operatorWithAsset(t, r, 20*time.Second)
	alice, err := createWalletAddress(ctx, op, assetID, "sending-alice", "")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := createWalletAddress(ctx, op, assetID, "sending-bob", "")
	if err != nil {
		t.Fatal(err)
	}
	const payments = 120
	made := make([]madePayment, payments)
	parallel := func(n int, f func(i int) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		next := atomic.Int64{}
		for range 10 {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					if err := f(i); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	parallel(payments, func(i int) error {
		var err error
		made[i], err = makePayment(ctx, op, alice.ID, bob.ID)
		return err
	})

	// Funded ten at a time; a third of the way, worker-1 is killed.
	var funded atomic.Int64
	killed := make(chan struct{})
	go func() {
		for funded.Load() < payments/3 {
			time.Sleep(time.Millisecond)
		}
		workers[0].Kill()
		close(killed)
	}()
	parallel(payments, func(i int) error {
		if err := op.Do(ctx, `mutation($input: DepositOutgoingPaymentLiquidityInput!) { depositOutgoingPaymentLiquidity(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"outgoingPaymentId": made[i].id, "idempotencyKey": uuid.NewString()}}, nil); err != nil {
			return fmt.Errorf("fund %s: %w", made[i].id, err)
		}
		funded.Add(1)
		return nil
	})
	<-killed
	start := time.Now()
	deadline := start.Add(90 * time.Second)
	for _, p := range made {
		for {
			var out struct {
				OutgoingPayment struct {
					State, Error string
					SentAmount   struct{ Value string }
				}
			}
			if err := op.Do(ctx, `query($id: String!) { outgoingPayment(id: $id) { state error sentAmount { value } } }`,
				map[string]any{"id": p.id}, &out); err != nil {
				t.Fatal(err)
			}
			got := out.OutgoingPayment
			if got.State == "COMPLETED" {
				if got.SentAmount.Value != "100" {
					t.Fatalf("payment %s sent %s, want 100", p.id, got.SentAmount.Value)
				}
				break
			}
			// The deposit answers without waiting for the read model, which
			// lags while the standby takes over the killed worker's
			// projections: a funded payment may read FUNDING a moment
			// longer. Stuck there, it fails at the deadline.
			if got.State != "SENDING" && got.State != "FUNDING" || time.Now().After(deadline) {
				t.Fatalf("payment %s is %s (%s) %s after the kill", p.id, got.State, got.Error, time.Since(start))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("every payment completed %s after the kill", time.Since(start).Round(time.Millisecond))
	for _, p := range made {
		var out struct {
			IncomingPayment struct{ ReceivedAmount struct{ Value string } }
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if err := op.Do(ctx, `query($id: String!) { incomingPayment(id: $id) { receivedAmount { value } } }`,
				map[string]any{"id": p.incoming}, &out); err != nil {
				t.Fatal(err)
			}
			if out.IncomingPayment.ReceivedAmount.Value == "100" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("incoming payment %s received %s, want exactly 100", p.incoming, out.IncomingPayment.ReceivedAmount.Value)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	checkLedger(t, r)
}

// madePayment is an outgoing payment and the incoming payment it pays.
type madePayment struct{ id, incoming string }

// makePayment makes an incoming payment of 100 into to, a quote of a 100
// debit from from for it, and an outgoing payment of the quote.
func makePayment(ctx context.Context, op *adminclient.Client, from, to string) (madePayment, error) {
	var made madePayment
	var ip struct {
		CreateIncomingPayment struct{ Payment struct{ ID, URL string } } `json:"createIncomingPayment"`
	}
	if err := op.Do(ctx, `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id url } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": to, "incomingAmount": map[string]any{"value": "100", "assetCode": "USD", "assetScale": 2}}}, &ip); err != nil {
		return made, fmt.Errorf("createIncomingPayment: %w", err)
	}
	var q struct {
		CreateQuote struct{ Quote struct{ ID string } } `json:"createQuote"`
	}
	if err := op.Do(ctx, `mutation($input: CreateQuoteInput!) { createQuote(input: $input) { quote { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": from, "receiver": ip.CreateIncomingPayment.Payment.URL,
			"debitAmount": map[string]any{"value": "100", "assetCode": "USD", "assetScale": 2}}}, &q); err != nil {
		return made, fmt.Errorf("createQuote: %w", err)
	}
	if err := op.Do(ctx, `mutation($input: CreateOutgoingPaymentInput!) { createOutgoingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": from, "quoteId": q.CreateQuote.Quote.ID}}, nil); err != nil {
		return made, fmt.Errorf("createOutgoingPayment: %w", err)
	}
	made.id, made.incoming = q.CreateQuote.Quote.ID, ip.CreateIncomingPayment.Payment.ID
	return made, nil
}
