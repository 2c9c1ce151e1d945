package outgoingpayment_test

import (
	"context"
	"math"
	"slices"
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

// racingStore holds each append of the payment's funding until both
// funders made theirs, so that both found the payment waiting for its
// money; before runs first, once the funders' appends arrived.
type racingStore struct {
	handlers.Store
	arrived sync.WaitGroup
	before  func()
	once    sync.Once
}

func (s *racingStore) Append(ctx context.Context, msgs []eventstore.Message) ([]uint64, error) {
	s.arrived.Done()
	s.arrived.Wait()
	if s.before != nil {
		s.once.Do(s.before)
	}
	return s.Store.Append(ctx, msgs)
}

// untouchedLedger fails a test that funding moves money: the sender does.
type untouchedLedger struct {
	outgoingpayment.Ledger
	t *testing.T
}

func (l untouchedLedger) Deposit(context.Context, ledger.Deposit) error {
	l.t.Error("the funder deposited")
	return nil
}

// Two funders of one payment at once (each with its own idempotency key,
// as a wallet funding on the created webhook while an operator funds by
// hand): the payment is funded once, and both are answered that it is
// funded. Neither moves money nor enqueues a send: the payment's sender
// follows its funded event. Funding it again later, it being funded, is the
// wrong state, as Rafiki answers; the winner's funding asked again answers
// as it did.
func TestFundersRacingFundOnce(t *testing.T) {
	nats := natsStore(t)
	ctx := context.Background()
	tenantID, paymentID := createdPayment(t, nats)
	store := &racingStore{Store: nats}
	store.arrived.Add(2)
	enqueue := func(context.Context, string, string, time.Time, any) error {
		t.Error("the funder enqueued a command")
		return nil
	}
	h := outgoingpayment.NewHandler(store, untouchedLedger{t: t}, noReceivers{}, noQuotes{}, noPayer{}, enqueue, 3)
	var funders sync.WaitGroup
	keys := []string{"wallet", "operator"}
	errs := make([]error, len(keys))
	for i, key := range keys {
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
	envs, _, err := nats.Load(ctx, mustSubject(t, tenantID, paymentID))
	if err != nil {
		t.Fatal(err)
	}
	if n := countType(envs, "outgoing_payment.funded"); n != 1 {
		t.Fatalf("%d fundings recorded, want 1", n)
	}
	won := slices.IndexFunc(keys, func(key string) bool { return envs[len(envs)-1].CausationID == key })
	if won < 0 {
		t.Fatalf("the funding caused by %q, not by a funder", envs[len(envs)-1].CausationID)
	}
	store.arrived.Add(1)
	if _, err := h.Fund(ctx, commands.FundOutgoingPayment{Meta: commands.Meta{ID: keys[won], Actor: commands.Actor{Operator: true}},
		OutgoingPaymentID: paymentID}); err != nil {
		t.Fatalf("the winner's funding asked again: %v", err)
	}
	if _, err := h.Fund(ctx, commands.FundOutgoingPayment{Meta: commands.Meta{ID: "later", Actor: commands.Actor{Operator: true}},
		OutgoingPaymentID: paymentID}); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("funding the payment funded: %v, want wrong state", err)
	}
}

func mustSubject(t *testing.T, tenantID, paymentID string) string {
	t.Helper()
	subject, err := outgoingpayment.Subject(tenantID, paymentID)
	if err != nil {
		t.Fatal(err)
	}
	return subject
}

func countType(envs []events.Envelope, typ string) int {
	n := 0
	for _, env := range envs {
		if env.Type == typ {
			n++
		}
	}
	return n
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
			AssetLedger: 1, DebitAmount: 500, DebitAmountMinusFees: 500, ReceiveAmount: 500, ReceiveAssetCode: "USD", ReceiveAssetScale: 2, QuoteExpiresAt: time.Now().Add(time.Minute)}); err != nil {
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

// bookLedger keeps balances and transfer ids, as a ledger does.
type bookLedger struct {
	outgoingpayment.Ledger
	mu        sync.Mutex
	balance   map[uuid.UUID]uint64
	transfers map[uuid.UUID]bool
}

func newBookLedger() *bookLedger {
	return &bookLedger{balance: map[uuid.UUID]uint64{}, transfers: map[uuid.UUID]bool{}}
}

// AmountMax bounds a transfer as the Postgres ledger does.
func (l *bookLedger) AmountMax() uint64 { return math.MaxInt64 }

func (l *bookLedger) CreateLiquidityAccount(_ context.Context, a ledger.Account) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.balance[a.ID]; !ok {
		l.balance[a.ID] = 0
	}
	return nil
}

