package outgoingpayment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/testkit/readcount"
)

// sentLedger says the payment's account sent what it holds already: its
// one transfer to a local receiver was made by an attempt that stopped
// right after.
type sentLedger struct {
	outgoingpayment.Ledger
	sent uint64
}

func (l sentLedger) TotalSent(context.Context, uuid.UUID) (uint64, error) { return l.sent, nil }

// Deposit finds the deposit made: the attempt that stopped made it.
func (l sentLedger) Deposit(context.Context, ledger.Deposit) error { return ledger.ErrTransferExists }

type localReceiver struct {
	noReceivers
	r quote.Receiver
}

func (l localReceiver) Receiver(context.Context, string) (quote.Receiver, bool, error) {
	return l.r, true, nil
}

// tellingPayer records what receivers it was told to look at; it must not
// pay again.
type tellingPayer struct {
	told    []string
	refused error
	paid    int
}

func (p *tellingPayer) Pay(context.Context, outgoingpayment.Transfer) (outgoingpayment.Outcome, error) {
	p.paid++
	return outgoingpayment.Outcome{}, errors.New("paid twice")
}

func (p *tellingPayer) Delivered(_ context.Context, r quote.Receiver, amount uint64) error {
	if p.refused != nil {
		return p.refused
	}
	p.told = append(p.told, r.LocalPaymentID)
	return nil
}

// newLocalReceiver is an incoming payment of the tenant on this instance,
// open, as a payment's receiver.
func newLocalReceiver(tenantID string) quote.Receiver {
	id := uuid.NewString()
	return quote.Receiver{URL: "https://op.example/t/incoming-payments/" + id, LocalPaymentID: id,
		LocalTenantID: tenantID, AssetCode: "USD", AssetScale: 2, Active: true}
}

// send runs the send command of a payment once.
func send(ctx context.Context, h *outgoingpayment.Handler, tenantID, paymentID string) error {
	data, err := json.Marshal(commands.SendOutgoingPayment{TenantID: tenantID, OutgoingPaymentID: paymentID})
	if err != nil {
		return err
	}
	_, err = h.Send(ctx, data)
	return err
}

// fundedPayment stores a payment of 500 to receiverURL, funded.
func fundedPayment(t *testing.T, store handlers.Store, tenantID, paymentID, receiverURL string) {
	t.Helper()
	fundedPaymentQuoted(t, store, tenantID, paymentID, receiverURL, time.Now().Add(time.Minute))
}

// fundedPaymentQuoted is fundedPayment with its quote's expiry.
func fundedPaymentQuoted(t *testing.T, store handlers.Store, tenantID, paymentID, receiverURL string, quoteExpiresAt time.Time) {
	t.Helper()
	target, err := handlers.NewTarget(tenantID, outgoingpayment.AggregateType, paymentID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handlers.AppendEvents(context.Background(), store, target.Subject, 0, handlers.Meta(target, handlers.CommandInfo{ID: "create-" + paymentID}), "create-"+paymentID,
		&events.OutgoingPaymentCreated{WalletAddressID: uuid.NewString(), AssetID: uuid.NewString(), AssetCode: "USD", AssetScale: 2,
			AssetLedger: 1, Receiver: receiverURL, DebitAmount: 500, DebitAmountMinusFees: 500, ReceiveAmount: 500, ReceiveAssetCode: "USD", ReceiveAssetScale: 2,
			EstimatedExchangeRate: 1, QuoteExpiresAt: quoteExpiresAt},
		&events.OutgoingPaymentFunded{Amount: 500}); err != nil {
		t.Fatal(err)
	}
}

// A send cut short after a local payment's transfer (its worker killed) is
// completed by the next attempt, whose transfer the ledger refuses as
// made; the incoming payment it paid is told first, durably, so that it
// records the money at once instead of at its expiry. A failure to tell
// leaves the payment to the next attempt.
func TestSendAfterALocalTransferTellsTheReceiver(t *testing.T) {
	store := natsStore(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		refused error
		want    string
	}{
		{"told", nil, outgoingpayment.Completed},
		{"not told: NATS away", errors.New("nats: no responders"), outgoingpayment.Sending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tenantID, paymentID := uuid.NewString(), uuid.NewString()
			receiver := newLocalReceiver(tenantID)
			fundedPayment(t, store, tenantID, paymentID, receiver.URL)
			payer := &existingPayer{tellingPayer{refused: tc.refused}}
			h := outgoingpayment.NewHandler(store, sentLedger{sent: 500}, localReceiver{r: receiver}, noQuotes{}, payer,
				func(context.Context, string, string, time.Time, any) error { return nil }, 3)
			err := send(ctx, h, tenantID, paymentID)
			if (err != nil) != (tc.refused != nil) {
				t.Fatalf("send: %v", err)
			}
			s, _, err := h.Load(ctx, tenantID, paymentID)
			if err != nil || s.State != tc.want {
				t.Fatalf("payment %s (%v), want %s", s.State, err, tc.want)
			}
			if tc.want == outgoingpayment.Completed && (s.Sent != 500 || s.Delivered != 500) {
				t.Fatalf("sent %d, delivered %d; want what the first attempt moved, 500 and 500", s.Sent, s.Delivered)
			}
			if tc.refused == nil && (len(payer.told) != 1 || payer.told[0] != receiver.LocalPaymentID) {
				t.Fatalf("told %v, want the incoming payment once", payer.told)
			}
		})
	}
}

