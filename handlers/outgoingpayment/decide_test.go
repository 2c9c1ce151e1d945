package outgoingpayment

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
)

const (
	tenantID  = "00000000-0000-4000-8000-000000000002"
	receiver  = "https://op.example/t/incoming-payments/00000000-0000-4000-8000-0000000000aa"
	paymentID = "00000000-0000-4000-8000-0000000000bb"
)

var (
	now      = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	owner    = commands.Actor{TenantID: tenantID}
	stranger = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000003"}
	wa       = walletaddress.State{Exists: true, ID: "wa-1", TenantID: tenantID, AssetID: "asset-usd"}
	inactive = func() walletaddress.State { w := wa; w.DeactivatedAt = &now; return w }()
	usd      = asset.State{Exists: true, ID: "asset-usd", TenantID: tenantID, Code: "USD", Scale: 2, Ledger: 7}
	q        = quote.State{Exists: true, ID: paymentID, TenantID: tenantID, QuoteCreated: events.QuoteCreated{
		WalletAddressID: "wa-1", AssetID: "asset-usd", AssetCode: "USD", AssetScale: 2, Receiver: receiver,
		DebitAmount: 510, DebitAmountMinusFees: 500, ReceiveAmount: 450, ReceiveAssetCode: "EUR", ReceiveAssetScale: 2,
		EstimatedExchangeRate: 0.9, Method: events.QuoteLocal, ExpiresAt: now.Add(time.Minute)}}
)

