package outgoingpayment

import (
	"math"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/valid"
)

// spend is what one payment took of its grant.
type spend struct {
	debit, receive uint64
	// period is the start of the interval it was counted in; zero when
	// the limits do not repeat.
	period time.Time
}

// GrantState is what the payments of one grant took of its limits, so
// far. A payment takes its quoted amounts when it is made, and gives back
// what it did not send when it fails or is cancelled.
type GrantState struct {
	spends map[string]spend
}

// EvolveGrant applies one event to a grant's spending.
func EvolveGrant(s GrantState, _ events.Envelope, ev events.Event) GrantState {
	switch e := ev.(type) {
	case *events.OutgoingPaymentGrantSpent:
		if s.spends == nil {
			s.spends = map[string]spend{}
		}
		var period time.Time
		if e.IntervalStart != nil {
			period = *e.IntervalStart
		}
		s.spends[e.OutgoingPaymentID] = spend{debit: e.DebitAmount, receive: e.ReceiveAmount, period: period}
	case *events.OutgoingPaymentGrantReleased:
		sp, ok := s.spends[e.OutgoingPaymentID]
		if !ok {
			return s
		}
		sp.debit -= min(sp.debit, e.DebitAmount)
		sp.receive -= min(sp.receive, e.ReceiveAmount)
		s.spends[e.OutgoingPaymentID] = sp
	}
	return s
}

// spent is what the grant's payments took in the period starting at
// period (all of them when period is zero).
func (s GrantState) spent(period time.Time) (debit, receive uint64) {
	for _, sp := range s.spends {
		if sp.period.Equal(period) {
			debit += sp.debit
			receive += sp.receive
		}
	}
	return debit, receive
}

// took is what a payment took of the grant, and whether it took anything.
func (s GrantState) took(paymentID string) (spend, bool) {
	sp, ok := s.spends[paymentID]
	return sp, ok
}

func errInsufficientGrant() error { return apperr.E(apperr.Forbidden, "unauthorized") }
func errOnlyOneGrantAmount() error {
	return apperr.E(apperr.InvalidInput, "only one of receiveAmount or debitAmount allowed")
}

// decideGrantSpend checks a payment against its grant's limits, as Rafiki
// does: the receiver the grant names, the assets of its amounts, the
// interval holding now, and what the grant's payments took in it; and
// answers what the payment takes of the grant. A grant without amount
// limits records nothing.
func decideGrantSpend(g GrantState, limits commands.OutgoingPaymentGrant, p events.OutgoingPaymentCreated, paymentID string,
	now time.Time) (*events.OutgoingPaymentGrantSpent, error) {
	if limits.DebitAmount != nil && limits.ReceiveAmount != nil {
		return nil, errOnlyOneGrantAmount()
	}
	if limits.Receiver != "" && limits.Receiver != p.Receiver {
		return nil, errInsufficientGrant()
	}
	if d := limits.DebitAmount; d != nil && (d.AssetCode != p.AssetCode || d.AssetScale != p.AssetScale) {
		return nil, errInsufficientGrant()
	}
	if r := limits.ReceiveAmount; r != nil && (r.AssetCode != p.ReceiveAssetCode || r.AssetScale != p.ReceiveAssetScale) {
		return nil, errInsufficientGrant()
	}
	spent := &events.OutgoingPaymentGrantSpent{OutgoingPaymentID: paymentID, DebitAmount: p.DebitAmount, ReceiveAmount: p.ReceiveAmount}
	var period time.Time
	if limits.Interval != "" {
		iv, err := valid.ParseInterval(limits.Interval)
		if err != nil {
			return nil, apperr.E(apperr.Internal, "invalid interval")
		}
		start, end, ok := iv.Period(now)
		if !ok {
			return nil, errInsufficientGrant()
		}
		period = start
		spent.IntervalStart, spent.IntervalEnd = &start, &end
	}
	if limits.DebitAmount == nil && limits.ReceiveAmount == nil {
		return nil, nil
	}
	debit, receive := g.spent(period)
	// What a grant's payments took is stated as a 64-bit amount (Open
	// Payments' spent amounts, the grant's read model): a payment that
	// would take the total past it is refused, not wrapped around.
	if debit > math.MaxUint64-p.DebitAmount || receive > math.MaxUint64-p.ReceiveAmount {
		return nil, errInsufficientGrant()
	}
	if d := limits.DebitAmount; d != nil && (p.DebitAmount > d.Value || debit > d.Value-p.DebitAmount) {
		return nil, errInsufficientGrant()
	}
	if r := limits.ReceiveAmount; r != nil && (p.ReceiveAmount > r.Value || receive > r.Value-p.ReceiveAmount) {
		return nil, errInsufficientGrant()
	}
	return spent, nil
}
