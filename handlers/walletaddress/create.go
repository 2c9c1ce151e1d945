package walletaddress

import (
	"strings"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/tenant"
)

// decideCreate makes a wallet address for a tenant, on one of its live
// assets, at the URL resolved against the tenant's base URL.
func decideCreate(t tenant.State, a asset.State, c commands.CreateWalletAddress, openPaymentsURL string) (string, []events.Event, error) {
	if !c.Actor.CanActFor(c.TenantID) {
		return "", nil, apperr.E(apperr.InvalidInput, "Assignment to the specified tenant is not permitted")
	}
	if !t.Active() {
		return "", nil, apperr.E(apperr.NotFound, "Tenant not found")
	}
	base := t.Settings[tenant.SettingWalletAddressURL]
	if base == "" {
		if !c.Actor.Operator {
			return "", nil, apperr.E(apperr.NotFound, "Setting for wallet address has not been found.")
		}
		base = openPaymentsURL
	}
	address, err := resolveAddress(c.Address, base)
	if err != nil {
		return "", nil, err
	}
	if !a.Active() || a.TenantID != c.TenantID {
		return "", nil, apperr.E(apperr.InvalidInput, "unknown asset")
	}
	return address, []events.Event{&events.WalletAddressCreated{
		AssetID: a.ID, Address: address, PublicName: c.PublicName,
		AdditionalProperties: cleanProperties(c.AdditionalProperties),
	}}, nil
}

// cleanProperties trims keys and values and drops blank ones.
func cleanProperties(in []events.Property) []events.Property {
	var out []events.Property
	for _, p := range in {
		p.Key, p.Value = strings.TrimSpace(p.Key), strings.TrimSpace(p.Value)
		if p.Key != "" && p.Value != "" {
			out = append(out, p)
		}
	}
	return out
}
