// Package asset handles the asset aggregate's commands: assets and their fees.
package asset

import (
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
	}
	return s
}

// Active is an asset that exists and is not deleted.
func (s State) Active() bool { return s.Exists && s.DeletedAt == nil }
