package app

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rafiki-go/rafiki/adminapi"
	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/authadmin"
	"github.com/rafiki-go/rafiki/authstore"
	"github.com/rafiki-go/rafiki/authsvc"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/httpsig"
	"github.com/rafiki-go/rafiki/introspection"
	"github.com/rafiki-go/rafiki/outbound"
	"github.com/rafiki-go/rafiki/projections"
)

// Auth is the auth service in a process: its read model and the checkpoints
// of its database, which lookups that miss wait on; the grant handler and
// the GNAP endpoints over it.
type Auth struct {
	Waiter  *projections.Waiter
	Store   *authstore.Store
	Grants  *grant.Handler
	Tenants *authsvc.Tenants
	Server  *authsvc.Server
	// Introspection answers resource servers, through Tokens, a cache of
	// active tokens that follows the grant events.
	Introspection  *introspection.Server
	Tokens         *introspection.Cache[introspection.Token]
	readYourWrites time.Duration
}

// GrantPolicy is the grant handler's policy from Rafiki's variables.
func GrantPolicy(c config.Config) grant.Policy {
	return grant.Policy{
		AuthServerURL: c.AuthServerURL, IncomingPaymentInteraction: c.IncomingPaymentInteraction,
		QuoteInteraction: c.QuoteInteraction, ListAllInteraction: c.ListAllInteraction,
		Wait: c.Wait, AccessTokenExpiry: c.AccessTokenExpiry, InteractionExpiry: c.InteractionExpiry,
	}
}

// NewGrants builds the grant handler, for the auth service's requests and
// the worker's expiries alike, and the tenants it reads from their events.
func NewGrants(d *Deps) (*grant.Handler, *authsvc.Tenants) {
	cfg := d.Config
	tenants := authsvc.NewTenants(d.Store, d.Keys, cfg.OperatorTenantID, cfg.IdentityServerURL, cfg.IdentityServerSecret)
	return grant.NewHandler(d.Store, GrantPolicy(cfg), tenants.ForGrants, d.Enqueue), tenants
}

// sameSite reads INTERACTION_COOKIE_SAME_SITE (checked by config).
func sameSite(v string) http.SameSite {
	switch v {
	case "lax":
		return http.SameSiteLaxMode
	case "strict":
		return http.SameSiteStrictMode
	case "none":
		return http.SameSiteNoneMode
	}
	return http.SameSiteDefaultMode
}

// NewAuth builds the auth service on open connections, its token cache
// following the grant events until ctx ends; the waiter's Run must be
// running for lookups that miss to catch up.
func NewAuth(ctx context.Context, d *Deps) (*Auth, error) {
	cfg := d.Config
	waiter := projections.NewWaiter(d.AuthPool, d.Log)
	store := authstore.New(d.AuthPool, d.Store, waiter, cfg.ReadYourWritesTimeout)
	a := &Auth{Waiter: waiter, Store: store, Tokens: introspection.NewCache[introspection.Token](),
		readYourWrites: cfg.ReadYourWritesTimeout}
	if err := a.Tokens.Follow(ctx, d.NC); err != nil {
		return nil, err
	}
	a.Introspection = introspection.NewServer(introspectionTokens{store}, a.Tokens, d.Log)
	policy := GrantPolicy(cfg)
	handler, tenants := NewGrants(d)
	client := outbound.NewClient(outbound.Options{UseHTTP: cfg.UseHTTP})
	server, err := authsvc.New(authsvc.Config{
		AuthServerURL: cfg.AuthServerURL, Policy: policy,
		CookieKey: []byte(cfg.CookieKey), CookieSameSite: sameSite(cfg.InteractionCookieSameSite),
		Signatures: httpsig.Options{Replay: httpsig.RedisReplayGuard{Redis: d.Redis, Prefix: "gnap:signature:"}, AlsoHTTP: cfg.UseHTTP},
	}, authsvc.Deps{
		Handler: handler, Lookup: store, Store: d.Store, Tenants: tenants,
		Keys: httpsig.NewJWKSFetcher(httpsig.FetcherOptions{Client: client}), Client: client,
		Revoked: a.revoked, Log: d.Log,
	})
	if err != nil {
		return nil, err
	}
	a.Grants, a.Tenants, a.Server = handler, tenants, server
	return a, nil
}

// revoked makes a revocation visible before it is answered: the read model
// has applied it, and no cached answer about the grant is left (none is
// cached for a while after, see package introspection).
func (a *Auth) revoked(ctx context.Context, grantID string, sequence uint64) error {
	if err := a.Waiter.Wait(ctx, projections.Grants{}.Name(), sequence, a.readYourWrites); err != nil {
		return err
	}
	a.Tokens.ForgetGrant(grantID)
	return nil
}

// introspectionTokens reads tokens for introspection from the auth read
// model; a revoked or rotated token is not found.
type introspectionTokens struct{ store *authstore.Store }

func (t introspectionTokens) TokenByValueHash(ctx context.Context, hash string) (introspection.Token, bool, error) {
	tok, found, err := t.store.TokenByValueHash(ctx, hash)
	if err != nil || !found || tok.Revoked {
		return introspection.Token{}, false, err
	}
	access := make([]events.GrantAccess, len(tok.Grant.Access))
	for i, a := range tok.Grant.Access {
		access[i] = events.GrantAccess{Type: a.Type, Actions: a.Actions, Limits: a.Limits}
		if a.Identifier != nil {
			access[i].Identifier = *a.Identifier
		}
	}
	return introspection.Token{
		GrantID: tok.Grant.ID, TenantID: tok.Grant.TenantID, GrantRevoked: tok.Grant.State == events.GrantStateFinalized &&
			tok.Grant.FinalizationReason != nil && *tok.Grant.FinalizationReason == events.FinalizationRevoked,
		Client: tok.Grant.Client, Access: access, CreatedAt: tok.CreatedAt, ExpiresIn: tok.ExpiresIn,
	}, true, nil
}

// AdminHandler is the signed auth admin GraphQL endpoint, on the auth admin
// port: the same signatures as the backend's, each tenant's secret read
// from its events.
func (a *Auth) AdminHandler(d *Deps) http.Handler {
	cfg := d.Config
	gql := authadmin.Handler(&authadmin.Resolver{Store: a.Store, Grants: a.Grants, Revoked: a.revoked}, adminapi.Options{Introspection: cfg.GraphQLIntrospection, Log: d.Log})
	auth := adminauth.Middleware(adminauth.Config{
		OperatorSecret: cfg.AdminAPISecret, SignatureVersion: cfg.AdminSignatureVersion, TTL: cfg.AdminSignatureTTL,
	}, operatorSecrets{operatorID: cfg.OperatorTenantID, secret: cfg.AdminAPISecret, read: a.Tenants}, d.Redis, d.Log)
	r := chi.NewRouter()
	r.Handle("/graphql", auth(gql))
	return r
}
