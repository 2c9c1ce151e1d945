package walletaddress

import (
	"context"
	"sync"
	"time"

	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
)

// WithAsset reads wallet addresses with their assets, as commands on
// payments need them, through caches that fold only what changed since
// they last looked (handlers.StateCache). A wallet address never changes
// asset, so once it has been read, both last sequences are asked in one
// request; once Trust is set, a pair checked recently is not asked for
// again until the read models show a change.
type WithAsset struct {
	store     handlers.Store
	addresses *handlers.StateCache[State]
	assets    *handlers.StateCache[asset.State]

	mu      sync.Mutex
	changes func() (Progress, bool)
	ttl     time.Duration
	checked map[string]check // by wallet address subject
	now     func() time.Time
}

// Progress is how far the read models of wallet addresses and assets
// applied their events: it moves whenever one of those events is applied,
// by whichever process runs the projections.
type Progress struct{ WalletAddresses, Assets uint64 }

// check is when a wallet address and its asset were last read from the
// store, and the read models' progress just before.
type check struct {
	at       time.Time
	progress Progress
}

// checkedMax bounds the checks kept; past it they start again empty.
const checkedMax = 10_000

// NewWithAsset makes a reader of store.
func NewWithAsset(store handlers.Store) *WithAsset {
	return &WithAsset{store: store, addresses: handlers.NewStateCache(Evolve), assets: handlers.NewStateCache(asset.Evolve),
		checked: map[string]check{}, now: time.Now}
}

// Trust lets Load answer a wallet address and its asset that it read from
// the store less than ttl ago without reading their last sequences again,
// as long as changes answers the progress it answered before that read: a
// change (a wallet address deactivated, say) is then seen once the read
// models applied it, as Rafiki's caches see one within
// LOCAL_CACHE_DURATION_MS, and ttl bounds how long a stale pair may serve
// while the read models stop. changes answers false while it cannot tell.
func (r *WithAsset) Trust(changes func() (Progress, bool), ttl time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes, r.ttl = changes, ttl
}

// Load reads a wallet address of a tenant and its asset; the asset is
// empty when the wallet address does not exist.
func (r *WithAsset) Load(ctx context.Context, tenantID, id string) (State, asset.State, error) {
	subject, err := Subject(tenantID, id)
	if err != nil {
		return State{}, asset.State{}, err
	}
	started := r.now()
	progress, known := r.progress()
	if wa, ok := r.addresses.Cached(subject); ok && wa.Exists {
		assetSubject, err := asset.Subject(wa.TenantID, wa.AssetID)
		if err != nil {
			return State{}, asset.State{}, err
		}
		if a, ok := r.assets.Cached(assetSubject); ok && known && r.trusted(subject, progress) {
			return wa, a, nil
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
		if err == nil && known {
			r.checkedAt(subject, started, progress)
		}
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
	if err == nil && known {
		r.checkedAt(subject, started, progress)
	}
	return wa, a, err
}

// progress is the read models' progress now; false when Trust was not set
// or cannot tell.
func (r *WithAsset) progress() (Progress, bool) {
	r.mu.Lock()
	changes := r.changes
	r.mu.Unlock()
	if changes == nil {
		return Progress{}, false
	}
	return changes()
}

// trusted tells whether the wallet address at subject was read from the
// store less than ttl ago with the read models at progress.
func (r *WithAsset) trusted(subject string, progress Progress) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.checked[subject]
	return ok && c.progress == progress && r.now().Sub(c.at) < r.ttl
}

// checkedAt records that the wallet address at subject was read from the
// store by a read that began at started, the read models being at progress
// before it.
func (r *WithAsset) checkedAt(subject string, started time.Time, progress Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.checked) >= checkedMax {
		clear(r.checked)
	}
	r.checked[subject] = check{at: started, progress: progress}
}