type existingPayer struct{ tellingPayer }

func (p *existingPayer) Pay(_ context.Context, t outgoingpayment.Transfer) (outgoingpayment.Outcome, error) {
	p.paid++
	return outgoingpayment.Outcome{}, fmt.Errorf("local payment %s: %w", t.PaymentID, ledger.ErrTransferExists)
}

// Two sends of one local payment at once (a worker still sending when its
// event's ack_wait ran out and another worker took it): the one whose
// transfer is refused as existing finds the money the other sent and
// completes the payment, with no failed attempt and no wait for a retry.
// A transfer refused as existing with nothing sent stays a failed attempt.
// A payment whose quote expired after its transfer was made fails with
// what that transfer sent.
func TestSendRacingAnotherSendOfALocalPayment(t *testing.T) {
	store := natsStore(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		sentLate bool
		want     string
		attempts int
	}{
		{"the other send made the transfer", true, outgoingpayment.Completed, 0},
		{"nothing sent", false, outgoingpayment.Sending, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tenantID, paymentID := uuid.NewString(), uuid.NewString()
			receiver := newLocalReceiver(tenantID)
			fundedPayment(t, store, tenantID, paymentID, receiver.URL)
			var l outgoingpayment.Ledger = sentLedger{sent: 0}
			if tc.sentLate {
				l = sentLedger{sent: 500}
			}
			payer := &existingPayer{}
			h := outgoingpayment.NewHandler(store, l, localReceiver{r: receiver}, noQuotes{}, payer,
				func(context.Context, string, string, time.Time, any) error { return nil }, 3)
			if err := send(ctx, h, tenantID, paymentID); err != nil {
				t.Fatalf("send: %v", err)
			}
			s, _, err := h.Load(ctx, tenantID, paymentID)
			if err != nil || s.State != tc.want || s.StateAttempts != tc.attempts {
				t.Fatalf("payment %s after %d failed attempts (%v), want %s after %d", s.State, s.StateAttempts, err, tc.want, tc.attempts)
			}
			if tc.sentLate && (s.Sent != 500 || s.Delivered != 500 || len(payer.told) != 1 || payer.told[0] != receiver.LocalPaymentID) {
				t.Fatalf("sent %d, delivered %d, told %v; want 500, 500 and the incoming payment once", s.Sent, s.Delivered, payer.told)
			}
		})
	}
}

// A local payment whose quote expired after an attempt cut short made its
// transfer fails with what the ledger says that transfer sent.
func TestSendOfAnExpiredLocalPaymentRecordsWhatWasSent(t *testing.T) {
	store := natsStore(t)
	ctx := context.Background()
	tenantID, paymentID := uuid.NewString(), uuid.NewString()
	receiver := newLocalReceiver(tenantID)
	fundedPaymentQuoted(t, store, tenantID, paymentID, receiver.URL, time.Now().Add(-time.Second))
	payer := &payingPayer{}
	h := outgoingpayment.NewHandler(store, sentLedger{sent: 500}, localReceiver{r: receiver}, noQuotes{}, payer,
		func(context.Context, string, string, time.Time, any) error { return nil }, 3)
	if err := send(ctx, h, tenantID, paymentID); err != nil {
		t.Fatalf("send: %v", err)
	}
	s, _, err := h.Load(ctx, tenantID, paymentID)
	if err != nil || s.State != outgoingpayment.Failed || s.Error != "QuoteExpired" || s.Sent != 500 || payer.paid != 0 {
		t.Fatalf("payment %s (%s), sent %d, paid %d times (%v); want FAILED, QuoteExpired, 500, never", s.State, s.Error, s.Sent, payer.paid, err)
	}
}

// countingLedger counts the reads of what a payment sent, and keeps the
// deposits.
type countingLedger struct {
	outgoingpayment.Ledger
	looks    int
	deposits []ledger.Deposit
}

