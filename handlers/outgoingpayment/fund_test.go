package outgoingpayment_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/testkit"
	"github.com/rafiki-go/rafiki/testkit/readcount"
)

// racingLedger holds each deposit until both funders made theirs, so that
// both found the payment waiting for its money.
type racingLedger struct {
	outgoingpayment.Ledger
	arrived sync.WaitGroup
	mu      sync.Mutex
	made    bool
}

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
	tenantID, paymentID := createdPayment(t, store)
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

// createdPayment stores a payment of 500 waiting for its money.
func createdPayment(t *testing.T, store handlers.Store) (tenantID, paymentID string) {
	t.Helper()
	tenantID, paymentID = uuid.NewString(), uuid.NewString()
	target, err := handlers.NewTarget(tenantID, outgoingpayment.AggregateType, paymentID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handlers.AppendEvents(context.Background(), store, target.Subject, 0, handlers.Meta(target, handlers.CommandInfo{ID: "create:" + paymentID}), "create:"+paymentID,
		&events.OutgoingPaymentCreated{WalletAddressID: uuid.NewString(), AssetID: uuid.NewString(), AssetCode: "USD", AssetScale: 2,
			AssetLedger: 1, DebitAmount: 500, DebitAmountMinusFees: 500, ReceiveAmount: 500, QuoteExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	return tenantID, paymentID
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

// bookLedger keeps balances and transfer ids, as a ledger does, and runs
// during before each deposit lands.
type bookLedger struct {
	outgoingpayment.Ledger
	mu        sync.Mutex
	balance   map[uuid.UUID]uint64
	transfers map[uuid.UUID]bool
	during    func()
}

func newBookLedger() *bookLedger {
	return &bookLedger{balance: map[uuid.UUID]uint64{}, transfers: map[uuid.UUID]bool{}}
}

func (l *bookLedger) CreateLiquidityAccount(_ context.Context, a ledger.Account) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.balance[a.ID]; !ok {
		l.balance[a.ID] = 0
	}
	return nil
}

func (l *bookLedger) Deposit(_ context.Context, d ledger.Deposit) error {
	if l.during != nil {
		l.during()
	}
	if d.Amount > math.MaxInt64 {
		return ledger.ErrInvalidAmount // as the Postgres ledger
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.transfers[d.ID] {
		return ledger.ErrTransferExists
	}
	if _, ok := l.balance[d.Account.ID]; !ok && !d.Open {
		return ledger.ErrUnknownDestinationAccount
	}
	l.transfers[d.ID] = true
	l.balance[d.Account.ID] += d.Amount
	return nil
}

func (l *bookLedger) Withdraw(_ context.Context, w ledger.Withdrawal) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	balance, ok := l.balance[w.Account.ID]
	switch {
	case l.transfers[w.ID]:
		return ledger.ErrTransferExists
	case !ok:
		return ledger.ErrUnknownSourceAccount
	case balance < w.Amount:
		return ledger.ErrInsufficientBalance
	}
	l.transfers[w.ID] = true
	l.balance[w.Account.ID] -= w.Amount
	return nil
}

// A payment cancelled while its funder deposits (the cancel appended after
// the funder's check, before its append): the funder is told the payment
// was in the wrong state and its deposit goes back, so no money is left in
// an account nothing sends or withdraws from; the funding check the
// funder scheduled returns nothing a second time. A cancelled payment
// whose funder stopped after its deposit gets its money returned by that
// check; one never funded returns nothing. Funding more than the ledger
// holds is the caller's invalid input, not an internal error.
func TestDepositOfACancelledPaymentGoesBack(t *testing.T) {
	store := natsStore(t)
	ctx := context.Background()
	l := newBookLedger()
	h := outgoingpayment.NewHandler(store, l, noReceivers{}, noQuotes{}, noPayer{},
		func(context.Context, string, string, time.Time, any) error { return nil }, 3)
	tenantID := uuid.NewString()
	operator := commands.Actor{Operator: true}
	newPaymentOf := func(debit uint64) string {
		t.Helper()
		id := uuid.NewString()
		target, err := handlers.NewTarget(tenantID, outgoingpayment.AggregateType, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := handlers.AppendEvents(ctx, store, target.Subject, 0, handlers.Meta(target, handlers.CommandInfo{ID: "create:" + id}), "create:"+id,
			&events.OutgoingPaymentCreated{WalletAddressID: uuid.NewString(), AssetID: uuid.NewString(), AssetCode: "USD", AssetScale: 2,
				AssetLedger: 1, DebitAmount: debit, DebitAmountMinusFees: debit, ReceiveAmount: 500, QuoteExpiresAt: time.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	newPayment := func() string { return newPaymentOf(500) }
	cancel := func(id string) {
		t.Helper()
		if _, err := h.Cancel(ctx, commands.CancelOutgoingPayment{Meta: commands.Meta{ID: "cancel:" + id, Actor: operator}, OutgoingPaymentID: id}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(id string) {
		t.Helper()
		if err := send(ctx, h, tenantID, id); err != nil {
			t.Fatalf("funding check: %v", err)
		}
	}
	balance := func(id string) uint64 {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.balance[uuid.MustParse(id)]
	}

	raced := newPayment()
	l.during = func() { cancel(raced) }
	_, err := h.Fund(ctx, commands.FundOutgoingPayment{Meta: commands.Meta{ID: "fund:" + raced, Actor: operator}, OutgoingPaymentID: raced})
	l.during = nil
	if apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("funding a payment cancelled meanwhile: %v, want wrong state", err)
	}
	if got := balance(raced); got != 0 {
		t.Fatalf("the cancelled payment's account holds %d after the funder's return, want 0", got)
	}
	check(raced)
	if got := balance(raced); got != 0 {
		t.Fatalf("the cancelled payment's account holds %d after the funding check, want 0", got)
	}
	s, _, err := h.Load(ctx, tenantID, raced)
	if err != nil || s.State != outgoingpayment.Cancelled {
		t.Fatalf("payment %s (%v), want CANCELLED", s.State, err)
	}

	stopped := newPayment()
	cancel(stopped)
	if err := l.CreateLiquidityAccount(ctx, ledger.Account{ID: uuid.MustParse(stopped)}); err != nil {
		t.Fatal(err)
	}
	if err := l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: ledger.Account{ID: uuid.MustParse(stopped)}, Amount: 500}); err != nil {
		t.Fatal(err)
	}
	check(stopped)
	if got := balance(stopped); got != 0 {
		t.Fatalf("a deposit its funder left in a cancelled payment: %d left after the funding check, want 0", got)
	}

	tooLarge := newPaymentOf(math.MaxInt64 + 1)
	_, err = h.Fund(ctx, commands.FundOutgoingPayment{Meta: commands.Meta{ID: "fund:" + tooLarge, Actor: operator}, OutgoingPaymentID: tooLarge})
	if apperr.KindOf(err) != apperr.InvalidInput {
		t.Fatalf("funding more than the ledger holds: %v, want invalid input", err)
	}

	unfunded := newPayment()
	cancel(unfunded)
	check(unfunded)
	if got := balance(unfunded); got != 0 {
		t.Fatalf("a cancelled payment never funded holds %d", got)
	}

	// Read waiting for its money, then cancelled here: a funding knows it
	// cancelled, and moves no money at all.
	known := newPayment()
	if s, _, err := h.Load(ctx, tenantID, known); err != nil || s.State != outgoingpayment.Funding {
		t.Fatalf("payment %s (%v), want FUNDING", s.State, err)
	}
	cancel(known)
	l.mu.Lock()
	transfers := len(l.transfers)
	l.mu.Unlock()
	_, err = h.Fund(ctx, commands.FundOutgoingPayment{Meta: commands.Meta{ID: "fund:" + known, Actor: operator}, OutgoingPaymentID: known})
	if apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("funding a payment cancelled: %v, want wrong state", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.transfers) - transfers; n != 0 {
		t.Fatalf("funding a payment known cancelled made %d transfers", n)
	}
}

// A funding reads the payment once: what it read before its deposit is
// what its record expects, unless the payment moved meanwhile.
func TestFundingReadsThePaymentOnce(t *testing.T) {
	store := &readcount.Store{Store: natsStore(t)}
	ctx := context.Background()
	tenantID, paymentID := createdPayment(t, store)
	l := &racingLedger{}
	l.arrived.Add(1)
	enqueue := func(context.Context, string, string, time.Time, any) error { return nil }
	h := outgoingpayment.NewHandler(store, l, noReceivers{}, noQuotes{}, noPayer{}, enqueue, 3)
	before := store.Loads.Load()
	if _, err := h.Fund(ctx, commands.FundOutgoingPayment{Meta: commands.Meta{ID: "fund", Actor: commands.Actor{Operator: true}},
		OutgoingPaymentID: paymentID}); err != nil {
		t.Fatal(err)
	}
	if n := store.Loads.Load() - before; n != 1 {
		t.Fatalf("the payment read %d times to fund it", n)
	}
	if s, _, err := h.Load(ctx, tenantID, paymentID); err != nil || s.State != outgoingpayment.Sending {
		t.Fatalf("payment %s (%v), want SENDING", s.State, err)
	}

	// One read before, as a payment made by this process is, is funded
	// without a read of it (its tenant, not remembered here as its
	// creation would, is searched for).
	knownTenantID, known := createdPayment(t, store)
	if s, _, err := h.Load(ctx, knownTenantID, known); err != nil || s.State != outgoingpayment.Funding {
		t.Fatalf("payment %s (%v), want FUNDING", s.State, err)
	}
	l.arrived.Add(1)
	before, searches := store.All(), store.Searches.Load()
	if _, err := h.Fund(ctx, commands.FundOutgoingPayment{Meta: commands.Meta{ID: "fund-known", Actor: commands.Actor{Operator: true}},
		OutgoingPaymentID: known}); err != nil {
		t.Fatal(err)
	}
	if n := store.All() - before - (store.Searches.Load() - searches); n != 0 {
		t.Fatalf("a payment this process read was read %d times to fund it", n)
	}
	if s, _, err := h.Load(ctx, knownTenantID, known); err != nil || s.State != outgoingpayment.Sending {
		t.Fatalf("payment %s (%v), want SENDING", s.State, err)
	}
}
