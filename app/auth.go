package app

import (
	"net/http"

	"github.com/rafiki-go/rafiki/authsvc"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/httpsig"
	"github.com/rafiki-go/rafiki/outbound"
)

// Auth is the auth service's GNAP side: the grant handler and the
// endpoints over it.
type Auth struct {
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

// NewAuth builds the GNAP endpoints on open connections; lookup finds
// grants from the ids clients and browsers present.
func NewAuth(d *Deps, lookup authsvc.Grants) (*Auth, error) {
	cfg := d.Config
	policy := GrantPolicy(cfg)
	tenants := authsvc.NewTenants(d.Store, d.Keys, cfg.OperatorTenantID, cfg.IdentityServerURL, cfg.IdentityServerSecret)
	handler := grant.NewHandler(d.Store, policy, tenants.ForGrants)
	client := outbound.NewClient(outbound.Options{UseHTTP: cfg.UseHTTP})
	server, err := authsvc.New(authsvc.Config{
		AuthServerURL: cfg.AuthServerURL, Policy: policy,
		CookieKey: []byte(cfg.CookieKey), CookieSameSite: sameSite(cfg.InteractionCookieSameSite),
		Signatures: httpsig.Options{Replay: httpsig.RedisReplayGuard{Redis: d.Redis, Prefix: "gnap:signature:"}},
	}, authsvc.Deps{
		Handler: handler, Lookup: lookup, Store: d.Store, Tenants: tenants,
		Keys: httpsig.NewJWKSFetcher(httpsig.FetcherOptions{Client: client}), Client: client, Log: d.Log,
	})
	if err != nil {
		return nil, err
	}
	return &Auth{Grants: handler, Tenants: tenants, Server: server}, nil
}

// mountAuth serves the GNAP endpoints and the identity provider's API.
// Signed requests need Redis (the replay guard).
func (r *Running) mountAuth(deps *Deps, base []Check) error {
	auth, err := NewAuth(deps, deps.AuthGrants)
	if err != nil {
		return err
	}
	r.Auth = auth
	r.Servers.SetHealth(AuthListener, NewHealth(append(base, RedisCheck(deps.Redis))...))
	r.Servers.Handle(AuthListener, auth.Server.Routes())
	r.Servers.Handle(InteractionListener, auth.Server.InteractionRoutes())
	return nil
}
