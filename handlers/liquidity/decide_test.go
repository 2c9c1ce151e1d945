package liquidity

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/ledger"
)

const tid = "6f1d3c1e-55a4-4f4e-9d0b-0c7c8f1e2a11"

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// history builds a transfer from events, each caused by the command named
// beside it, a second apart.
func history(evs ...any) transfer {
	var t transfer
	for i := 0; i < len(evs); i += 2 {
		ev := evs[i].(events.Event)
		env := events.Envelope{ID: uuid.New(), Type: ev.EventType(), CausationID: evs[i+1].(string), Time: t0.Add(time.Duration(i/2) * time.Second)}
		t.apply(env, ev)
	}
	return t
}

var (
	withdrawal = &events.LiquidityWithdrawalRequested{TransferID: tid, Amount: 10, TimeoutSeconds: 60}
	created    = &events.LiquidityWithdrawalCreated{TransferID: tid, Amount: 10, TimeoutSeconds: 60}
	postReq    = &events.LiquidityWithdrawalPostRequested{TransferID: tid}
	voidReq    = &events.LiquidityWithdrawalVoidRequested{TransferID: tid}
	posted     = &events.LiquidityWithdrawalPosted{TransferID: tid}
	voided     = &events.LiquidityWithdrawalVoided{TransferID: tid}
)

func refused(err error) *events.LiquidityRequestFailed {
	return &events.LiquidityRequestFailed{TransferID: tid, Error: err.Error()}
}

// kindOf is an error's kind, "" for none.
func kindOf(err error) apperr.Kind {
	if err == nil {
		return ""
	}
	return apperr.KindOf(err)
}

func TestDecideCreate(t *testing.T) {
	deposit := &events.LiquidityDepositRequested{TransferID: tid, Amount: 5}
	cases := []struct {
		name    string
		t       transfer
		want    events.Event
		command string
		request bool
		kind    apperr.Kind // "" for success
	}{
		{"new", history(), deposit, "a", true, ""},
		{"under way", history(deposit, "a"), deposit, "a", false, apperr.Unavailable},
		{"done, retried", history(deposit, "a", &events.LiquidityDeposited{TransferID: tid, Amount: 5}, "a"), deposit, "a", false, ""},
		{"done, another command", history(deposit, "a", &events.LiquidityDeposited{TransferID: tid, Amount: 5}, "a"), deposit, "b", false, apperr.Duplicate},
		{"refused, retried", history(deposit, "a", refused(ledger.ErrInsufficientBalance), "a"), deposit, "a", false, apperr.Forbidden},
		{"refused, another command", history(deposit, "a", refused(ledger.ErrInsufficientBalance), "a"), deposit, "b", false, apperr.Forbidden},
		{"another amount", history(deposit, "a"), &events.LiquidityDepositRequested{TransferID: tid, Amount: 6}, "a", false, apperr.Duplicate},
		{"a withdrawal's id", history(withdrawal, "a", created, "a"), deposit, "a", false, apperr.Duplicate},
		{"recorded without a request, retried", history(&events.LiquidityDeposited{TransferID: tid, Amount: 5}, "a"), deposit, "a", false, ""},
		{"withdrawal recorded without a request", history(created, "a"), withdrawal, "b", false, apperr.Duplicate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := decideCreate(c.t, c.want, c.command)
			if (ev != nil) != c.request || kindOf(err) != c.kind {
				t.Fatalf("got %v, %v; want a request %v, error kind %q", ev, err, c.request, c.kind)
			}
		})
	}
}

