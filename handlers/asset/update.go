package asset

import (
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

func visible(s State, actor commands.Actor) error {
	if !s.Active() || !actor.CanActFor(s.TenantID) {
		return apperr.E(apperr.NotFound, "Asset not found")
	}
	return nil
}

// decideUpdate replaces the asset's thresholds.
func decideUpdate(s State, c commands.UpdateAsset) ([]events.Event, error) {
	if err := visible(s, c.Actor); err != nil {
		return nil, err
	}
	return []events.Event{&events.AssetThresholdsSet{
		WithdrawalThreshold: c.WithdrawalThreshold, LiquidityThreshold: c.LiquidityThreshold,
	}}, nil
}

// decideDelete soft-deletes the asset, unless peers or wallet addresses
// hold it.
func decideDelete(s State, c commands.DeleteAsset, inUse bool) ([]events.Event, error) {
	if err := visible(s, c.Actor); err != nil {
		return nil, err
	}
	if inUse {
		return nil, apperr.E(apperr.Forbidden, "Cannot delete! Asset in use.")
	}
	return []events.Event{&events.AssetDeleted{}}, nil
}