func (l *countingLedger) Deposit(_ context.Context, d ledger.Deposit) error {
	l.deposits = append(l.deposits, d)
	return nil
}

func (l *countingLedger) TotalSent(context.Context, uuid.UUID) (uint64, error) {
	l.looks++
	return 0, nil
}

// payingPayer pays whatever it is asked.
type payingPayer struct{ tellingPayer }

func (p *payingPayer) Pay(_ context.Context, t outgoingpayment.Transfer) (outgoingpayment.Outcome, error) {
	p.paid++
	return outgoingpayment.Outcome{Sent: t.SourceAmount, Delivered: t.DeliveryAmount}, nil
}

// A send of a payment this process knows reads only the payment's last
// sequence, and its completion expects the payment as read then: no
// read of the payment's events, before or after the money moved. Paying a
// receiver of this instance the first time, it does not ask the ledger
// what was sent.
func TestSendReadsOnlyTheLastSequence(t *testing.T) {
	store := &readcount.Store{Store: natsStore(t)}
	ctx := context.Background()
	tenantID, paymentID := uuid.NewString(), uuid.NewString()
	receiver := newLocalReceiver(tenantID)
	fundedPayment(t, store, tenantID, paymentID, receiver.URL)
	payer := &payingPayer{}
	l := &countingLedger{}
	h := outgoingpayment.NewHandler(store, l, localReceiver{r: receiver}, noQuotes{}, payer,
		func(context.Context, string, string, time.Time, any) error { return nil }, 3)
	if s, _, err := h.Load(ctx, tenantID, paymentID); err != nil || s.State != outgoingpayment.Sending {
		t.Fatalf("payment %s (%v), want SENDING", s.State, err)
	}
	eventReads := func() int64 { return store.Loads.Load() + store.LoadsAfter.Load() }
	reads, readsOfEvents := store.All(), eventReads()
	if err := send(ctx, h, tenantID, paymentID); err != nil {
		t.Fatalf("send: %v", err)
	}
	if n, m := store.All()-reads, eventReads()-readsOfEvents; n != 1 || m != 0 {
		t.Fatalf("the send read the store %d times, %d of them the payment's events; want its last sequence once", n, m)
	}
	s, _, err := h.Load(ctx, tenantID, paymentID)
	if err != nil || s.State != outgoingpayment.Completed || s.Sent != 500 || payer.paid != 1 {
		t.Fatalf("payment %s, sent %d, paid %d times (%v); want COMPLETED, 500, once", s.State, s.Sent, payer.paid, err)
	}
	if m := eventReads() - readsOfEvents; m != 0 {
		t.Fatalf("the payment completed was read back from %d reads of its events", m)
	}
	if l.looks != 0 {
		t.Fatalf("the ledger was asked %d times what the payment sent", l.looks)
	}
	if len(l.deposits) != 1 || l.deposits[0].Amount != 500 || !l.deposits[0].Open || l.deposits[0].Account.ID.String() != paymentID {
		t.Fatalf("deposits %+v, want one of 500 into the payment's account, opening it", l.deposits)
	}
}

// flakyPayer fails its first attempt, then pays whatever it is asked.
type flakyPayer struct{ payingPayer }

func (p *flakyPayer) Pay(ctx context.Context, t outgoingpayment.Transfer) (outgoingpayment.Outcome, error) {
	if p.paid == 0 {
		p.paid++
		return outgoingpayment.Outcome{}, errors.New("F02 unreachable")
	}
	return p.payingPayer.Pay(ctx, t)
}

