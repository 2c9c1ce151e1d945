package incomingpayment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/testkit"
	"github.com/rafiki-go/rafiki/testkit/readcount"
)

const tenantID = "00000000-0000-4000-8000-000000000002"

var (
	owner    = commands.Actor{TenantID: tenantID}
	stranger = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000003"}
	operator = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000001", Operator: true}
)

// received is the ledger as the handler reads it: what each payment's
// account received.
type received struct {
	mu     sync.Mutex
	totals map[uuid.UUID]uint64
}

func (r *received) TotalReceived(_ context.Context, id uuid.UUID) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	total, ok := r.totals[id]
	if !ok {
		return 0, fmt.Errorf("%w: %s", ledger.ErrUnknownAccount, id)
	}
	return total, nil
}

func (r *received) add(id string, amount uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.totals[uuid.MustParse(id)] += amount
}

type fixture struct {
	t        *testing.T
	store    *eventstore.Store
	ledger   *received
	payments *incomingpayment.Handler
	wallets  *walletaddress.Handler
	wallet   string
	n        int
}

const expiryMax = time.Hour

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	l := &received{totals: map[uuid.UUID]uint64{}}
	f := &fixture{t: t, store: store, ledger: l, payments: incomingpayment.NewHandler(store, l, expiryMax),
		wallets: walletaddress.NewHandler(store, "https://op.example")}
	if _, _, err := tenant.NewHandler(store, operator.TenantID, "test.rafiki", "").Create(ctx, commands.CreateTenant{
		Meta: f.meta(operator), TenantID: tenantID, APISecret: "secret",
		Settings: []events.Setting{{Key: tenant.SettingWalletAddressURL, Value: "https://wallet.example"}},
	}); err != nil {
		t.Fatal(err)
	}
	assetID, _, err := asset.NewHandler(store, func(context.Context, string) (bool, error) { return false, nil }).Create(ctx,
		commands.CreateAsset{Meta: f.meta(operator), TenantID: tenantID, Code: "USD", Scale: 2})
	if err != nil {
		t.Fatal(err)
	}
	if f.wallet, _, err = f.wallets.Create(ctx, commands.CreateWalletAddress{Meta: f.meta(owner), TenantID: tenantID, AssetID: assetID, Address: "alice"}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) meta(actor commands.Actor) commands.Meta {
	f.n++
	return commands.Meta{ID: fmt.Sprintf("cmd-%d", f.n), Actor: actor}
}

func (f *fixture) load(id string) incomingpayment.State {
	f.t.Helper()
	s, found, err := f.payments.Load(context.Background(), id)
	if err != nil || !found {
		f.t.Fatalf("load %s: %v %v", id, found, err)
	}
	return s
}

// expire runs the expiry of a payment as the worker does, and answers how
// long until it is due.
func (f *fixture) expire(id string) time.Duration {
	f.t.Helper()
	wait, err := f.payments.ExpireDue(context.Background(), id, "")
	if err != nil {
		f.t.Fatalf("expire: %v", err)
	}
	return wait
}

func kind(t *testing.T, err error, want apperr.Kind) {
	t.Helper()
	if apperr.KindOf(err) != want {
		t.Fatalf("got %v (%s), want %s", err, apperr.KindOf(err), want)
	}
}

