package outgoingpayment_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/testkit"
)

// racingLedger holds each deposit until both funders made theirs, so that
// both found the payment waiting for its money.
type racingLedger struct {
	outgoingpayment.Ledger
	arrived sync.WaitGroup
	mu      sync.Mutex
	made    bool
}

func (l *racingLedger) CreateLiquidityAccount(context.Context, ledger.Account) error { return nil }

func (l *racingLedger) Deposit(context.Context, ledger.Deposit) error {
	l.arrived.Done()
	l.arrived.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.made {
		return ledger.ErrTransferExists
	}
	l.made = true
	return nil
}

// Two funders of one payment at once (each with its own idempotency key,
// as a wallet funding on the created webhook and an operator funding by
// hand): the payment is funded once and sent by one command, so that no
// two senders race for it.
func TestFundersRacingEnqueueOneSend(t *testing.T) {
	store := natsStore(t)
	ctx := context.Background()
	tenantID, paymentID := uuid.NewString(), uuid.NewString()
	target, err := handlers.NewTarget(tenantID, outgoingpayment.AggregateType, paymentID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handlers.AppendEvents(ctx, store, target.Subject, 0, handlers.Meta(target, handlers.CommandInfo{ID: "create"}), "create",
		&events.OutgoingPaymentCreated{WalletAddressID: uuid.NewString(), AssetID: uuid.NewString(), AssetCode: "USD", AssetScale: 2,
			AssetLedger: 1, DebitAmount: 500, DebitAmountMinusFees: 500, ReceiveAmount: 500, QuoteExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	l := &racingLedger{}
	l.arrived.Add(2)
	var mu sync.Mutex
	sends := map[string]int{}
	enqueue := func(_ context.Context, subject, id string, at time.Time, _ any) error {
		if subject == commands.SendOutgoingPaymentSubject && at.IsZero() {
			mu.Lock()
			sends[id]++
			mu.Unlock()
		}
		return nil
	}
	h := outgoingpayment.NewHandler(store, l, noReceivers{}, noQuotes{}, noPayer{}, enqueue, 3)
	var funders sync.WaitGroup
	errs := make([]error, 2)
	for i, key := range []string{"wallet", "operator"} {
		funders.Go(func() {
			_, errs[i] = h.Fund(ctx, commands.FundOutgoingPayment{Meta: commands.Meta{ID: key, Actor: commands.Actor{Operator: true}},
				OutgoingPaymentID: paymentID})
		})
	}
	funders.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("funder %d: %v", i, err)
		}
	}
	s, _, err := h.Load(ctx, tenantID, paymentID)
	if err != nil || s.State != outgoingpayment.Sending {
		t.Fatalf("payment %s (%v), want SENDING", s.State, err)
	}
	if len(sends) != 1 {
		t.Fatalf("sends enqueued under %d ids (%v), want one command for the payment", len(sends), sends)
	}
}

func natsStore(t *testing.T) *eventstore.Store {
	t.Helper()
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(context.Background(), n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	return store
}

// The payment's other collaborators, which funding does not use.
type noReceivers struct{ outgoingpayment.Receivers }
type noQuotes struct{ outgoingpayment.Quoter }
type noPayer struct{ outgoingpayment.Payer }