func TestDecideCreate(t *testing.T) {
	created := &events.OutgoingPaymentCreated{WalletAddressID: "wa-1", AssetID: "asset-usd", AssetCode: "USD", AssetScale: 2,
		AssetLedger: 7, Receiver: receiver, DebitAmount: 510, DebitAmountMinusFees: 500, ReceiveAmount: 450, ReceiveAssetCode: "EUR",
		ReceiveAssetScale: 2, Method: events.QuoteLocal, EstimatedExchangeRate: 0.9, QuoteExpiresAt: now.Add(time.Minute),
		InitiatedBy: events.InitiatedByAdmin}
	other := func(f func(*quote.State)) quote.State { c := q; f(&c); return c }
	for _, tc := range []struct {
		name    string
		wa      walletaddress.State
		q       quote.State
		active  bool
		actor   commands.Actor
		want    *events.OutgoingPaymentCreated
		kind    apperr.Kind
		message string
	}{
		{"a quote paid", wa, q, true, owner, created, "", ""},
		{"by the operator", wa, q, true, commands.Actor{Operator: true}, created, "", ""},
		{"an unknown wallet address", walletaddress.State{}, q, true, owner, nil, apperr.NotFound, "unknown wallet address"},
		{"another tenant's wallet address", wa, q, true, stranger, nil, apperr.NotFound, "unknown wallet address"},
		{"an unknown quote", wa, quote.State{}, true, owner, nil, apperr.NotFound, "unknown quote"},
		{"another tenant's quote", wa, other(func(s *quote.State) { s.TenantID = stranger.TenantID }), true, owner, nil, apperr.NotFound, "unknown quote"},
		{"another wallet address's quote", wa, other(func(s *quote.State) { s.WalletAddressID = "wa-2" }), true, owner, nil, apperr.InvalidInput, "invalid quote"},
		{"an expired quote", wa, other(func(s *quote.State) { s.ExpiresAt = now }), true, owner, nil, apperr.InvalidInput, "invalid quote"},
		{"an inactive wallet address", inactive, q, true, owner, nil, apperr.Inactive, "inactive wallet address"},
		{"a receiver that cannot be paid", wa, q, false, owner, nil, apperr.InvalidInput, "invalid receiver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := commands.CreateOutgoingPayment{Meta: commands.Meta{Actor: tc.actor}, WalletAddressID: "wa-1", QuoteID: paymentID,
				InitiatedBy: events.InitiatedByAdmin}
			got, err := decideCreate(tc.wa, usd, tc.q, tc.active, c, now)
			if tc.kind != "" {
				if apperr.KindOf(err) != tc.kind || apperr.Message(err) != tc.message {
					t.Fatalf("got %v (%s), want %s %q", err, apperr.KindOf(err), tc.kind, tc.message)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func amount(v uint64, code string) *commands.Amount {
	return &commands.Amount{Value: v, AssetCode: code, AssetScale: 2}
}

func TestDecideGrantSpend(t *testing.T) {
	p := events.OutgoingPaymentCreated{Receiver: receiver, AssetCode: "USD", AssetScale: 2, DebitAmount: 510,
		ReceiveAmount: 450, ReceiveAssetCode: "EUR", ReceiveAssetScale: 2}
	spentBefore := func(debit, receive uint64, period *time.Time) GrantState {
		return EvolveGrant(GrantState{}, events.Envelope{}, &events.OutgoingPaymentGrantSpent{OutgoingPaymentID: "earlier",
			DebitAmount: debit, ReceiveAmount: receive, IntervalStart: period})
	}
	monthStart := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	monthEnd := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	lastMonth := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		g       GrantState
		limits  commands.OutgoingPaymentGrant
		want    *events.OutgoingPaymentGrantSpent
		refused apperr.Kind
	}{
		{"no limits", GrantState{}, commands.OutgoingPaymentGrant{ID: "g"}, nil, ""},
		{"the receiver named", GrantState{}, commands.OutgoingPaymentGrant{Receiver: receiver}, nil, ""},
		{"another receiver", GrantState{}, commands.OutgoingPaymentGrant{Receiver: receiver + "x"}, nil, apperr.Forbidden},
		{"within the debit limit", spentBefore(490, 400, nil), commands.OutgoingPaymentGrant{DebitAmount: amount(1000, "USD")},
			&events.OutgoingPaymentGrantSpent{OutgoingPaymentID: paymentID, DebitAmount: 510, ReceiveAmount: 450}, ""},
		{"past the debit limit", spentBefore(491, 400, nil), commands.OutgoingPaymentGrant{DebitAmount: amount(1000, "USD")}, nil, apperr.Forbidden},
		{"alone past the debit limit", GrantState{}, commands.OutgoingPaymentGrant{DebitAmount: amount(509, "USD")}, nil, apperr.Forbidden},
		{"a debit limit in another asset", GrantState{}, commands.OutgoingPaymentGrant{DebitAmount: amount(1000, "EUR")}, nil, apperr.Forbidden},
		{"within the receive limit", spentBefore(0, 550, nil), commands.OutgoingPaymentGrant{ReceiveAmount: amount(1000, "EUR")},
			&events.OutgoingPaymentGrantSpent{OutgoingPaymentID: paymentID, DebitAmount: 510, ReceiveAmount: 450}, ""},
		{"past the receive limit", spentBefore(0, 551, nil), commands.OutgoingPaymentGrant{ReceiveAmount: amount(1000, "EUR")}, nil, apperr.Forbidden},
		{"a receive limit in another asset", GrantState{}, commands.OutgoingPaymentGrant{ReceiveAmount: amount(1000, "USD")}, nil, apperr.Forbidden},
		{"both amounts", GrantState{}, commands.OutgoingPaymentGrant{DebitAmount: amount(1000, "USD"), ReceiveAmount: amount(1000, "EUR")}, nil, apperr.InvalidInput},
		{"spent in the interval", spentBefore(491, 0, &monthStart),
			commands.OutgoingPaymentGrant{DebitAmount: amount(1000, "USD"), Interval: "R/2025-01-01T00:00:00Z/P1M"}, nil, apperr.Forbidden},
		{"spent in the last interval", spentBefore(1000, 0, &lastMonth),
			commands.OutgoingPaymentGrant{DebitAmount: amount(1000, "USD"), Interval: "R/2025-01-01T00:00:00Z/P1M"},
			&events.OutgoingPaymentGrantSpent{OutgoingPaymentID: paymentID, DebitAmount: 510, ReceiveAmount: 450,
				IntervalStart: &monthStart, IntervalEnd: &monthEnd}, ""},
		{"an interval not begun", GrantState{}, commands.OutgoingPaymentGrant{DebitAmount: amount(1000, "USD"), Interval: "R/2027-01-01T00:00:00Z/P1M"}, nil, apperr.Forbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decideGrantSpend(tc.g, tc.limits, p, paymentID, now)
			if tc.refused != "" {
				if apperr.KindOf(err) != tc.refused {
					t.Fatalf("got %v, want %s", err, tc.refused)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func TestGrantReleases(t *testing.T) {
	g := EvolveGrant(GrantState{}, events.Envelope{}, &events.OutgoingPaymentGrantSpent{OutgoingPaymentID: paymentID, DebitAmount: 510, ReceiveAmount: 450})
	took, _ := g.took(paymentID)
	for _, tc := range []struct {
		name string
		end  events.Event
		want *events.OutgoingPaymentGrantReleased
	}{
		{"completed, all delivered", &events.OutgoingPaymentCompleted{Sent: 500, Delivered: 450}, nil},
		{"completed, less delivered", &events.OutgoingPaymentCompleted{Sent: 500, Delivered: 440}, &events.OutgoingPaymentGrantReleased{ReceiveAmount: 10}},
		{"failed after some", &events.OutgoingPaymentFailed{Sent: 200, Delivered: 180}, &events.OutgoingPaymentGrantReleased{DebitAmount: 310, ReceiveAmount: 270}},
		{"cancelled", &events.OutgoingPaymentCancelled{}, &events.OutgoingPaymentGrantReleased{DebitAmount: 510, ReceiveAmount: 450}},
	} {
		if got := decideRelease(took, tc.end); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
	g = EvolveGrant(g, events.Envelope{}, &events.OutgoingPaymentGrantReleased{OutgoingPaymentID: paymentID, DebitAmount: 310, ReceiveAmount: 270})
	if debit, receive := g.spent(time.Time{}); debit != 200 || receive != 180 {
		t.Fatalf("spent after a release: %d, %d", debit, receive)
	}
}

func TestDecideStep(t *testing.T) {
	sending := State{Exists: true, ID: paymentID, TenantID: tenantID, State: Sending, OutgoingPaymentCreated: events.OutgoingPaymentCreated{
		DebitAmount: 510, DebitAmountMinusFees: 500, ReceiveAmount: 450, EstimatedExchangeRate: 0.9, QuoteExpiresAt: now.Add(time.Minute)}}
	retried := sending
	retried.Sent, retried.Delivered, retried.StateAttempts = 100, 90, 1
	open := quote.Receiver{URL: receiver, Active: true}
	expecting := func(incoming, received uint64) quote.Receiver {
		r := open
		r.IncomingAmount, r.ReceivedAmount = &incoming, received
		return r
	}
	expired := sending
	expired.QuoteExpiresAt = now
	for _, tc := range []struct {
		name  string
		s     State
		sent  uint64
		r     quote.Receiver
		found bool
		want  step
	}{
		{"first attempt", sending, 0, open, true, step{source: 500, delivery: 450}},
		{"after a recorded attempt", retried, 100, open, true, step{source: 400, delivery: 360, delivered: 90}},
		{"after an unrecorded attempt", retried, 200, open, true, step{source: 300, delivery: 270, delivered: 180}},
		// At the quoted rate (450 for 500), not all the debit for less.
		{"the receiver expects less", sending, 0, expecting(1000, 800), true, step{source: 223, delivery: 200}},
		{"the receiver expects one unit", retried, 100, expecting(1000, 999), true, step{source: 2, delivery: 1, delivered: 90}},
		{"the receiver's asset changed", sending, 0, quote.Receiver{URL: receiver, Active: true, AssetCode: "EUR", AssetScale: 2}, true,
			step{fail: "DestinationAssetConflict"}},
		{"the receiver got it all", sending, 0, expecting(1000, 1000), true, step{complete: true}},
		{"the receiver finished", sending, 0, quote.Receiver{}, true, step{complete: true}},
		{"the receiver gone", retried, 100, quote.Receiver{}, false, step{complete: true, delivered: 90}},
		{"everything sent", retried, 500, open, true, step{complete: true, delivered: 450}},
		{"the quote expired", expired, 0, open, true, step{fail: "QuoteExpired"}},
	} {
		if got := decideStep(tc.s, tc.sent, tc.r, tc.found, now); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestDecideFailure(t *testing.T) {
	declined := func(data string) error {
		return &Declined{Reason: []byte(data), Err: fmt.Errorf("connect: the receiver closed the connection: NoError %q", data)}
	}
	closed := errors.New("connect: the receiver closed the connection: NoError \"\"")
	for _, tc := range []struct {
		name     string
		err      error
		attempts int
		why      string
		final    bool
	}{
		{"a temporary failure", errors.New("T04"), 1, "T04", false},
		{"the last attempt", errors.New("T04"), 3, "T04", true},
		{"an error no retry mends", fmt.Errorf("%w: no such incoming payment", ErrFinal), 1, "payment cannot succeed: no such incoming payment", true},
		{"the receiver closed", closed, 1, closed.Error(), false},
		{"the receiver declined with a reason", declined(" KYC check failed\n"), 1, "KYC check failed", true},
		{"a reason not UTF-8", declined("bad \xff"), 1, "bad \uFFFD", true},
		{"the receiver declined with blanks", declined(" \t"), 1, declined(" \t").Error(), true},
		// What a peer or receiver says becomes the payment's error: NUL, which
		// Postgres refuses in text and JSON (the payment would stay SENDING in
		// the read models, with no webhook), and the other control characters
		// do not pass, and its length is bounded.
		{"a reason with NUL", declined("no\x00way"), 1, "no\uFFFDway", true},
		{"a reason with control characters", declined("a\x1b[31mb\r\nc\td\x7f"), 1, "a\uFFFD[31mb  c d\uFFFD", true},
		{"a reject code with NUL", errors.New("stream sender: F\x00\x00 reject"), 1, "stream sender: F\uFFFD\uFFFD reject", false},
		{"a long reason", declined(strings.Repeat("é", 3000)), 1, strings.Repeat("é", errorBytesMax/2), true},
	} {
		why, final := decideFailure(tc.err, tc.attempts, 3)
		if why != tc.why || final != tc.final {
			t.Errorf("%s: got %q %v, want %q %v", tc.name, why, final, tc.why, tc.final)
		}
	}
}

func TestDecideFundAndCancel(t *testing.T) {
	funding := State{Exists: true, ID: paymentID, TenantID: tenantID, State: Funding,
		OutgoingPaymentCreated: events.OutgoingPaymentCreated{DebitAmount: 510}}
	sending := funding
	sending.State = Sending
	fund := func(actor commands.Actor, data string) commands.FundOutgoingPayment {
		return commands.FundOutgoingPayment{Meta: commands.Meta{Actor: actor}, OutgoingPaymentID: paymentID, DataToTransmit: data}
	}
	if evs, err := decideFund(funding, fund(owner, ""), math.MaxUint64); err != nil || !reflect.DeepEqual(evs, []events.Event{&events.OutgoingPaymentFunded{Amount: 510}}) {
		t.Fatalf("fund: %v %v", evs, err)
	}
	most := strings.Repeat("d", DataToTransmitBytesMax)
	if evs, err := decideFund(funding, fund(owner, most), math.MaxUint64); err != nil ||
		!reflect.DeepEqual(evs, []events.Event{&events.OutgoingPaymentFunded{Amount: 510, DataToTransmit: most}}) {
		t.Fatalf("fund with data: %v", err)
	}
	if _, err := decideFund(funding, fund(owner, most+"d"), math.MaxUint64); apperr.KindOf(err) != apperr.InvalidInput {
		t.Fatalf("fund with more data than a packet holds: %v", err)
	}
	if _, err := decideFund(sending, fund(owner, ""), math.MaxUint64); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("fund a payment sending: %v", err)
	}
	if _, err := decideFund(funding, fund(stranger, ""), math.MaxUint64); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("fund another tenant's: %v", err)
	}
	if _, err := decideFund(funding, fund(owner, ""), 510); err != nil {
		t.Fatalf("fund as much as the ledger moves: %v", err)
	}
	if _, err := decideFund(funding, fund(owner, ""), 509); apperr.KindOf(err) != apperr.InvalidInput {
		t.Fatalf("fund more than the ledger moves: %v, want invalid input", err)
	}
	reason := "no funds"
	c := commands.CancelOutgoingPayment{Meta: commands.Meta{Actor: owner}, Reason: &reason}
	if evs, err := decideCancel(funding, c); err != nil || !reflect.DeepEqual(evs, []events.Event{&events.OutgoingPaymentCancelled{Reason: &reason}}) {
		t.Fatalf("cancel: %v %v", evs, err)
	}
	if _, err := decideCancel(sending, c); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("cancel a payment sending: %v", err)
	}
}
