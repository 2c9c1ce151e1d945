package incomingpayment

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
)

const (
	tenantID        = "00000000-0000-4000-8000-000000000002"
	assetID         = "00000000-0000-4000-8000-0000000000a1"
	walletAddressID = "00000000-0000-4000-8000-0000000000c1"
	paymentIDValue  = "00000000-0000-4000-8000-0000000000d1"
	expiryMax       = 30 * 24 * time.Hour
)

var (
	now      = time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	owner    = commands.Actor{TenantID: tenantID}
	stranger = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000003"}
	operator = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000001", Operator: true}

	usd      = asset.State{Exists: true, ID: assetID, TenantID: tenantID, Code: "USD", Scale: 2}
	liveWA   = walletaddress.State{Exists: true, ID: walletAddressID, TenantID: tenantID, AssetID: assetID}
	inactive = func() walletaddress.State { w := liveWA; w.DeactivatedAt = &now; return w }()

	pending = State{Exists: true, ID: paymentIDValue, TenantID: tenantID, WalletAddressID: walletAddressID, AssetID: assetID,
		AssetCode: "USD", AssetScale: 2, IncomingAmount: u64(100), ExpiresAt: now.Add(time.Hour), InitiatedBy: events.InitiatedByAdmin,
		State: StatePending, Metadata: json.RawMessage(`{"a":1}`)}
)

func u64(v uint64) *uint64 { return &v }
func str(v string) *string { return &v }

func with(s State, mod func(*State)) State { mod(&s); return s }

var (
	approved   = with(pending, func(s *State) { s.ApprovedAt = &now })
	cancelled  = with(pending, func(s *State) { s.CancelledAt = &now })
	processing = with(pending, func(s *State) { s.State, s.Received = StateProcessing, 40 })
	completed  = with(processing, func(s *State) { s.State = StateCompleted })
	expired    = with(processing, func(s *State) { s.State = StateExpired })
	deleted    = with(pending, func(s *State) { s.State, s.DeletedAt = StateExpired, &now })
	noAmount   = with(pending, func(s *State) { s.IncomingAmount = nil })
)

func meta(a commands.Actor) commands.Meta { return commands.Meta{ID: "cmd", Actor: a} }

// want compares a decision with the events or the error expected; an
// expected error is its kind and message.
func want(t *testing.T, got []events.Event, err error, wantEvents []events.Event, wantKind apperr.Kind, wantMessage string) {
	t.Helper()
	if wantKind != "" {
		if apperr.KindOf(err) != wantKind || err.Error() != wantMessage {
			t.Fatalf("got %v %v, want %s %q", got, err, wantKind, wantMessage)
		}
		return
	}
	if err != nil {
		t.Fatalf("got %v", err)
	}
	if !reflect.DeepEqual(got, wantEvents) {
		t.Fatalf("got %#v, want %#v", got, wantEvents)
	}
}

