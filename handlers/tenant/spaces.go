package tenant

import (
	"context"
	"sync"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/valid"
)

// allTenants is every tenant's events: the record of who holds which space.
const allTenants = "events.*.tenant.*"

// Space is what a tenant's settings give it alone: the wallet addresses
// under its WALLET_ADDRESS_URL and the ILP addresses under its ILP_ADDRESS.
type Space struct {
	WalletAddressURL string
	ILPAddress       string
}

func spaceOf(settings map[string]string) Space {
	return Space{WalletAddressURL: settings[SettingWalletAddressURL], ILPAddress: settings[SettingILPAddress]}
}

// Spaces folds every tenant's events into the spaces they hold, as of a
// stream sequence, and tells whether a tenant's new space would overlap
// another's. A tenant keeps its space once deleted (as Rafiki keeps a
// deleted tenant's settings in its duplicate check): its wallet addresses
// still exist. The fold holds one entry per tenant.
//
// A change of a tenant's space is appended expecting allTenants to be at the
// sequence its check saw, so of two tenants claiming overlapping spaces at
// once one append fails, is decided again, and finds the other's claim:
// no two tenants can ever hold overlapping spaces, whatever the concurrency.
// The price is that changes to spaces (tenant creations and settings) are
// serialised over the whole instance.
type Spaces struct {
	mu       sync.Mutex
	version  uint64
	byTenant map[string]Space
}

func NewSpaces() *Spaces { return &Spaces{byTenant: map[string]Space{}} }

// Load brings the fold up to the stream and returns the sequence it is at.
func (sp *Spaces) Load(ctx context.Context, store handlers.Store) (uint64, error) {
	_, last, found, err := store.Last(ctx, allTenants)
	if err != nil || !found {
		return 0, err
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if last <= sp.version {
		return sp.version, nil
	}
	envs, version, err := store.LoadAfter(ctx, allTenants, sp.version)
	if err != nil {
		return 0, err
	}
	for _, env := range envs {
		ev, err := events.Decode(env)
		if err != nil {
			return 0, err
		}
		var settings []events.Setting
		switch e := ev.(type) {
		case *events.TenantCreated:
			sp.byTenant[env.AggregateID] = Space{}
			settings = e.Settings
		case *events.TenantSettingsSet:
			settings = e.Settings
		}
		space := sp.byTenant[env.AggregateID]
		for _, s := range settings {
			switch s.Key {
			case SettingWalletAddressURL:
				space.WalletAddressURL = s.Value
			case SettingILPAddress:
				space.ILPAddress = s.Value
			}
		}
		if settings != nil {
			sp.byTenant[env.AggregateID] = space
		}
	}
	sp.version = version
	return version, nil
}

// Overlap reports, as an InvalidInput error, a part of space that lies in
// another tenant's space or holds it.
func (sp *Spaces) Overlap(tenantID string, space Space) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for other, held := range sp.byTenant {
		if other == tenantID {
			continue
		}
		if space.WalletAddressURL != "" && held.WalletAddressURL != "" && valid.URLsOverlap(space.WalletAddressURL, held.WalletAddressURL) {
			return apperr.E(apperr.InvalidInput, "Wallet Address Url overlaps the wallet address URL of another tenant")
		}
		if space.ILPAddress != "" && held.ILPAddress != "" && valid.ILPAddressesOverlap(space.ILPAddress, held.ILPAddress) {
			return apperr.E(apperr.InvalidInput, "ILP address overlaps the ILP address of another tenant")
		}
	}
	return nil
}

// Holder is the tenant whose WALLET_ADDRESS_URL holds address, if any.
func (sp *Spaces) Holder(address string) (string, bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for tenantID, held := range sp.byTenant {
		if held.WalletAddressURL != "" && valid.URLWithin(address, held.WalletAddressURL) {
			return tenantID, true
		}
	}
	return "", false
}
