package walletaddress

import (
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// Statuses a wallet address can be set to.
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
)

func visible(s State, actor commands.Actor) error {
	if !s.Exists || !actor.CanActFor(s.TenantID) {
		return apperr.E(apperr.NotFound, "unknown wallet address")
	}
	return nil
}

// decideUpdate changes the public name and additional properties, and
// deactivates or re-activates the wallet address.
func decideUpdate(s State, c commands.UpdateWalletAddress) ([]events.Event, error) {
	if err := visible(s, c.Actor); err != nil {
		return nil, err
	}
	var out []events.Event
	if c.PublicName != nil || c.AdditionalProperties != nil {
		e := &events.WalletAddressUpdated{PublicName: c.PublicName}
		if c.AdditionalProperties != nil {
			e.ReplaceProperties = true
			e.AdditionalProperties = cleanProperties(*c.AdditionalProperties)
		}
		out = append(out, e)
	}
	switch {
	case c.Status == StatusInactive && s.Active():
		out = append(out, &events.WalletAddressDeactivated{})
	case c.Status == StatusActive && !s.Active():
		out = append(out, &events.WalletAddressActivated{})
	}
	return out, nil
}