func TestDecideSettle(t *testing.T) {
	expiry := history(withdrawal, "a", created, "a", voided, expiryCommandPrefix+tid)
	cases := []struct {
		name    string
		t       transfer
		post    bool
		command string
		want    events.Event
		kind    apperr.Kind
	}{
		{"post", history(withdrawal, "a", created, "a"), true, "p", postReq, ""},
		{"void", history(withdrawal, "a", created, "a"), false, "v", voidReq, ""},
		{"unknown", history(), true, "p", nil, apperr.NotFound},
		{"refused creation", history(withdrawal, "a", refused(ledger.ErrInsufficientBalance), "a"), true, "p", nil, apperr.NotFound},
		{"creation under way", history(withdrawal, "a"), true, "p", nil, apperr.Unavailable},
		{"post under way", history(withdrawal, "a", created, "a", postReq, "p"), false, "v", nil, apperr.Unavailable},
		{"posted, retried", history(withdrawal, "a", created, "a", postReq, "p", posted, "p"), true, "p", nil, ""},
		{"posted, posted again", history(withdrawal, "a", created, "a", postReq, "p", posted, "p"), true, "q", nil, apperr.Conflict},
		{"posted, voided", history(withdrawal, "a", created, "a", postReq, "p", posted, "p"), false, "p", nil, apperr.Conflict},
		{"voided, retried", history(withdrawal, "a", created, "a", voidReq, "v", voided, "v"), false, "v", nil, ""},
		{"voided, posted", history(withdrawal, "a", created, "a", voidReq, "v", voided, "v"), true, "p", nil, apperr.Conflict},
		{"expired, posted", expiry, true, "p", nil, apperr.Forbidden},
		{"expired, voided", expiry, false, "v", nil, apperr.Forbidden},
		{"post refused as expired, voided", history(withdrawal, "a", created, "a", postReq, "p", refused(ledger.ErrTransferExpired), "p"), false, "v", nil, apperr.Forbidden},
		{"legacy post", history(created, "a", posted, "p"), false, "v", nil, apperr.Conflict},
		{"a deposit", history(&events.LiquidityDepositRequested{TransferID: tid, Amount: 5}, "a"), true, "p", nil, apperr.NotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := decideSettle(c.t, c.post, c.command)
			if kindOf(err) != c.kind {
				t.Fatalf("error %v, want kind %q", err, c.kind)
			}
			if (ev == nil) != (c.want == nil) || (ev != nil && ev.EventType() != c.want.EventType()) {
				t.Fatalf("request %v, want %v", ev, c.want)
			}
		})
	}
}

