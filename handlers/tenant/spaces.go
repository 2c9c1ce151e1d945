package tenant

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/valid"
)

// allTenants is every tenant's events: the record of who holds which space.
const allTenants = "events.*.tenant.*"

// SpacesClaimed is a subject that every claim of a space writes to, in the
// same atomic append as the tenant's event: its last sequence tells, in one
// cheap read of a literal subject, whether any space changed, where the
// last sequence of allTenants would have the server search every tenant's
// subject.
const SpacesClaimed = "claims._.tenant_spaces"

// Space is what a tenant's settings give it alone: the wallet addresses
// under its WALLET_ADDRESS_URL and the ILP addresses under its ILP_ADDRESS.
type Space struct {
	WalletAddressURL string
	ILPAddress       string
}

// requestedSpace is the space settings ask for; claims is false when they
// set neither part.
func requestedSpace(settings []events.Setting) (space Space, claims bool) {
	for _, s := range settings {
		switch s.Key {
		case SettingWalletAddressURL:
			space.WalletAddressURL, claims = s.Value, true
		case SettingILPAddress:
			space.ILPAddress, claims = s.Value, true
		}
	}
	return space, claims
}

// reservedForDefaults keeps requested ILP addresses out of the ones tenants
// get by default, "<ILP_ADDRESS>.<tenant id>": an address may not hold the
// operator's ILP_ADDRESS, nor lie under it in another tenant id's segment.
// Default addresses then never overlap a requested one, present or future,
// nor each other, so tenants created with defaults claim nothing and are not
// serialised.
func reservedForDefaults(requested, operatorILPAddress, tenantID string) error {
	if requested == "" || operatorILPAddress == "" {
		return nil
	}
	refused := apperr.E(apperr.InvalidInput, "ILP address overlaps the addresses tenants get by default")
	if valid.ILPWithin(operatorILPAddress, requested) {
		return refused
	}
	if !valid.ILPWithin(requested, operatorILPAddress) {
		return nil
	}
	next, _, _ := strings.Cut(requested[len(operatorILPAddress)+1:], ".")
	if _, isID := valid.ID(next); isID && !strings.EqualFold(next, tenantID) {
		return refused
	}
	return nil
}

// Spaces folds every tenant's events into the spaces they hold, as of a
// stream sequence, and tells whether a tenant's new space would overlap
// another's. A tenant keeps every space it ever set, once deleted too (as
// Rafiki keeps a deleted tenant's settings in its duplicate check) and once
// it moved to another: its wallet addresses and incoming payments made
// there still exist, and another tenant's space over them would let that
// tenant publish addresses among them. The fold holds one entry per tenant
// and space set.
//
// A requested space is appended with a message on SpacesClaimed expecting
// the sequence its check saw there, so of two tenants claiming overlapping
// spaces at once one append fails, is decided again, and finds the other's
// claim: no two tenants can ever hold overlapping spaces, whatever the
// concurrency. The price is that requests for spaces are serialised over
// the whole instance; a tenant created with the default ILP address and no
// WALLET_ADDRESS_URL claims nothing (see reservedForDefaults).
type Spaces struct {
	mu sync.Mutex
	// folded is whether every tenant event up to version has been folded
	// (once per process; afterwards only claims are followed).
	folded  bool
	version uint64 // the last tenant event folded
	claimed uint64 // the last sequence of SpacesClaimed folded
	// byTenant is every space each tenant set, one part each.
	byTenant map[string][]Space
}

func NewSpaces() *Spaces { return &Spaces{byTenant: map[string][]Space{}} }

// Load brings the fold up to the last claim of a space and returns the
// sequence of that claim on SpacesClaimed (0: none yet), which a new claim
// expects. The first load folds every tenant's events, spaces claimed
// before SpacesClaimed was written included.
func (sp *Spaces) Load(ctx context.Context, store handlers.Store) (uint64, error) {
	_, claimed, _, err := store.Last(ctx, SpacesClaimed)
	if err != nil {
		return 0, err
	}
	return sp.LoadAt(ctx, store, claimed)
}

// LoadAt is Load when the last sequence of SpacesClaimed is known already,
// read with other subjects' in one request.
func (sp *Spaces) LoadAt(ctx context.Context, store handlers.Store, claimed uint64) (uint64, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.folded && claimed <= sp.claimed {
		return sp.claimed, nil
	}
	through := claimed
	if !sp.folded {
		_, last, _, err := store.Last(ctx, allTenants)
		if err != nil {
			return 0, err
		}
		through = max(through, last)
	}
	envs, version, err := handlers.LoadThrough(ctx, store, allTenants, sp.version, through)
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
			settings = e.Settings
		case *events.TenantSettingsSet:
			settings = e.Settings
		}
		for _, s := range settings {
			var space Space
			switch {
			case s.Value == "":
				continue
			case s.Key == SettingWalletAddressURL:
				space.WalletAddressURL = s.Value
			case s.Key == SettingILPAddress:
				space.ILPAddress = s.Value
			default:
				continue
			}
			if !slices.Contains(sp.byTenant[env.AggregateID], space) {
				sp.byTenant[env.AggregateID] = append(sp.byTenant[env.AggregateID], space)
			}
		}
	}
	sp.folded, sp.version, sp.claimed = true, version, claimed
	return claimed, nil
}

// Overlap reports, as an InvalidInput error, a part of space that lies in
// another tenant's space or holds it.
func (sp *Spaces) Overlap(tenantID string, space Space) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for other, spaces := range sp.byTenant {
		if other == tenantID {
			continue
		}
		for _, held := range spaces {
			if space.WalletAddressURL != "" && held.WalletAddressURL != "" && valid.URLsOverlap(space.WalletAddressURL, held.WalletAddressURL) {
				return apperr.E(apperr.InvalidInput, "Wallet Address Url overlaps the wallet address URL of another tenant")
			}
			if space.ILPAddress != "" && held.ILPAddress != "" && valid.ILPAddressesOverlap(space.ILPAddress, held.ILPAddress) {
				return apperr.E(apperr.InvalidInput, "ILP address overlaps the ILP address of another tenant")
			}
		}
	}
	return nil
}

// Holder is the tenant whose WALLET_ADDRESS_URL, now or before, holds
// address, if any.
func (sp *Spaces) Holder(address string) (string, bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for tenantID, spaces := range sp.byTenant {
		for _, held := range spaces {
			if held.WalletAddressURL != "" && valid.URLWithin(address, held.WalletAddressURL) {
				return tenantID, true
			}
		}
	}
	return "", false
}
