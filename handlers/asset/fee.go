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

// decideSetFee records a new fee (checked by checkSetFee); the latest of each type is the one applied.
func decideSetFee(s State, c commands.SetFee, feeID string) ([]events.Event, error) {
	if err := visible(s, c.Actor); err != nil {
		return nil, apperr.E(apperr.NotFound, "unknown asset")
	}
	return []events.Event{&events.FeeSet{FeeID: feeID, Type: c.Type, Fixed: c.Fixed, BasisPoints: c.BasisPoints}}, nil
}
