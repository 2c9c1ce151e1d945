package walletaddress

import (
	"context"

	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
)

// WithAsset reads wallet addresses with their assets, as commands on
// payments need them, through caches that fold only what changed since
// they last looked (handlers.StateCache). A wallet address never changes
// asset, so once it has been read, both last sequences are asked in one
// request.
type WithAsset struct {
	store     handlers.Store
	addresses *handlers.StateCache[State]
	assets    *handlers.StateCache[asset.State]
}

// NewWithAsset makes a reader of store.
func NewWithAsset(store handlers.Store) *WithAsset {
	return &WithAsset{store: store, addresses: handlers.NewStateCache(Evolve), assets: handlers.NewStateCache(asset.Evolve)}
}

// Load reads a wallet address of a tenant and its asset; the asset is
// empty when the wallet address does not exist.
func (r *WithAsset) Load(ctx context.Context, tenantID, id string) (State, asset.State, error) {
	subject, err := Subject(tenantID, id)
	if err != nil {
		return State{}, asset.State{}, err
	}
	if known, ok := r.addresses.Cached(subject); ok && known.Exists {
		assetSubject, err := asset.Subject(known.TenantID, known.AssetID)
		if err != nil {
			return State{}, asset.State{}, err
		}
		last, err := r.store.LastSequences(ctx, []string{subject, assetSubject})
		if err != nil {
			return State{}, asset.State{}, err
		}
		wa, _, err := r.addresses.LoadAt(ctx, r.store, subject, last[subject])
		if err != nil || !wa.Exists {
			return wa, asset.State{}, err
		}
		a, _, err := r.assets.LoadAt(ctx, r.store, assetSubject, last[assetSubject])
		return wa, a, err
	}
	wa, _, err := r.addresses.Load(ctx, r.store, subject)
	if err != nil || !wa.Exists {
		return wa, asset.State{}, err
	}
	assetSubject, err := asset.Subject(wa.TenantID, wa.AssetID)
	if err != nil {
		return State{}, asset.State{}, err
	}
	a, _, err := r.assets.Load(ctx, r.store, assetSubject)
	return wa, a, err
}
