// Package asset handles the asset aggregate's commands: assets and their fees.
package asset

import (
	"math"
	"math/bits"
	"time"

	"github.com/rafiki-go/rafiki/events"
)

// AggregateType names assets in subjects and envelopes.
const AggregateType = "asset"

// State is an asset as its events leave it.
type State struct {
	Exists              bool
	ID                  string
	TenantID            string
	Code                string
	Scale               uint8
	Ledger              uint32
	WithdrawalThreshold *uint64
	LiquidityThreshold  *uint64
	CreatedAt           time.Time
	DeletedAt           *time.Time
	Fees                int
	// SendingFee is the sending fee set last, the one quotes apply.
	SendingFee *Fee
}

// Fee is a fee on payments in the asset: basis points of the amount,
// rounded up, plus a fixed amount.
type Fee struct {
	ID          string
	Fixed       uint64
	BasisPoints int
}

// Evolve applies one event to the state.
func Evolve(s State, env events.Envelope, ev events.Event) State {
	switch e := ev.(type) {
	case *events.AssetCreated:
		s = State{
			Exists: true, ID: env.AggregateID, TenantID: env.TenantID, Code: e.Code, Scale: e.Scale,
			Ledger: e.Ledger, WithdrawalThreshold: e.WithdrawalThreshold, LiquidityThreshold: e.LiquidityThreshold,
			CreatedAt: env.Time,
		}
	case *events.AssetThresholdsSet:
		s.WithdrawalThreshold, s.LiquidityThreshold = e.WithdrawalThreshold, e.LiquidityThreshold
	case *events.AssetDeleted:
		at := env.Time
		s.DeletedAt = &at
	case *events.AssetReactivated:
		s.DeletedAt = nil
	case *events.FeeSet:
		s.Fees++
		if e.Type == FeeSending {
			s.SendingFee = &Fee{ID: e.FeeID, Fixed: e.Fixed, BasisPoints: e.BasisPoints}
		}
	}
	return s
}

// Active is an asset that exists and is not deleted.
func (s State) Active() bool { return s.Exists && s.DeletedAt == nil }

// Calculate is the fee on principal: its basis points of it, rounded up,
// plus the fixed amount, as Rafiki's fee; none for no fee. It never
// overflows: a fee past the largest amount is the largest amount.
func (f *Fee) Calculate(principal uint64) uint64 {
	if f == nil {
		return 0
	}
	hi, lo := bits.Mul64(principal, uint64(f.BasisPoints))
	lo, carry := bits.Add64(lo, basisPointsMax-1, 0)
	hi += carry
	// hi < basisPointsMax, as basis points are at most that many.
	q, _ := bits.Div64(hi, lo, basisPointsMax)
	if q > math.MaxUint64-f.Fixed {
		return math.MaxUint64
	}
	return q + f.Fixed
}
