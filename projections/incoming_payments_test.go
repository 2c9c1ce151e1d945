package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/readmodel"
	"github.com/rafiki-go/rafiki/testkit"
)

// ledgerTotals is what the ledger received for each payment's account.
type ledgerTotals map[uuid.UUID]uint64

func (l ledgerTotals) TotalReceived(_ context.Context, id uuid.UUID) (uint64, error) {
	return l[id], nil
}

// TestIncomingPaymentsProjectionAppliesEveryEvent drives incoming payments
// through every event with the handler, reads the read model after each
// step, then checks that the events applied again or stored twice change
// nothing and that a replay builds the same rows.
func TestIncomingPaymentsProjectionAppliesEveryEvent(t *testing.T) {
	ctx := context.Background()
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	dbURL := testkit.NewDatabase(t)
	if err := migrations.Up(dbURL); err != nil {
		t.Fatal(err)
	}
	pool := testkit.Pool(t, dbURL)
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)
	p := projections.IncomingPayments{}
	if err := projections.Prepare(runCtx, pool, p); err != nil {
		t.Fatal(err)
	}
	waiter := projections.NewWaiter(pool, log)
	go waiter.Run(runCtx)
	go projections.NewRunner(pool, n.JS, "EVENTS", p, log).Run(runCtx)
	read := readmodel.NewReader(pool, nil)

	cmds := 0
	meta := func(a commands.Actor) commands.Meta {
		cmds++
		return commands.Meta{ID: fmt.Sprintf("ip-test-%d", cmds), Actor: a}
	}
	operator := commands.Actor{TenantID: "00000000-0000-4000-8000-000000000001", Operator: true}
	tenantID := "00000000-0000-4000-8000-00000000000a"
	owner := commands.Actor{TenantID: tenantID}
	if _, _, err := tenant.NewHandler(store, operator.TenantID, "test.rafiki", "").Create(ctx, commands.CreateTenant{Meta: meta(operator),
		TenantID: tenantID, APISecret: "s", Settings: []events.Setting{{Key: tenant.SettingWalletAddressURL, Value: "https://w.example"}}}); err != nil {
		t.Fatal(err)
	}
	assetID, _, err := asset.NewHandler(store, notInUse).Create(ctx, commands.CreateAsset{Meta: meta(operator), TenantID: tenantID, Code: "EUR", Scale: 3})
	if err != nil {
		t.Fatal(err)
	}
	wallets := walletaddress.NewHandler(store, "https://op.example")
	var was []string
	for _, path := range []string{"a", "b"} {
		id, _, err := wallets.Create(ctx, commands.CreateWalletAddress{Meta: meta(owner), TenantID: tenantID, AssetID: assetID, Address: path})
		if err != nil {
			t.Fatal(err)
		}
		was = append(was, id)
	}
	credited := ledgerTotals{}
	payments := incomingpayment.NewHandler(store, credited, time.Hour)
	receive := func(id string, amount uint64) (handlers.Result, error) {
		credited[uuid.MustParse(id)] += amount
		return payments.RecordReceived(ctx, tenantID, id)
	}

	var last uint64
	wrote := func(res handlers.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		last = max(last, res.Sequence)
		if err := waiter.Wait(ctx, p.Name(), last, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	sender := "https://sender.example/bob"
	create := func(wa string, amount uint64, expiresIn time.Duration, initiatedBy string) string {
		t.Helper()
		at := time.Now().Add(expiresIn)
		c := commands.CreateIncomingPayment{Meta: meta(owner), WalletAddressID: wa, ExpiresAt: &at, InitiatedBy: initiatedBy,
			Metadata: json.RawMessage(`{"order": 7}`), Client: "https://client.example", SenderWalletAddress: &sender}
		if amount > 0 {
			c.IncomingAmount = &commands.Amount{Value: amount, AssetCode: "EUR", AssetScale: 3}
		}
		id, res, err := payments.Create(ctx, c)
		wrote(res, err)
		return id
	}
	row := func(id string) string {
		t.Helper()
		r, err := read.IncomingPayment(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			return "none"
		}
		amount := "-"
		if r.IncomingAmount != nil {
			amount = fmt.Sprint(*r.IncomingAmount)
		}
		reason := "-"
		if r.CancellationReason != nil {
			reason = *r.CancellationReason
		}
		return fmt.Sprintf("%s %s/%d %s/%d %s approved=%t cancelled=%t %s", r.State, r.AssetCode, r.AssetScale, amount, r.ReceivedAmount,
			r.Metadata, r.ApprovedAt != nil, r.CancelledAt != nil, reason)
	}
	check := func(id, want string) {
		t.Helper()
		if got := row(id); got != want {
			t.Fatalf("row %s:\n got %s\nwant %s", id, got, want)
		}
	}

	paid := create(was[0], 100, time.Hour, events.InitiatedByAdmin)
	check(paid, `PENDING EUR/3 100/0 {"order": 7} approved=false cancelled=false -`)
	first, err := read.IncomingPayment(ctx, paid, nil)
	if err != nil || first.WalletAddressID != was[0] || first.TenantID != tenantID || first.AssetID != assetID ||
		first.Client == nil || *first.Client != "https://client.example" || first.SenderWalletAddress == nil || *first.SenderWalletAddress != sender ||
		first.InitiatedBy != events.InitiatedByAdmin || time.Until(first.ExpiresAt) < 59*time.Minute {
		t.Fatalf("created %+v %v", first, err)
	}
	wrote(payments.Approve(ctx, commands.ApproveIncomingPayment{Meta: meta(owner), IncomingPaymentID: paid}))
	wrote(payments.Update(ctx, commands.UpdateIncomingPayment{Meta: meta(owner), IncomingPaymentID: paid, Metadata: json.RawMessage(`{"order":8}`)}))
	wrote(receive(paid, 60))
	check(paid, `PROCESSING EUR/3 100/60 {"order": 8} approved=true cancelled=false -`)
	wrote(receive(paid, 40))
	check(paid, `COMPLETED EUR/3 100/100 {"order": 8} approved=true cancelled=false -`)

	cancelled := create(was[1], 0, time.Hour, events.InitiatedByOpenPayments)
	wrote(payments.Cancel(ctx, commands.CancelIncomingPayment{Meta: meta(owner), IncomingPaymentID: cancelled, Reason: &sender}))
	check(cancelled, `PENDING EUR/3 -/0 {"order": 7} approved=false cancelled=true `+sender)
	wrote(payments.Complete(ctx, commands.CompleteIncomingPayment{Meta: meta(owner), IncomingPaymentID: cancelled}))
	check(cancelled, `COMPLETED EUR/3 -/0 {"order": 7} approved=false cancelled=true `+sender)

	// Expired with money it stays; without, it is deleted.
	kept := create(was[0], 0, 300*time.Millisecond, events.InitiatedByCard)
	gone := create(was[1], 0, 300*time.Millisecond, events.InitiatedByAdmin)
	wrote(receive(kept, 5))
	for _, id := range []string{kept, gone} {
		for try := 0; ; try++ {
			wait, err := payments.Expire(ctx, []byte(`{"IncomingPaymentID":"`+id+`"}`))
			if err != nil || try == 10 {
				t.Fatalf("expire %s: %v after %d tries", id, err, try)
			}
			if wait == 0 {
				break
			}
			time.Sleep(wait)
		}
		s, _, err := payments.Load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		subject, err := incomingpayment.Subject(tenantID, id)
		if err != nil {
			t.Fatal(err)
		}
		_, version, err := store.Load(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		wrote(handlers.Result{Sequence: version}, nil)
		if s.State != incomingpayment.StateExpired {
			t.Fatalf("not expired: %+v", s)
		}
	}
	check(kept, `EXPIRED EUR/3 -/5 {"order": 7} approved=false cancelled=false -`)
	check(gone, "none")

	// Lists: by tenant, by wallet address, by who made them, in pages.
	list := func(f readmodel.IncomingPaymentFilter, pg readmodel.Page) []string {
		t.Helper()
		rows, _, err := read.IncomingPayments(ctx, f, pg)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		return ids
	}
	asc := readmodel.Page{}
	same := func(got []string, want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
	}
	same(list(readmodel.IncomingPaymentFilter{TenantScope: &tenantID}, asc), paid, cancelled, kept)
	other := "00000000-0000-4000-8000-00000000000b"
	same(list(readmodel.IncomingPaymentFilter{TenantScope: &other}, asc))
	same(list(readmodel.IncomingPaymentFilter{WalletAddressID: &was[0]}, asc), paid, kept)
	same(list(readmodel.IncomingPaymentFilter{WalletAddressID: &was[1]}, asc), cancelled)
	same(list(readmodel.IncomingPaymentFilter{InitiatedByIn: []string{"CARD", "OPEN_PAYMENTS"}}, asc), cancelled, kept)
	same(list(readmodel.IncomingPaymentFilter{InitiatedByNotIn: []string{"CARD"}}, asc), paid, cancelled)
	one := 1
	same(list(readmodel.IncomingPaymentFilter{}, readmodel.Page{First: &one, After: &paid}), cancelled)
	same(list(readmodel.IncomingPaymentFilter{}, readmodel.Page{Descending: true, First: &one}), kept)
	notID := "x"
	same(list(readmodel.IncomingPaymentFilter{WalletAddressID: &notID}, asc))

	// More payments, so that enough creations are stored twice below.
	for i := range 5 {
		id := create(was[i%2], uint64(10+i), time.Hour, events.InitiatedByAdmin)
		wrote(receive(id, uint64(i+1)))
	}

	// Every event applied again, redelivered or stored twice, changes
	// nothing, and a replay builds the same rows.
	data, seqs := aggregateEvents(t, n, incomingpayment.AggregateType)
	seen := map[string]bool{}
	for i, d := range data {
		env, err := events.Unmarshal(d, seqs[i])
		if err != nil {
			t.Fatal(err)
		}
		seen[env.Type] = true
	}
	for _, ev := range []events.Event{events.IncomingPaymentCreated{}, events.IncomingPaymentUpdated{}, events.IncomingPaymentApproved{},
		events.IncomingPaymentCancelled{}, events.IncomingPaymentReceived{}, events.IncomingPaymentCompleted{}, events.IncomingPaymentExpired{}} {
		if !seen[ev.EventType()] {
			t.Errorf("no %s in the history", ev.EventType())
		}
	}
	once := "incoming_payments_once"
	if err := projections.BuildLive(ctx, pool, p, once, 3, data, seqs); err != nil {
		t.Fatal(err)
	}
	counts := tableCounts(t, pool, once)
	sameTables(t, pool, projections.Schema(p), once, counts)
	if err := projections.BuildRedelivered(ctx, pool, p, "incoming_payments_redelivered", 4, 3, data, seqs); err != nil {
		t.Fatal(err)
	}
	sameTables(t, pool, once, "incoming_payments_redelivered", counts)
	twiceData, twiceSeqs := withCreationsAgain(t, data, seqs)
	if err := projections.BuildLive(ctx, pool, p, "incoming_payments_twice", 3, twiceData, twiceSeqs); err != nil {
		t.Fatal(err)
	}
	sameTables(t, pool, once, "incoming_payments_twice", counts)
	for table, n := range testkit.ReplayMatchesLive(t, pool, n.JS, "EVENTS", p, "events.*.incoming_payment.>") {
		if n == 0 {
			t.Fatalf("%s is empty: the test did not exercise it", table)
		}
	}
}

// aggregateEvents reads every stored event of one aggregate type with its
// sequence.
func aggregateEvents(t *testing.T, n *testkit.NATS, aggregateType string) ([][]byte, []uint64) {
	t.Helper()
	ctx := context.Background()
	stream, err := n.JS.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	var data [][]byte
	var seqs []uint64
	for seq := uint64(1); seq <= stream.CachedInfo().State.LastSeq; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if parts := strings.Split(msg.Subject, "."); len(parts) == 4 && parts[0] == "events" && parts[2] == aggregateType {
			data, seqs = append(data, msg.Data), append(seqs, seq)
		}
	}
	return data, seqs
}