// A payment's events reach its sender: its creation is passed over, its
// funding sends it, the first attempt depositing the debit amount. A
// failed attempt is recorded and retried by a send command due after the
// backoff, which deposits nothing more and completes the payment.
func TestSendFundedSendsOnItsFunding(t *testing.T) {
	store := natsStore(t)
	ctx := context.Background()
	tenantID, paymentID := uuid.NewString(), uuid.NewString()
	receiver := newLocalReceiver(tenantID)
	fundedPayment(t, store, tenantID, paymentID, receiver.URL)
	type enqueued struct {
		subject, id string
		at          time.Time
		command     any
	}
	var retries []enqueued
	enqueue := func(_ context.Context, subject, id string, at time.Time, command any) error {
		retries = append(retries, enqueued{subject, id, at, command})
		return nil
	}
	l := &countingLedger{}
	payer := &flakyPayer{}
	h := outgoingpayment.NewHandler(store, l, localReceiver{r: receiver}, noQuotes{}, payer, enqueue, 3)
	envs, _, err := store.Load(ctx, mustSubject(t, tenantID, paymentID))
	if err != nil || len(envs) != 2 || envs[1].Type != "outgoing_payment.funded" {
		t.Fatalf("events %v (%v), want the creation and the funding", envs, err)
	}
	for _, env := range envs {
		data, err := events.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		if retryAfter, err := h.SendFunded(ctx, data); err != nil || retryAfter != 0 {
			t.Fatalf("%s: retry after %s, %v; want done with", env.Type, retryAfter, err)
		}
		if env.Type != "outgoing_payment.funded" {
			if payer.paid != 0 || len(l.deposits) != 0 {
				t.Fatalf("%s: paid %d times, %d deposits; want nothing done", env.Type, payer.paid, len(l.deposits))
			}
			continue
		}
		want := commands.SendOutgoingPayment{TenantID: tenantID, OutgoingPaymentID: paymentID}
		if len(retries) != 1 || retries[0].subject != commands.SendOutgoingPaymentSubject || retries[0].id != "retry:"+env.ID.String() ||
			retries[0].command != want || retries[0].at.Before(began.Add(10*time.Second)) || retries[0].at.After(time.Now().Add(10*time.Second)) {
			t.Fatalf("enqueued %+v, want one send of the payment 10 s later", retries)
		}
	}
	s, _, err := h.Load(ctx, tenantID, paymentID)
	if err != nil || s.State != outgoingpayment.Sending || s.StateAttempts != 1 {
		t.Fatalf("payment %s after %d failed attempts (%v), want SENDING after 1", s.State, s.StateAttempts, err)
	}
	if err := send(ctx, h, tenantID, paymentID); err != nil {
		t.Fatalf("retry: %v", err)
	}
	s, _, err = h.Load(ctx, tenantID, paymentID)
	if err != nil || s.State != outgoingpayment.Completed || s.Sent != 500 {
		t.Fatalf("payment %s, sent %d (%v); want COMPLETED, 500", s.State, s.Sent, err)
	}
	if len(l.deposits) != 1 || l.deposits[0].Amount != 500 {
		t.Fatalf("deposits %+v, want one of 500", l.deposits)
	}
}

// A payment whose deposit the ledger can never make (an amount past what
// it moves, funded by a build that did not refuse it) fails at its first
// attempt with the ledger's reason, having moved nothing, rather than
// coming back until its retries run out.
func TestSendOfAPaymentTheLedgerCannotFundFails(t *testing.T) {
	store := natsStore(t)
	ctx := context.Background()
	tenantID, paymentID := uuid.NewString(), uuid.NewString()
	target, err := handlers.NewTarget(tenantID, outgoingpayment.AggregateType, paymentID)
	if err != nil {
		t.Fatal(err)
	}
	const debit = math.MaxInt64 + 1
	if _, err := handlers.AppendEvents(ctx, store, target.Subject, 0, handlers.Meta(target, handlers.CommandInfo{ID: "create-" + paymentID}), "create-"+paymentID,
		&events.OutgoingPaymentCreated{WalletAddressID: uuid.NewString(), AssetID: uuid.NewString(), AssetCode: "USD", AssetScale: 2,
			AssetLedger: 1, Receiver: "https://elsewhere.example/incoming-payments/x", DebitAmount: debit, DebitAmountMinusFees: debit,
			ReceiveAmount: 500, ReceiveAssetCode: "USD", ReceiveAssetScale: 2, EstimatedExchangeRate: 1, QuoteExpiresAt: time.Now().Add(time.Minute)},
		&events.OutgoingPaymentFunded{Amount: debit}); err != nil {
		t.Fatal(err)
	}
	l := newBookLedger()
	payer := &payingPayer{}
	h := outgoingpayment.NewHandler(store, l, noReceivers{}, noQuotes{}, payer,
		func(context.Context, string, string, time.Time, any) error { return nil }, 3)
	if err := send(ctx, h, tenantID, paymentID); err != nil {
		t.Fatalf("send: %v", err)
	}
	s, _, err := h.Load(ctx, tenantID, paymentID)
	if err != nil || s.State != outgoingpayment.Failed || !strings.Contains(s.Error, ledger.ErrInvalidAmount.Error()) || s.Sent != 0 {
		t.Fatalf("payment %s (%q), sent %d (%v); want FAILED with the ledger's reason, nothing sent", s.State, s.Error, s.Sent, err)
	}
	if payer.paid != 0 || len(l.transfers) != 0 {
		t.Fatalf("paid %d times, %d transfers; want nothing moved", payer.paid, len(l.transfers))
	}
}
