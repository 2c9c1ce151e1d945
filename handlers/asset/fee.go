package asset

import (
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// Fee types, as Rafiki names them.
const (
	FeeSending   = "SENDING"
	FeeReceiving = "RECEIVING"
)

const basisPointsMax = 10_000

// decideSetFee records a new fee; the latest of each type is the one applied.
func decideSetFee(s State, c commands.SetFee, feeID string) ([]events.Event, error) {
	if err := visible(s, c.Actor); err != nil {
		return nil, apperr.E(apperr.NotFound, "unknown asset")
	}
	if c.Type != FeeSending && c.Type != FeeReceiving {
		return nil, apperr.E(apperr.InvalidInput, "fee type must be SENDING or RECEIVING")
	}
	if c.BasisPoints < 0 || c.BasisPoints > basisPointsMax {
		return nil, apperr.E(apperr.InvalidInput, "Basis point fee must be between 0 and 10000")
	}
	return []events.Event{&events.FeeSet{FeeID: feeID, Type: c.Type, Fixed: c.Fixed, BasisPoints: c.BasisPoints}}, nil
}