func TestDecideExpiry(t *testing.T) {
	const grace, wait = time.Second, time.Minute
	// created's outcome is recorded at t0+1s; it expires 60 s later.
	due := t0.Add(time.Second + 60*time.Second + grace)
	cases := []struct {
		name string
		t    transfer
		now  time.Time
		want expiry
	}{
		{"never requested", history(), due, expiry{done: true}},
		{"creation under way", history(withdrawal, "a"), due, expiry{retryAfter: wait}},
		{"refused", history(withdrawal, "a", refused(ledger.ErrInsufficientBalance), "a"), due, expiry{done: true}},
		{"not due", history(withdrawal, "a", created, "a"), due.Add(-10 * time.Second), expiry{retryAfter: 10 * time.Second}},
		{"due", history(withdrawal, "a", created, "a"), due, expiry{}},
		{"post under way", history(withdrawal, "a", created, "a", postReq, "p"), due, expiry{retryAfter: wait}},
		{"posted", history(withdrawal, "a", created, "a", postReq, "p", posted, "p"), due, expiry{done: true}},
		{"voided", history(withdrawal, "a", created, "a", voidReq, "v", voided, "v"), due, expiry{done: true}},
		{"post refused", history(withdrawal, "a", created, "a", postReq, "p", refused(ledger.ErrTransferExpired), "p"), due, expiry{}},
		{"posted at once", history(&events.LiquidityWithdrawalRequested{TransferID: tid, Amount: 1}, "a",
			&events.LiquidityWithdrawalCreated{TransferID: tid, Amount: 1}, "a"), due, expiry{done: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := decideExpiry(c.t, c.now, grace, wait); got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestDecideIncomingPaymentWithdrawal(t *testing.T) {
	const tenant, stranger = "5d0c0a4e-8a2b-4d47-9a51-3b6f0f1c2d01", "5d0c0a4e-8a2b-4d47-9a51-3b6f0f1c2d02"
	ended := uuid.MustParse("0b7e4c2a-1f3d-4e5b-8c6a-9d0e1f2a3b4c")
	gone := t0.Add(time.Hour)
	payment := func(state string, endedBy uuid.UUID) endedPayment {
		return endedPayment{State: incomingpayment.State{Exists: true, TenantID: tenant, State: state}, endedBy: endedBy}
	}
	deleted := payment(incomingpayment.StateExpired, ended)
	deleted.DeletedAt = &gone
	operator, owner, other := commands.Actor{Operator: true}, commands.Actor{TenantID: tenant}, commands.Actor{TenantID: stranger}
	cases := []struct {
		name  string
		p     endedPayment
		actor commands.Actor
		kind  apperr.Kind // "" for success, ended's id the transfer
	}{
		{"completed", payment(incomingpayment.StateCompleted, ended), operator, ""},
		{"expired", payment(incomingpayment.StateExpired, ended), operator, ""},
		{"its tenant", payment(incomingpayment.StateCompleted, ended), owner, ""},
		{"another tenant", payment(incomingpayment.StateCompleted, ended), other, apperr.NotFound},
		{"pending", payment(incomingpayment.StatePending, uuid.Nil), operator, apperr.NotFound},
		{"processing", payment(incomingpayment.StateProcessing, uuid.Nil), operator, apperr.NotFound},
		{"expired without money, deleted", deleted, operator, apperr.NotFound},
		{"never created", endedPayment{}, operator, apperr.NotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decideIncomingPaymentWithdrawal(c.p, c.actor)
			if kindOf(err) != c.kind {
				t.Fatalf("error %v, want kind %q", err, c.kind)
			}
			if c.kind == "" && got != ended {
				t.Fatalf("transfer %s, want the ending event's id %s", got, ended)
			}
		})
	}
}

// evolveEnded keeps the id of the event that ended the payment; the
// liquidity events on the payment's stream change nothing.
func TestEvolveEnded(t *testing.T) {
	opened := &events.IncomingPaymentCreated{WalletAddressID: uuid.NewString(), AssetID: uuid.NewString(), AssetCode: "USD",
		ExpiresAt: t0.Add(time.Hour), InitiatedBy: events.InitiatedByAdmin}
	cases := []struct {
		name    string
		evs     []events.Event
		endedAt int // index of the ending event, -1 for none
		state   string
	}{
		{"open", []events.Event{opened}, -1, incomingpayment.StatePending},
		{"completed", []events.Event{opened, &events.IncomingPaymentCompleted{}}, 1, incomingpayment.StateCompleted},
		{"expired", []events.Event{opened, &events.IncomingPaymentExpired{}}, 1, incomingpayment.StateExpired},
		{"completed, then withdrawn", []events.Event{opened, &events.IncomingPaymentCompleted{}, withdrawal, created}, 1, incomingpayment.StateCompleted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p endedPayment
			ids := make([]uuid.UUID, len(c.evs))
			for i, ev := range c.evs {
				ids[i] = uuid.New()
				p = evolveEnded(p, events.Envelope{ID: ids[i], Type: ev.EventType(), Time: t0.Add(time.Duration(i) * time.Second)}, ev)
			}
			want := uuid.Nil
			if c.endedAt >= 0 {
				want = ids[c.endedAt]
			}
			if p.endedBy != want || p.State.State != c.state {
				t.Fatalf("ended by %s in %s, want %s in %s", p.endedBy, p.State.State, want, c.state)
			}
		})
	}
}

// An outgoing payment's money is withdrawn once it completed or failed,
// under the id of the event that ended it.
func TestDecideOutgoingPaymentWithdrawal(t *testing.T) {
	const tenant, stranger = "5d0c0a4e-8a2b-4d47-9a51-3b6f0f1c2d01", "5d0c0a4e-8a2b-4d47-9a51-3b6f0f1c2d02"
	created := &events.OutgoingPaymentCreated{AssetID: uuid.NewString(), DebitAmount: 10, InitiatedBy: events.InitiatedByAdmin}
	fold := func(evs ...events.Event) (finishedPayment, []uuid.UUID) {
		var p finishedPayment
		ids := make([]uuid.UUID, len(evs))
		for i, ev := range evs {
			ids[i] = uuid.New()
			p = evolveFinished(p, events.Envelope{ID: ids[i], TenantID: tenant, AggregateID: uuid.NewString(), Type: ev.EventType()}, ev)
		}
		return p, ids
	}
	operator, owner, other := commands.Actor{Operator: true}, commands.Actor{TenantID: tenant}, commands.Actor{TenantID: stranger}
	for _, c := range []struct {
		name    string
		evs     []events.Event
		actor   commands.Actor
		endedAt int // index of the ending event; -1: refused
	}{
		{"completed", []events.Event{created, &events.OutgoingPaymentFunded{}, &events.OutgoingPaymentCompleted{}}, operator, 2},
		{"failed", []events.Event{created, &events.OutgoingPaymentFunded{}, &events.OutgoingPaymentFailed{}}, owner, 2},
		{"completed, then withdrawn", []events.Event{created, &events.OutgoingPaymentFunded{}, &events.OutgoingPaymentCompleted{},
			&events.LiquidityWithdrawalRequested{}}, operator, 2},
		{"another tenant's", []events.Event{created, &events.OutgoingPaymentFunded{}, &events.OutgoingPaymentCompleted{}}, other, -1},
		{"sending", []events.Event{created, &events.OutgoingPaymentFunded{}}, operator, -1},
		{"cancelled", []events.Event{created, &events.OutgoingPaymentCancelled{}}, operator, -1},
		{"never created", nil, operator, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, ids := fold(c.evs...)
			got, err := decideOutgoingPaymentWithdrawal(p, c.actor)
			if c.endedAt < 0 {
				if kindOf(err) != apperr.NotFound {
					t.Fatalf("got %s, %v; want it refused", got, err)
				}
				return
			}
			if err != nil || got != ids[c.endedAt] {
				t.Fatalf("transfer %s (%v), want the ending event's id %s", got, err, ids[c.endedAt])
			}
		})
	}
}
