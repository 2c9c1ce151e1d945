package walletaddress

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
)

// LookupAggregateType is the aggregate of a URL's missed lookups. It is not
// the wallet address's own: that subject staying empty is what keeps the
// address free to create.
const LookupAggregateType = "wallet_address_lookup"

// lookupNamespace derives a lookup aggregate's id from its URL.
var lookupNamespace = uuid.MustParse("5b0f8c51-2f5e-4f57-9d0c-7c2a8f6e0a11")

// Misses records lookups of wallet addresses that do not exist.
type Misses struct {
	store            handlers.Store
	operatorTenantID string
	spaces           *tenant.Spaces
}

// NewMisses records misses for the tenants holding the URLs, else for the
// operator (OPERATOR_TENANT_ID).
func NewMisses(store handlers.Store, operatorTenantID string) *Misses {
	return &Misses{store: store, operatorTenantID: operatorTenantID, spaces: tenant.NewSpaces()}
}

// missWindow is how long the lookups of one URL record one event: the
// event's id is derived from the URL and the window, so that the store
// drops the same event appended again within it. A client polling a missing
// address tells the account servicing entity once a minute, not at every
// request.
const missWindow = time.Minute

// NotFound records that url, a wallet address URL in lower case, was
// looked up and not found: a wallet_address.not_found event for the tenant
// whose WALLET_ADDRESS_URL holds it, else for the operator, as Rafiki sends
// the webhook to the tenants whose setting matches the URL and to the
// operator when none does.
func (m *Misses) NotFound(ctx context.Context, url string, at time.Time) (handlers.Result, error) {
	if _, err := m.spaces.Load(ctx, m.store); err != nil {
		return handlers.Result{}, err
	}
	recipient, held := m.spaces.Holder(url)
	if !held {
		recipient = m.operatorTenantID
	}
	t, err := handlers.NewTarget(recipient, LookupAggregateType, uuid.NewSHA1(lookupNamespace, []byte(url)).String())
	if err != nil {
		return handlers.Result{}, err
	}
	window := at.Truncate(missWindow)
	cmd := handlers.CommandInfo{ID: "wallet-address-not-found/" + url + "/" + window.UTC().Format(time.RFC3339)}
	return handlers.Retry(ctx, func() (handlers.Result, error) {
		_, version, _, err := m.store.Last(ctx, t.Subject)
		if err != nil {
			return handlers.Result{}, err
		}
		return handlers.AppendEvents(ctx, m.store, t.Subject, version, handlers.Meta(t, cmd), cmd.ID,
			&events.WalletAddressNotFound{WalletAddressURL: url})
	})
}