// A command retried answers its first result and stores nothing, however
// the payment changed since.
func TestRetriesAnswerTheFirstResult(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	create := commands.CreateIncomingPayment{Meta: f.meta(owner), WalletAddressID: f.wallet, InitiatedBy: events.InitiatedByAdmin,
		IncomingAmount: &commands.Amount{Value: 100, AssetCode: "USD", AssetScale: 2}, Metadata: json.RawMessage(`{"n":1}`)}
	id, first, err := f.payments.Create(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	approve := commands.ApproveIncomingPayment{Meta: f.meta(owner), IncomingPaymentID: id}
	approved, err := f.payments.Approve(ctx, approve)
	if err != nil {
		t.Fatal(err)
	}
	f.ledger.add(id, 30)
	got, err := f.payments.RecordReceived(ctx, tenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	// The wallet address goes away; the create's retry still answers.
	if _, err := f.wallets.Update(ctx, commands.UpdateWalletAddress{Meta: f.meta(owner), WalletAddressID: f.wallet, Status: walletaddress.StatusInactive}); err != nil {
		t.Fatal(err)
	}
	stream, err := f.store.JetStream().Stream(ctx, f.store.Stream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := info.State.LastSeq

	againID, again, err := f.payments.Create(ctx, create)
	if err != nil || againID != id || again.Sequence != first.Sequence {
		t.Fatalf("create retried: %s %v %v, want %s %v", againID, again, err, id, first)
	}
	if again, err := f.payments.Approve(ctx, approve); err != nil || again.Sequence != approved.Sequence {
		t.Fatalf("approve retried: %v %v, want %v", again, err, approved)
	}
	if again, err := f.payments.RecordReceived(ctx, tenantID, id); err != nil || again.Sequence != got.Sequence {
		t.Fatalf("receive retried: %v %v, want %v", again, err, got)
	}
	if info, err := stream.Info(ctx); err != nil || info.State.LastSeq != before {
		t.Fatalf("retries stored messages: %v %v", info.State.LastSeq, err)
	}
	if s := f.load(id); s.Received != 30 || s.State != incomingpayment.StateProcessing || s.ApprovedAt == nil {
		t.Fatalf("state %+v", s)
	}

	// A new create on the inactive wallet address is refused.
	_, _, err = f.payments.Create(ctx, commands.CreateIncomingPayment{Meta: f.meta(owner), WalletAddressID: f.wallet, InitiatedBy: events.InitiatedByAdmin})
	kind(t, err, apperr.Inactive)
}

// A payment's life through the handler: refusals for strangers and
// unknown ids, money completing it at its amount, the state events leave.
func TestIncomingPaymentLifecycle(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, _, err := f.payments.Create(ctx, commands.CreateIncomingPayment{Meta: f.meta(stranger), WalletAddressID: f.wallet, InitiatedBy: events.InitiatedByAdmin})
	kind(t, err, apperr.NotFound)
	_, _, err = f.payments.Create(ctx, commands.CreateIncomingPayment{Meta: f.meta(owner), WalletAddressID: tenantID, InitiatedBy: events.InitiatedByAdmin})
	kind(t, err, apperr.NotFound)
	_, err = f.payments.Approve(ctx, commands.ApproveIncomingPayment{Meta: f.meta(owner), IncomingPaymentID: tenantID})
	kind(t, err, apperr.NotFound)

	id, _, err := f.payments.Create(ctx, commands.CreateIncomingPayment{Meta: f.meta(operator), WalletAddressID: f.wallet,
		InitiatedBy: events.InitiatedByAdmin, IncomingAmount: &commands.Amount{Value: 50, AssetCode: "USD", AssetScale: 2}})
	if err != nil {
		t.Fatal(err)
	}
	s := f.load(id)
	if s.TenantID != tenantID || s.AssetCode != "USD" || s.AssetScale != 2 || s.State != incomingpayment.StatePending ||
		time.Until(s.ExpiresAt) < expiryMax-time.Minute || s.ExpiresAt.After(time.Now().Add(expiryMax)) {
		t.Fatalf("created %+v", s)
	}
	_, err = f.payments.Cancel(ctx, commands.CancelIncomingPayment{Meta: f.meta(stranger), IncomingPaymentID: id})
	kind(t, err, apperr.NotFound)
	updated, err := f.payments.Update(ctx, commands.UpdateIncomingPayment{Meta: f.meta(owner), IncomingPaymentID: id, Metadata: json.RawMessage(`{"k": "v"}`)})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing received, nothing recorded.
	if res, err := f.payments.RecordReceived(ctx, tenantID, id); err != nil || res.Sequence != updated.Sequence {
		t.Fatalf("nothing received: %+v %v, want sequence %d", res, err, updated.Sequence)
	}
	for _, amount := range []uint64{20, 30} {
		f.ledger.add(id, amount)
		if _, err := f.payments.RecordReceived(ctx, tenantID, id); err != nil {
			t.Fatal(err)
		}
		if s := f.load(id); s.Received != 20 && s.Received != 50 {
			t.Fatalf("received %d", s.Received)
		}
	}
	s = f.load(id)
	if s.State != incomingpayment.StateCompleted || s.Received != 50 || string(s.Metadata) != `{"k":"v"}` {
		t.Fatalf("after the money %+v", s)
	}
	// Money past completion is recorded; the payment stays completed.
	f.ledger.add(id, 1)
	if _, err := f.payments.RecordReceived(ctx, tenantID, id); err != nil {
		t.Fatal(err)
	}
	if s := f.load(id); s.State != incomingpayment.StateCompleted || s.Received != 51 {
		t.Fatalf("after more money %+v", s)
	}
	_, err = f.payments.Complete(ctx, commands.CompleteIncomingPayment{Meta: f.meta(owner), IncomingPaymentID: id})
	kind(t, err, apperr.Conflict)
}

// A payment's expiry waits until it is due, is recorded once, and does
// nothing for a payment completed meanwhile.
func TestExpiry(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	create := func(expiresIn time.Duration) (string, time.Time) {
		t.Helper()
		at := time.Now().Add(expiresIn)
		id, _, err := f.payments.Create(ctx, commands.CreateIncomingPayment{Meta: f.meta(owner), WalletAddressID: f.wallet,
			InitiatedBy: events.InitiatedByAdmin, ExpiresAt: &at})
		if err != nil {
			t.Fatal(err)
		}
		return id, at
	}
	soon, soonAt := create(1500 * time.Millisecond)
	done, _ := create(1500 * time.Millisecond)
	f.ledger.add(soon, 5)
	if _, err := f.payments.RecordReceived(ctx, tenantID, soon); err != nil {
		t.Fatal(err)
	}
	if _, err := f.payments.Complete(ctx, commands.CompleteIncomingPayment{Meta: f.meta(owner), IncomingPaymentID: done}); err != nil {
		t.Fatal(err)
	}

	// Run early, it asks to come back when due.
	if wait := f.expire(soon); wait <= 0 || wait > 1600*time.Millisecond {
		t.Fatalf("early run waits %v", wait)
	}
	if s := f.load(soon); s.State != incomingpayment.StateProcessing {
		t.Fatalf("expired early: %+v", s)
	}
	time.Sleep(time.Until(soonAt) + 10*time.Millisecond)
	for range 2 {
		if wait := f.expire(soon); wait != 0 {
			t.Fatalf("due run waits %v", wait)
		}
	}
	s := f.load(soon)
	if s.State != incomingpayment.StateExpired || s.DeletedAt != nil {
		t.Fatalf("after expiry %+v", s)
	}
	subject, err := incomingpayment.Subject(tenantID, soon)
	if err != nil {
		t.Fatal(err)
	}
	envs, _, err := f.store.Load(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(envs); n != 3 || envs[n-1].Type != (events.IncomingPaymentExpired{}).EventType() {
		t.Fatalf("events %d, last %s", n, envs[n-1].Type)
	}
	if wait := f.expire(done); wait != 0 {
		t.Fatalf("completed payment waits %v", wait)
	}
	if s := f.load(done); s.State != incomingpayment.StateCompleted {
		t.Fatalf("completed payment %+v", s)
	}

	// A payment that never received money is deleted when it expires.
	empty, emptyAt := create(100 * time.Millisecond)
	time.Sleep(time.Until(emptyAt) + 10*time.Millisecond)
	if wait := f.expire(empty); wait != 0 {
		t.Fatalf("due run waits %v", wait)
	}
	if s := f.load(empty); s.State != incomingpayment.StateExpired || s.DeletedAt == nil || s.Live() {
		t.Fatalf("empty payment after expiry %+v", s)
	}
	_, err = f.payments.Approve(ctx, commands.ApproveIncomingPayment{Meta: f.meta(owner), IncomingPaymentID: empty})
	kind(t, err, apperr.NotFound)
	// Money for it now cannot be recorded: the command is kept aside.
	f.ledger.add(empty, 3)
	if _, err := f.payments.Receive(ctx, []byte(`{"tenantId":"`+tenantID+`","incomingPaymentId":"`+empty+`","packets":1,"amount":3}`)); !errors.Is(err, commands.ErrUnprocessable) {
		t.Fatalf("money for a deleted payment: %v, want it unprocessable", err)
	}

	// Money the ledger holds and the payment did not record yet is
	// recorded when it expires, and keeps it.
	late, lateAt := create(100 * time.Millisecond)
	f.ledger.add(late, 7)
	time.Sleep(time.Until(lateAt) + 10*time.Millisecond)
	if wait := f.expire(late); wait != 0 {
		t.Fatalf("due run waits %v", wait)
	}
	if s := f.load(late); s.State != incomingpayment.StateExpired || s.Received != 7 || !s.Live() {
		t.Fatalf("payment paid unrecorded after expiry %+v", s)
	}
	// Its queued message finds nothing more to record.
	if _, err := f.payments.Receive(ctx, []byte(`{"tenantId":"`+tenantID+`","incomingPaymentId":"`+late+`","packets":1,"amount":7}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.payments.Receive(ctx, []byte(`{"tenantId":"`+stranger.TenantID+`","incomingPaymentId":"`+late+`"}`)); !errors.Is(err, commands.ErrUnprocessable) {
		t.Fatalf("a payment under another tenant: %v, want it unprocessable", err)
	}
	if _, err := f.payments.Receive(ctx, []byte(`{"incomingPaymentId":`)); !errors.Is(err, commands.ErrUnprocessable) {
		t.Fatalf("a malformed message: %v, want it unprocessable", err)
	}

	// A command of the queue, as installations before the expiry worker
	// scheduled, expires the payment it names; one for a payment never
	// stored, or that cannot be read, ends.
	cmd, at := create(100 * time.Millisecond)
	time.Sleep(time.Until(at) + 10*time.Millisecond)
	data, err := json.Marshal(commands.ExpireIncomingPayment{Meta: commands.Meta{ID: "expire_incoming_payment:" + cmd}, IncomingPaymentID: cmd})
	if err != nil {
		t.Fatal(err)
	}
	if wait, err := f.payments.Expire(ctx, data); err != nil || wait != 0 {
		t.Fatalf("queued expiry: %v, waits %v", err, wait)
	}
	if s := f.load(cmd); s.State != incomingpayment.StateExpired {
		t.Fatalf("after the queued expiry %+v", s)
	}
	if _, err := f.payments.Expire(ctx, []byte(`{"IncomingPaymentID":"`+tenantID+`"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.payments.Expire(ctx, []byte(`{"IncomingPaymentID":"*"}`)); !errors.Is(err, commands.ErrUnprocessable) {
		t.Fatalf("a malformed id: %v, want it unprocessable", err)
	}
}

// Money that reaches a payment this handler made or last recorded is
// recorded without a read of the store; a payment that moved on meanwhile
// (here through another handler) is read again, and what it received
// recorded all the same. Read back, such a payment costs one request for
// its last sequence, not a read of its events.
func TestReceiptsRecordedWithoutReads(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	counting := &readcount.Store{Store: f.store}
	h := incomingpayment.NewHandler(counting, f.ledger, expiryMax)
	id, _, err := h.Create(ctx, commands.CreateIncomingPayment{Meta: f.meta(operator), WalletAddressID: f.wallet,
		InitiatedBy: events.InitiatedByAdmin, IncomingAmount: &commands.Amount{Value: 50, AssetCode: "USD", AssetScale: 2}})
	if err != nil {
		t.Fatal(err)
	}
	before, eventsBefore := counting.All(), counting.Loads.Load()+counting.LoadsAfter.Load()
	for _, amount := range []uint64{10, 15} {
		f.ledger.add(id, amount)
		if _, err := h.RecordReceived(ctx, tenantID, id); err != nil {
			t.Fatal(err)
		}
	}
	if n := counting.All() - before; n != 0 {
		t.Fatalf("%d reads of the store to record two receipts", n)
	}
	// Read back, it costs one request for its last sequence, no read of
	// its events.
	if s, found, err := h.Load(ctx, id); err != nil || !found || s.Received != 25 {
		t.Fatalf("read back: %+v %v %v", s, found, err)
	}
	if n, events := counting.All()-before, counting.Loads.Load()+counting.LoadsAfter.Load()-eventsBefore; n != 1 || events != 0 {
		t.Fatalf("%d reads, %d of events, to read a payment known here", n, events)
	}
	if _, err := f.payments.Update(ctx, commands.UpdateIncomingPayment{Meta: f.meta(owner), IncomingPaymentID: id, Metadata: json.RawMessage(`{"k":"v"}`)}); err != nil {
		t.Fatal(err)
	}
	f.ledger.add(id, 25)
	if _, err := h.RecordReceived(ctx, tenantID, id); err != nil {
		t.Fatal(err)
	}
	if s := f.load(id); s.State != incomingpayment.StateCompleted || s.Received != 50 || string(s.Metadata) != `{"k":"v"}` {
		t.Fatalf("after the money %+v", s)
	}
}