func (l *bookLedger) Deposit(_ context.Context, d ledger.Deposit) error {
	if d.Amount > l.AmountMax() {
		return ledger.ErrInvalidAmount
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

// hookedStore runs before ahead of its next append, once.
type hookedStore struct {
	handlers.Store
	before func()
}

func (s *hookedStore) Append(ctx context.Context, msgs []eventstore.Message) ([]uint64, error) {
	if f := s.before; f != nil {
		s.before = nil
		f()
	}
	return s.Store.Append(ctx, msgs)
}

// A payment cancelled as its funder decides (the cancel appended after the
// funder read the payment, before its append): the funder is told the
// payment is in the wrong state, and no money moves. A funding check that
// an earlier version scheduled, finding the payment cancelled, returns the
// deposit a funder of that version left before stopping, and nothing when
// none was made. Funding more than the ledger moves in one transfer is the
// caller's invalid input, not an internal error nor a payment that fails.
func TestFundingACancelledPaymentMovesNoMoney(t *testing.T) {
	nats := natsStore(t)
	store := &hookedStore{Store: nats}
	ctx := context.Background()
	l := newBookLedger()
	noEnqueue := func(context.Context, string, string, time.Time, any) error { return nil }
	h := outgoingpayment.NewHandler(store, l, noReceivers{}, noQuotes{}, noPayer{}, noEnqueue, 3)
	other := outgoingpayment.NewHandler(nats, l, noReceivers{}, noQuotes{}, noPayer{}, noEnqueue, 3)
	tenantID := uuid.NewString()
	operator := commands.Actor{Operator: true}
	newPaymentOf := func(debit uint64) string {
		t.Helper()
		id := uuid.NewString()
		target, err := handlers.NewTarget(tenantID, outgoingpayment.AggregateType, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := handlers.AppendEvents(ctx, nats, target.Subject, 0, handlers.Meta(target, handlers.CommandInfo{ID: "create:" + id}), "create:"+id,
			&events.OutgoingPaymentCreated{WalletAddressID: uuid.NewString(), AssetID: uuid.NewString(), AssetCode: "USD", AssetScale: 2,
				AssetLedger: 1, DebitAmount: debit, DebitAmountMinusFees: debit, ReceiveAmount: 500, ReceiveAssetCode: "USD", ReceiveAssetScale: 2, QuoteExpiresAt: time.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	newPayment := func() string { return newPaymentOf(500) }
	cancel := func(id string) {
		t.Helper()
		if _, err := other.Cancel(ctx, commands.CancelOutgoingPayment{Meta: commands.Meta{ID: "cancel:" + id, Actor: operator}, OutgoingPaymentID: id}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(id string) {
		t.Helper()
		if err := send(ctx, other, tenantID, id); err != nil {
			t.Fatalf("funding check: %v", err)
		}
	}
	balance := func(id string) uint64 {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.balance[uuid.MustParse(id)]
	}
	transfers := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.transfers)
	}

	raced := newPayment()
	store.before = func() { cancel(raced) }
	_, err := h.Fund(ctx, commands.FundOutgoingPayment{Meta: commands.Meta{ID: "fund:" + raced, Actor: operator}, OutgoingPaymentID: raced})
	if apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("funding a payment cancelled meanwhile: %v, want wrong state", err)
	}
	check(raced)
	if n := transfers(); n != 0 {
		t.Fatalf("funding a payment cancelled meanwhile, then its funding check, made %d transfers", n)
	}
	s, _, err := other.Load(ctx, tenantID, raced)
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
	if s, _, err := h.Load(ctx, tenantID, tooLarge); err != nil || s.State != outgoingpayment.Funding {
		t.Fatalf("payment %s (%v) after a funding refused, want FUNDING", s.State, err)
	}

	unfunded := newPayment()
	cancel(unfunded)
	before := transfers()
	check(unfunded)
	if n := transfers() - before; n != 0 {
		t.Fatalf("the funding check of a cancelled payment never funded made %d transfers", n)
	}

	// Read waiting for its money, then cancelled: a funding finds it
	// cancelled.
	known := newPayment()
	if s, _, err := h.Load(ctx, tenantID, known); err != nil || s.State != outgoingpayment.Funding {
		t.Fatalf("payment %s (%v), want FUNDING", s.State, err)
	}
	cancel(known)
	_, err = h.Fund(ctx, commands.FundOutgoingPayment{Meta: commands.Meta{ID: "fund:" + known, Actor: operator}, OutgoingPaymentID: known})
	if apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("funding a payment cancelled: %v, want wrong state", err)
	}
}

// A funding reads the payment once: what it read is what its append
// expects, unless the payment moved meanwhile.
func TestFundingReadsThePaymentOnce(t *testing.T) {
	store := &readcount.Store{Store: natsStore(t)}
	ctx := context.Background()
	tenantID, paymentID := createdPayment(t, store)
	enqueue := func(context.Context, string, string, time.Time, any) error { return nil }
	h := outgoingpayment.NewHandler(store, untouchedLedger{t: t}, noReceivers{}, noQuotes{}, noPayer{}, enqueue, 3)
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
