package walletaddress

import (
	"context"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
)

// decideWebMonetization tells of what a wallet address received beyond
// what it told of already; nothing when that is nothing, as Rafiki's
// withdrawal event is made only for an amount above zero.
func decideWebMonetization(s State, a asset.State, received uint64) []events.Event {
	if !s.Exists || received <= s.Told {
		return nil
	}
	return []events.Event{&events.WalletAddressWebMonetization{Amount: received - s.Told, AssetID: s.AssetID,
		AssetCode: a.Code, AssetScale: a.Scale, CreatedAt: s.CreatedAt}}
}

// TellWebMonetization appends a wallet_address.web_monetization event for
// the wallet address when its account received more than its events told
// (received, read before the decision: money arriving meanwhile is told
// next time). It reports whether it did. A retry of the command (m.ID)
// answers what it did the first time.
func (h *Handler) TellWebMonetization(ctx context.Context, m commands.Meta, walletAddressID string, received uint64) (bool, handlers.Result, error) {
	tenantID, err := h.locate(ctx, AggregateType, walletAddressID, "unknown wallet address")
	if err != nil {
		return false, handlers.Result{}, err
	}
	target, err := handlers.NewTarget(tenantID, AggregateType, walletAddressID)
	if err != nil {
		return false, handlers.Result{}, err
	}
	told := false
	res, err := handlers.Execute(ctx, h.store, target, handlers.CommandInfo{ID: m.ID + "/" + walletAddressID, CorrelationID: m.CorrelationID},
		Evolve, func(s State) ([]events.Event, error) {
			if !m.Actor.CanActFor(s.TenantID) {
				return nil, nil
			}
			assetSubject, err := asset.Subject(s.TenantID, s.AssetID)
			if err != nil {
				return nil, err
			}
			a, _, err := h.assets.Load(ctx, h.store, assetSubject)
			if err != nil {
				return nil, err
			}
			evs := decideWebMonetization(s, a, received)
			told = len(evs) > 0
			return evs, nil
		})
	return told, res, err
}