func TestDecideCreate(t *testing.T) {
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	amount := func(v uint64, code string, scale uint8) *commands.Amount {
		return &commands.Amount{Value: v, AssetCode: code, AssetScale: scale}
	}
	created := func(mod func(*events.IncomingPaymentCreated)) []events.Event {
		e := &events.IncomingPaymentCreated{WalletAddressID: walletAddressID, AssetID: assetID, AssetCode: "USD", AssetScale: 2,
			ExpiresAt: now.Add(expiryMax).Truncate(time.Millisecond), InitiatedBy: events.InitiatedByAdmin}
		if mod != nil {
			mod(e)
		}
		return []events.Event{e}
	}
	for _, tc := range []struct {
		name   string
		wa     walletaddress.State
		mod    func(*commands.CreateIncomingPayment)
		events []events.Event
		kind   apperr.Kind
		msg    string
	}{
		{name: "defaults", wa: liveWA, events: created(nil)},
		{name: "everything", wa: liveWA, mod: func(c *commands.CreateIncomingPayment) {
			c.ExpiresAt, c.IncomingAmount, c.Metadata = at(time.Hour), amount(5, "USD", 2), json.RawMessage(`{"x":"y"}`)
			c.Client, c.InitiatedBy, c.SenderWalletAddress = "https://client.example", events.InitiatedByOpenPayments, str("https://s.example/a")
		}, events: created(func(e *events.IncomingPaymentCreated) {
			e.ExpiresAt, e.IncomingAmount, e.Metadata = now.Add(time.Hour).Truncate(time.Millisecond), u64(5), json.RawMessage(`{"x":"y"}`)
			e.Client, e.InitiatedBy, e.SenderWalletAddress = "https://client.example", events.InitiatedByOpenPayments, str("https://s.example/a")
		})},
		{name: "operator for a tenant", wa: liveWA, mod: func(c *commands.CreateIncomingPayment) { c.Actor = operator }, events: created(nil)},
		{name: "expiry at the maximum", wa: liveWA, mod: func(c *commands.CreateIncomingPayment) { c.ExpiresAt = at(expiryMax) }, events: created(nil)},
		{name: "expiry past the maximum", wa: liveWA, mod: func(c *commands.CreateIncomingPayment) { c.ExpiresAt = at(expiryMax + time.Millisecond) },
			kind: apperr.InvalidInput, msg: "invalid expiresAt"},
		{name: "expiry now", wa: liveWA, mod: func(c *commands.CreateIncomingPayment) { c.ExpiresAt = at(0) },
			kind: apperr.InvalidInput, msg: "invalid expiresAt"},
		{name: "expiry past", wa: liveWA, mod: func(c *commands.CreateIncomingPayment) { c.ExpiresAt = at(-time.Hour) },
			kind: apperr.InvalidInput, msg: "invalid expiresAt"},
		{name: "expiry checked before the wallet address", mod: func(c *commands.CreateIncomingPayment) { c.ExpiresAt = at(-time.Hour) },
			kind: apperr.InvalidInput, msg: "invalid expiresAt"},
		{name: "zero amount", mod: func(c *commands.CreateIncomingPayment) { c.IncomingAmount = amount(0, "USD", 2) },
			kind: apperr.InvalidInput, msg: "invalid amount"},
		{name: "other asset code", wa: liveWA, mod: func(c *commands.CreateIncomingPayment) { c.IncomingAmount = amount(1, "EUR", 2) },
			kind: apperr.InvalidInput, msg: "invalid amount"},
		{name: "other asset scale", wa: liveWA, mod: func(c *commands.CreateIncomingPayment) { c.IncomingAmount = amount(1, "USD", 3) },
			kind: apperr.InvalidInput, msg: "invalid amount"},
		{name: "no wallet address", kind: apperr.NotFound, msg: "unknown wallet address"},
		{name: "another tenant's wallet address", wa: liveWA, mod: func(c *commands.CreateIncomingPayment) { c.Actor = stranger },
			kind: apperr.NotFound, msg: "unknown wallet address"},
		{name: "inactive wallet address", wa: inactive, kind: apperr.Inactive, msg: "inactive wallet address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := commands.CreateIncomingPayment{Meta: meta(owner), WalletAddressID: walletAddressID, InitiatedBy: events.InitiatedByAdmin}
			if tc.mod != nil {
				tc.mod(&c)
			}
			got, err := decideCreate(tc.wa, usd, c, now, expiryMax)
			want(t, got, err, tc.events, tc.kind, tc.msg)
			if err == nil {
				if err := checkTransitions(State{}, got); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	if _, err := decideCreate(liveWA, asset.State{}, commands.CreateIncomingPayment{Meta: meta(owner), InitiatedBy: events.InitiatedByAdmin}, now, expiryMax); err == nil || apperr.KindOf(err) != apperr.Internal {
		t.Fatalf("a wallet address without its asset: %v", err)
	}
}

func TestDecideChanges(t *testing.T) {
	later := now.Add(2 * time.Hour)
	type decision func(State) ([]events.Event, error)
	update := func(a commands.Actor, m string) decision {
		return func(s State) ([]events.Event, error) {
			return decideUpdate(s, commands.UpdateIncomingPayment{Meta: meta(a), Metadata: json.RawMessage(m)})
		}
	}
	approve := func(a commands.Actor) decision {
		return func(s State) ([]events.Event, error) {
			return decideApprove(s, commands.ApproveIncomingPayment{Meta: meta(a)})
		}
	}
	cancel := func(a commands.Actor, reason *string) decision {
		return func(s State) ([]events.Event, error) {
			return decideCancel(s, commands.CancelIncomingPayment{Meta: meta(a), Reason: reason})
		}
	}
	complete := func(a commands.Actor, total uint64) decision {
		return func(s State) ([]events.Event, error) {
			return decideComplete(s, commands.CompleteIncomingPayment{Meta: meta(a)}, total)
		}
	}
	receive := func(total uint64) decision {
		return func(s State) ([]events.Event, error) { return decideReceive(s, total) }
	}
	expire := func(total uint64, at time.Time) decision {
		return func(s State) ([]events.Event, error) { return decideExpire(s, total, at) }
	}
	evs := func(e ...events.Event) []events.Event { return e }
	for _, tc := range []struct {
		name   string
		state  State
		decide decision
		events []events.Event
		kind   apperr.Kind
		msg    string
	}{
		{"update", pending, update(owner, `{"b":2}`), evs(&events.IncomingPaymentUpdated{Metadata: json.RawMessage(`{"b":2}`)}), "", ""},
		{"update completed", completed, update(owner, `{"b":2}`), evs(&events.IncomingPaymentUpdated{Metadata: json.RawMessage(`{"b":2}`)}), "", ""},
		{"update same", pending, update(owner, `{"a":1}`), nil, "", ""},
		{"update by operator", pending, update(operator, `{}`), evs(&events.IncomingPaymentUpdated{Metadata: json.RawMessage(`{}`)}), "", ""},
		{"update by stranger", pending, update(stranger, `{}`), nil, apperr.NotFound, "unknown payment"},
		{"update unknown", State{}, update(owner, `{}`), nil, apperr.NotFound, "unknown payment"},
		{"update deleted", deleted, update(owner, `{}`), nil, apperr.NotFound, "unknown payment"},

		{"approve", pending, approve(owner), evs(&events.IncomingPaymentApproved{}), "", ""},
		{"approve again", approved, approve(owner), nil, "", ""},
		{"approve cancelled", cancelled, approve(owner), nil, apperr.Forbidden, "action already performed"},
		{"approve processing", processing, approve(owner), nil, apperr.Conflict, "wrong state"},
		{"approve completed", completed, approve(owner), nil, apperr.Conflict, "wrong state"},
		{"approve expired", expired, approve(owner), nil, apperr.Conflict, "wrong state"},
		{"approve by stranger", pending, approve(stranger), nil, apperr.NotFound, "unknown payment"},
		{"approve deleted", deleted, approve(owner), nil, apperr.NotFound, "unknown payment"},

		{"cancel", pending, cancel(owner, str("no")), evs(&events.IncomingPaymentCancelled{Reason: str("no")}), "", ""},
		{"cancel without reason", pending, cancel(operator, nil), evs(&events.IncomingPaymentCancelled{}), "", ""},
		{"cancel again", cancelled, cancel(owner, str("again")), nil, "", ""},
		{"cancel approved", approved, cancel(owner, nil), nil, apperr.Forbidden, "action already performed"},
		{"cancel processing", processing, cancel(owner, nil), nil, apperr.Conflict, "wrong state"},
		{"cancel completed", completed, cancel(owner, nil), nil, apperr.Conflict, "wrong state"},
		{"cancel by stranger", pending, cancel(stranger, nil), nil, apperr.NotFound, "unknown payment"},
		{"cancel unknown", State{}, cancel(owner, nil), nil, apperr.NotFound, "unknown payment"},

		{"complete pending", pending, complete(owner, 0), evs(&events.IncomingPaymentCompleted{}), "", ""},
		{"complete processing", processing, complete(owner, 40), evs(&events.IncomingPaymentCompleted{}), "", ""},
		{"complete with money not recorded", processing, complete(owner, 70),
			evs(&events.IncomingPaymentReceived{Amount: 30, Total: 70}, &events.IncomingPaymentCompleted{}), "", ""},
		{"complete with its amount not recorded", processing, complete(owner, 100),
			evs(&events.IncomingPaymentReceived{Amount: 60, Total: 100}, &events.IncomingPaymentCompleted{}), "", ""},
		{"complete completed", completed, complete(owner, 40), nil, apperr.Conflict, "wrong state"},
		{"complete expired", expired, complete(owner, 40), nil, apperr.Conflict, "wrong state"},
		{"complete deleted", deleted, complete(owner, 0), nil, apperr.NotFound, "unknown payment"},
		{"complete by stranger", pending, complete(stranger, 0), nil, apperr.NotFound, "unknown payment"},

		{"receive first", pending, receive(40), evs(&events.IncomingPaymentReceived{Amount: 40, Total: 40}), "", ""},
		{"receive more", processing, receive(50), evs(&events.IncomingPaymentReceived{Amount: 10, Total: 50}), "", ""},
		{"receive the rest", processing, receive(100), evs(&events.IncomingPaymentReceived{Amount: 60, Total: 100}, &events.IncomingPaymentCompleted{}), "", ""},
		{"receive past the amount", processing, receive(110), evs(&events.IncomingPaymentReceived{Amount: 70, Total: 110}, &events.IncomingPaymentCompleted{}), "", ""},
		{"receive without amount", noAmount, receive(1 << 40), evs(&events.IncomingPaymentReceived{Amount: 1 << 40, Total: 1 << 40}), "", ""},
		{"receive approved", approved, receive(1), evs(&events.IncomingPaymentReceived{Amount: 1, Total: 1}), "", ""},
		{"receive the most", processing, receive(math.MaxUint64),
			evs(&events.IncomingPaymentReceived{Amount: math.MaxUint64 - 40, Total: math.MaxUint64}, &events.IncomingPaymentCompleted{}), "", ""},
		{"receive what is recorded", processing, receive(40), nil, "", ""},
		{"receive less than recorded", processing, receive(39), nil, "", ""},
		{"receive nothing", pending, receive(0), nil, "", ""},
		{"receive completed", completed, receive(41), evs(&events.IncomingPaymentReceived{Amount: 1, Total: 41}), "", ""},
		{"receive expired", expired, receive(45), evs(&events.IncomingPaymentReceived{Amount: 5, Total: 45}), "", ""},
		{"receive past expiry", with(pending, func(s *State) { s.ExpiresAt = now.Add(-time.Hour) }), receive(1),
			evs(&events.IncomingPaymentReceived{Amount: 1, Total: 1}), "", ""},
		{"receive deleted", deleted, receive(1), nil, apperr.NotFound, "unknown payment"},
		{"receive unknown", State{}, receive(1), nil, apperr.NotFound, "unknown payment"},

		{"expire pending", pending, expire(0, later), evs(&events.IncomingPaymentExpired{}), "", ""},
		{"expire processing", processing, expire(40, later), evs(&events.IncomingPaymentExpired{}), "", ""},
		{"expire with money not recorded", pending, expire(30, later),
			evs(&events.IncomingPaymentReceived{Amount: 30, Total: 30}, &events.IncomingPaymentExpired{}), "", ""},
		{"expire with its amount not recorded", processing, expire(100, later),
			evs(&events.IncomingPaymentReceived{Amount: 60, Total: 100}, &events.IncomingPaymentCompleted{}), "", ""},
		{"expire early", pending, expire(0, now), nil, apperr.Conflict, "incoming payment expires at 2026-01-02T04:04:05.6789Z"},
		{"expire completed", completed, expire(40, later), nil, "", ""},
		{"expire expired", expired, expire(40, later), nil, "", ""},
		{"expire deleted", deleted, expire(0, later), nil, apperr.NotFound, "unknown payment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.decide(tc.state)
			want(t, got, err, tc.events, tc.kind, tc.msg)
			if err := checkTransitions(tc.state, got); err != nil {
				t.Fatalf("decided events break the transitions: %v", err)
			}
		})
	}
}

func TestEvolve(t *testing.T) {
	env := events.Envelope{AggregateID: paymentIDValue, TenantID: tenantID, Time: now}
	s := Evolve(State{}, env, &events.IncomingPaymentCreated{WalletAddressID: walletAddressID, AssetID: assetID, IncomingAmount: u64(10), InitiatedBy: events.InitiatedByAdmin})
	if s.State != StatePending || !s.Live() || !s.Open() {
		t.Fatalf("created %+v", s)
	}
	s = Evolve(s, env, &events.IncomingPaymentReceived{Amount: 4, Total: 4})
	if s.State != StateProcessing || s.Received != 4 {
		t.Fatalf("received %+v", s)
	}
	s = Evolve(s, env, &events.IncomingPaymentExpired{})
	if s.State != StateExpired || s.DeletedAt != nil || s.Open() {
		t.Fatalf("expired with money %+v", s)
	}
	empty := Evolve(Evolve(State{}, env, &events.IncomingPaymentCreated{InitiatedBy: events.InitiatedByAdmin}), env, &events.IncomingPaymentExpired{})
	if empty.DeletedAt == nil || empty.Live() {
		t.Fatalf("expired without money is not deleted: %+v", empty)
	}
}

// TestIllegalTransitions shows that the handler would refuse decisions
// that break the payment's transitions.
func TestIllegalTransitions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state State
		ev    events.Event
	}{
		{"created twice", pending, &events.IncomingPaymentCreated{InitiatedBy: events.InitiatedByAdmin}},
		{"created by nobody", State{}, &events.IncomingPaymentCreated{InitiatedBy: "SOMEONE"}},
		{"created for nothing", State{}, &events.IncomingPaymentCreated{InitiatedBy: events.InitiatedByAdmin, IncomingAmount: u64(0)}},
		{"updated before created", State{}, &events.IncomingPaymentUpdated{}},
		{"updated deleted", deleted, &events.IncomingPaymentUpdated{}},
		{"approved twice", approved, &events.IncomingPaymentApproved{}},
		{"approved cancelled", cancelled, &events.IncomingPaymentApproved{}},
		{"approved processing", processing, &events.IncomingPaymentApproved{}},
		{"cancelled approved", approved, &events.IncomingPaymentCancelled{}},
		{"cancelled completed", completed, &events.IncomingPaymentCancelled{}},
		{"received deleted", deleted, &events.IncomingPaymentReceived{Amount: 1, Total: 1}},
		{"received a wrong total", processing, &events.IncomingPaymentReceived{Amount: 1, Total: 1}},
		{"received nothing", processing, &events.IncomingPaymentReceived{Amount: 0, Total: 40}},
		{"received past uint64", with(processing, func(s *State) { s.Received = math.MaxUint64 }), &events.IncomingPaymentReceived{Amount: 1, Total: 0}},
		{"completed twice", completed, &events.IncomingPaymentCompleted{}},
		{"expired completed", completed, &events.IncomingPaymentExpired{}},
		{"expired twice", expired, &events.IncomingPaymentExpired{}},
		{"another aggregate's event", pending, &events.WalletAddressDeactivated{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkTransitions(tc.state, []events.Event{tc.ev}); err == nil {
				t.Fatal("allowed")
			}
		})
	}
	// Within one decision the events are checked in order.
	if err := checkTransitions(pending, []events.Event{&events.IncomingPaymentCompleted{}, &events.IncomingPaymentCompleted{}}); err == nil {
		t.Fatal("completed twice in one decision allowed")
	}
}

