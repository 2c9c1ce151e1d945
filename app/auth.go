package app

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rafiki-go/rafiki/adminapi"
	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/authadmin"
	"github.com/rafiki-go/rafiki/authstore"
	"github.com/rafiki-go/rafiki/authsvc"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/httpsig"
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
}

// GrantPolicy is the grant handler's policy from Rafiki's variables.
func GrantPolicy(c config.Config) grant.Policy {
	return grant.Policy{
		AuthServerURL: c.AuthServerURL, IncomingPaymentInteraction: c.IncomingPaymentInteraction,
		QuoteInteraction: c.QuoteInteraction, ListAllInteraction: c.ListAllInteraction,
		Wait: c.Wait, AccessTokenExpiry: c.AccessTokenExpiry, InteractionExpiry: c.InteractionExpiry,
	}
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

// NewAuth builds the auth service on open connections; the waiter's Run
// must be running for lookups that miss to catch up.
func NewAuth(d *Deps) (*Auth, error) {
	cfg := d.Config
	waiter := projections.NewWaiter(d.AuthPool, d.Log)
	store := authstore.New(d.AuthPool, d.Store, waiter, cfg.ReadYourWritesTimeout)
	policy := GrantPolicy(cfg)
	tenants := authsvc.NewTenants(d.Store, d.Keys, cfg.OperatorTenantID, cfg.IdentityServerURL, cfg.IdentityServerSecret)
	handler := grant.NewHandler(d.Store, policy, tenants.ForGrants)
	client := outbound.NewClient(outbound.Options{UseHTTP: cfg.UseHTTP})
	server, err := authsvc.New(authsvc.Config{
		AuthServerURL: cfg.AuthServerURL, Policy: policy,
		CookieKey: []byte(cfg.CookieKey), CookieSameSite: sameSite(cfg.InteractionCookieSameSite),
		Signatures: httpsig.Options{Replay: httpsig.RedisReplayGuard{Redis: d.Redis, Prefix: "gnap:signature:"}},
	}, authsvc.Deps{
		Handler: handler, Lookup: store, Store: d.Store, Tenants: tenants,
		Keys: httpsig.NewJWKSFetcher(httpsig.FetcherOptions{Client: client}), Client: client, Log: d.Log,
	})
	if err != nil {
		return nil, err
	}
	return &Auth{Waiter: waiter, Store: store, Grants: handler, Tenants: tenants, Server: server}, nil
}

// AdminHandler is the signed auth admin GraphQL endpoint, on the auth admin
// port: the same signatures as the backend's, each tenant's secret read
// from its events.
func (a *Auth) AdminHandler(d *Deps) http.Handler {
	cfg := d.Config
	gql := authadmin.Handler(&authadmin.Resolver{
		Store: a.Store, Grants: a.Grants, Waiter: a.Waiter, ReadYourWritesTimeout: cfg.ReadYourWritesTimeout,
	}, adminapi.Options{Introspection: cfg.GraphQLIntrospection, Log: d.Log})
	auth := adminauth.Middleware(adminauth.Config{
		OperatorSecret: cfg.AdminAPISecret, SignatureVersion: cfg.AdminSignatureVersion, TTL: cfg.AdminSignatureTTL,
	}, operatorSecrets{operatorID: cfg.OperatorTenantID, secret: cfg.AdminAPISecret, read: a.Tenants}, d.Redis, d.Log)
	r := chi.NewRouter()
	r.Handle("/graphql", auth(gql))
	return r
}
