package authsvc

import (
	"context"
	"fmt"

	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/valid"
)

// Tenant is what the GNAP endpoints need of a tenant.
type Tenant struct {
	// Active: the tenant exists and is not deleted.
	Active        bool
	IDPConsentURL string
	IDPSecret     string
	// APISecret signs the tenant's auth admin API requests.
	APISecret string
}

// HasIDP tells whether the tenant's resource owners can be asked.
func (t Tenant) HasIDP() bool { return t.IDPConsentURL != "" && t.IDPSecret != "" }

// Tenants reads tenants from their events, which the backend appends: the
// auth service keeps no copy of its own. Each read checks the tenant's last
// sequence and folds only what was stored since, so a tenant's new identity
// provider or its deletion is seen by the next request.
type Tenants struct {
	store          handlers.Store
	cache          *handlers.StateCache[tenant.State]
	operatorID     string
	identityURL    string
	identitySecret string
}

// NewTenants reads tenants through store, opening their sealed secrets
// (the identity provider's) with keys. The operator tenant's consent URL
// and secret come from identityServerURL and identityServerSecret when its
// events carry none; the operator exists before its first event, as
// Rafiki's auth service seeds it.
func NewTenants(store handlers.Store, keys handlers.Sealer, operatorID, identityServerURL, identityServerSecret string) *Tenants {
	return &Tenants{
		store: handlers.SealSecrets(store, keys), cache: handlers.NewStateCache(tenant.Evolve),
		operatorID: operatorID, identityURL: identityServerURL, identitySecret: identityServerSecret,
	}
}

// Get reads a tenant; an id that is not a tenant's is an inactive tenant.
func (t *Tenants) Get(ctx context.Context, tenantID string) (Tenant, error) {
	id, ok := valid.ID(tenantID)
	if !ok {
		return Tenant{}, nil
	}
	subject, err := tenant.Subject(id)
	if err != nil {
		return Tenant{}, nil
	}
	s, _, err := t.cache.Load(ctx, t.store, subject)
	if err != nil {
		return Tenant{}, fmt.Errorf("load tenant %s: %w", id, err)
	}
	operator := id == t.operatorID
	if !(s.Active() || operator && !s.Exists) {
		return Tenant{}, nil
	}
	out := Tenant{Active: true, IDPConsentURL: s.IDPConsentURL, IDPSecret: s.IDPSecret, APISecret: s.APISecret}
	if operator {
		if out.IDPConsentURL == "" {
			out.IDPConsentURL = t.identityURL
		}
		if out.IDPSecret == "" {
			out.IDPSecret = t.identitySecret
		}
	}
	return out, nil
}

// readTenant is the context key of a tenant a request has read already.
type readTenant struct{}

type tenantRead struct {
	id     string
	tenant Tenant
}

// withTenant keeps the tenant a request read for the grant handler, which
// asks about it again within the same request.
func withTenant(ctx context.Context, id string, t Tenant) context.Context {
	return context.WithValue(ctx, readTenant{}, tenantRead{id, t})
}

// ForGrants answers the grant handler's questions about a tenant: the one
// the request read already, or read now.
func (t *Tenants) ForGrants(ctx context.Context, tenantID string) (grant.Tenant, error) {
	tn, ok := ctx.Value(readTenant{}).(tenantRead)
	if !ok || tn.id != tenantID {
		read, err := t.Get(ctx, tenantID)
		if err != nil {
			return grant.Tenant{}, err
		}
		tn.tenant = read
	}
	return grant.Tenant{Exists: tn.tenant.Active, HasIDP: tn.tenant.HasIDP()}, nil
}

// APISecret answers a tenant's admin API secret (adminauth.Secrets), with
// which the auth admin API checks the tenant's signatures.
func (t *Tenants) APISecret(ctx context.Context, tenantID string) (string, bool, error) {
	tn, err := t.Get(ctx, tenantID)
	if err != nil || !tn.Active || tn.APISecret == "" {
		return "", false, err
	}
	return tn.APISecret, true, nil
}