func TestCheckCommands(t *testing.T) {
	create := func(mod func(*commands.CreateIncomingPayment)) func() error {
		return func() error {
			c := commands.CreateIncomingPayment{WalletAddressID: strings.ToUpper(walletAddressID), InitiatedBy: events.InitiatedByAdmin}
			mod(&c)
			got, err := checkCreate(c)
			if err == nil && got.WalletAddressID != walletAddressID {
				t.Fatalf("id not canonical: %s", got.WalletAddressID)
			}
			return err
		}
	}
	for _, tc := range []struct {
		name  string
		check func() error
		ok    bool
	}{
		{"create", create(func(*commands.CreateIncomingPayment) {}), true},
		{"create wallet address *", create(func(c *commands.CreateIncomingPayment) { c.WalletAddressID = "*" }), false},
		{"create initiated by nobody", create(func(c *commands.CreateIncomingPayment) { c.InitiatedBy = "" }), false},
		{"create client with NUL", create(func(c *commands.CreateIncomingPayment) { c.Client = "a\x00" }), false},
		{"create long sender", create(func(c *commands.CreateIncomingPayment) { c.SenderWalletAddress = str(strings.Repeat("s", 256)) }), false},
		{"create asset code with a line break", create(func(c *commands.CreateIncomingPayment) {
			c.IncomingAmount = &commands.Amount{Value: 1, AssetCode: "U\nSD"}
		}), false},
		{"create metadata object", create(func(c *commands.CreateIncomingPayment) { c.Metadata = json.RawMessage(`{ "a" : [1, {"b": null}] }`) }), true},
		{"create metadata array", create(func(c *commands.CreateIncomingPayment) { c.Metadata = json.RawMessage(`[1]`) }), false},
		{"create metadata null", create(func(c *commands.CreateIncomingPayment) { c.Metadata = json.RawMessage(`null`) }), false},
		{"create metadata broken", create(func(c *commands.CreateIncomingPayment) { c.Metadata = json.RawMessage(`{"a":`) }), false},
		{"create metadata too large", create(func(c *commands.CreateIncomingPayment) {
			c.Metadata = json.RawMessage(`{"a":"` + strings.Repeat("x", metadataBytesMax) + `"}`)
		}), false},
		{"update", func() error {
			_, err := checkUpdate(commands.UpdateIncomingPayment{IncomingPaymentID: paymentIDValue, Metadata: json.RawMessage(`{}`)})
			return err
		}, true},
		{"update without metadata", func() error {
			_, err := checkUpdate(commands.UpdateIncomingPayment{IncomingPaymentID: paymentIDValue})
			return err
		}, false},
		{"update id a.b", func() error {
			_, err := checkUpdate(commands.UpdateIncomingPayment{IncomingPaymentID: "a.b", Metadata: json.RawMessage(`{}`)})
			return err
		}, false},
		{"cancel", func() error {
			_, err := checkCancel(commands.CancelIncomingPayment{IncomingPaymentID: paymentIDValue, Reason: str("r")})
			return err
		}, true},
		{"cancel reason with NUL", func() error {
			_, err := checkCancel(commands.CancelIncomingPayment{IncomingPaymentID: paymentIDValue, Reason: str("\x00")})
			return err
		}, false},
		{"cancel id >", func() error {
			_, err := checkCancel(commands.CancelIncomingPayment{IncomingPaymentID: ">"})
			return err
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check()
			if tc.ok != (err == nil) {
				t.Fatalf("got %v, want ok %t", err, tc.ok)
			}
			if err != nil && apperr.KindOf(err) != apperr.InvalidInput {
				t.Fatalf("got %v (%s), want %s", err, apperr.KindOf(err), apperr.InvalidInput)
			}
		})
	}
	for _, tc := range []struct{ in, want string }{
		{`{ "a" : 1 }`, `{"a":1}`},
		{`{"b": 1e-400, "a": "<&>", "c": 12345678901234567890123}`, `{"a":"<&>","b":0,"c":1.2345678901234568e+22}`},
		{`{"b": 1e400}`, ""},
		// Postgres's jsonb refuses a lone surrogate escape.
		{`{"a": "\ud800"}`, `{"a":"�"}`},
		{`{"a": {"\u0000": 1}}`, ""},
		{`{"a": ["x\u0000"]}`, ""},
		{`{} {}`, ""},
	} {
		got, err := CheckMetadata(json.RawMessage(tc.in), false)
		if tc.want == "" {
			if apperr.KindOf(err) != apperr.InvalidInput {
				t.Errorf("metadata %s: %q %v, want it refused", tc.in, got, err)
			}
		} else if err != nil || string(got) != tc.want {
			t.Errorf("metadata %s: %s %v, want %s", tc.in, got, err, tc.want)
		}
	}
}

// FuzzCheckMetadata feeds arbitrary bytes as metadata: they are refused as
// input, or taken as a compact JSON object within the bound that is taken
// unchanged when checked again.
func FuzzCheckMetadata(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a": [1, 2, {"b": null}]}`, `[]`, `null`, `"x"`, `{"a":`, `{"a":1}{}`, " {\"\\u0000\": 1e400} "} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := CheckMetadata(data, false)
		if err != nil {
			if apperr.KindOf(err) != apperr.InvalidInput {
				t.Fatalf("%q: %v", data, err)
			}
			return
		}
		if len(data) == 0 {
			if got != nil {
				t.Fatalf("empty metadata became %q", got)
			}
			return
		}
		var object map[string]json.RawMessage
		if len(got) > metadataBytesMax || json.Unmarshal(got, &object) != nil || object == nil {
			t.Fatalf("%q taken as %q", data, got)
		}
		again, err := CheckMetadata(got, true)
		if err != nil || string(again) != string(got) {
			t.Fatalf("%q checked again: %q %v", got, again, err)
		}
	})
}
