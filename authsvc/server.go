package authsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/httpsig"
)

// bodyBytesMax bounds a request body: a grant request holds a handful of
// access items (the grant handler refuses more), a continuation one field.
const bodyBytesMax = 64 << 10

// Config is the auth service's configuration the endpoints need.
type Config struct {
	// AuthServerURL (AUTH_SERVER_URL) is the public URL clients address
	// the server by; continuation, token and interaction URLs are made from
	// it and signatures are verified against it.
	AuthServerURL string
	// Policy is the grant handler's: Wait is answered to clients, the
	// interaction expiry bounds the session cookie.
	Policy grant.Policy
	// CookieKey (COOKIE_KEY) signs the interaction session cookie, sent
	// with CookieSameSite (INTERACTION_COOKIE_SAME_SITE; 0 sends none).
	CookieKey      []byte
	CookieSameSite http.SameSite
	// Signatures configures verification; its PublicBaseURL is set from
	// AuthServerURL.
	Signatures httpsig.Options
}

// Deps are what the endpoints work with.
type Deps struct {
	Handler *grant.Handler
	// Lookup finds grants from continuation, token and interaction ids.
	Lookup Grants
	// Store reads a grant's events: its client and access, answered
	// without waiting for a read model.
	Store   handlers.Store
	Tenants *Tenants
	// Keys resolves clients' keys from their wallet addresses.
	Keys *httpsig.JWKSFetcher
	// Client fetches clients' wallet addresses (outbound.NewClient).
	Client *http.Client
	// Revoked, when set, runs after a revocation or a rotation is stored
	// (at sequence) and before it is answered, so that nothing that reads
	// tokens elsewhere (introspection) finds the revoked one active once
	// the client was told it is gone.
	Revoked func(ctx context.Context, grantID string, sequence uint64) error
	Log     *slog.Logger
}

// Server serves the GNAP endpoints and the identity provider's API.
type Server struct {
	cfg  Config
	deps Deps
}

// New checks the configuration and builds the server.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Handler == nil || deps.Lookup == nil || deps.Store == nil || deps.Tenants == nil || deps.Keys == nil || deps.Client == nil {
		return nil, errors.New("authsvc: a grant handler, grant lookup, store, tenants, key fetcher and HTTP client are required")
	}
	if len(cfg.CookieKey) == 0 {
		return nil, errors.New("authsvc: COOKIE_KEY must be set")
	}
	cfg.AuthServerURL = strings.TrimRight(cfg.AuthServerURL, "/")
	base, err := url.Parse(cfg.AuthServerURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("authsvc: AUTH_SERVER_URL %q is not an http(s) URL", cfg.AuthServerURL)
	}
	cfg.Signatures.PublicBaseURL = base
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	return &Server{cfg: cfg, deps: deps}, nil
}

// Routes are the GNAP endpoints (AUTH_PORT).
func (s *Server) Routes() http.Handler {
	r := chi.NewRouter()
	r.Get("/discovery", s.discovery)
	r.Post("/continue/{id}", s.continueGrant)
	r.Delete("/continue/{id}", s.revokeGrant)
	r.Post("/token/{id}", s.rotateToken)
	r.Delete("/token/{id}", s.revokeToken)
	r.Get("/interact/{id}/{nonce}", s.startInteraction)
	r.Get("/interact/{id}/{nonce}/finish", s.finishInteraction)
	r.Post("/{tenantID}", s.requestGrant)
	return r
}

// InteractionRoutes are the identity provider's API (INTERACTION_PORT).
func (s *Server) InteractionRoutes() http.Handler {
	r := chi.NewRouter()
	r.Get("/grant/{id}/{nonce}", s.grantDetails)
	r.Post("/grant/{id}/{nonce}/{choice}", s.choose)
	return r
}

func (s *Server) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"grant_request_endpoint":             "/",
		"interaction_start_modes_supported":  []string{"redirect"},
		"interaction_finish_modes_supported": []string{"redirect"},
	})
}

// meta is a new command's: every GNAP request is a new command, as its
// signature may be used once.
func meta() commands.Meta {
	id := uuid.NewString()
	return commands.Meta{ID: id, CorrelationID: id}
}

// readBody reads a request's body, at most bodyBytesMax.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, bodyBytesMax+1))
	if err != nil {
		return nil, refusal(grant.InvalidRequest, apperr.InvalidInput, "unreadable body")
	}
	if len(body) > bodyBytesMax {
		return nil, refusal(grant.InvalidRequest, apperr.InvalidInput, "body too large")
	}
	return body, nil
}

// verify checks the request's signature with the key of client.
func (s *Server) verify(r *http.Request, body []byte, client events.GrantClient) error {
	var keys httpsig.KeySource
	if len(client.JWK) > 0 {
		k, err := httpsig.ParseJWK(client.JWK)
		if err != nil {
			return err
		}
		keys = httpsig.InlineKey(k)
	} else {
		keys = s.deps.Keys.For(client.WalletAddress)
	}
	_, err := httpsig.Verify(r, body, keys, s.cfg.Signatures)
	return err
}

// gnapToken is the token of an "Authorization: GNAP <token>" header.
func gnapToken(r *http.Request) string {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "GNAP ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(token)
}

// loadGrant folds a grant's events; it answers from the event store, so a
// grant is seen the moment its events are acknowledged.
func (s *Server) loadGrant(ctx context.Context, ref GrantRef) (grant.State, error) {
	subject, err := handlers.Subject(ref.TenantID, grant.AggregateType, ref.GrantID)
	if err != nil {
		return grant.State{}, err
	}
	st, _, err := handlers.Load(ctx, s.deps.Store, subject, grant.Evolve)
	if err != nil {
		return grant.State{}, fmt.Errorf("load grant %s: %w", ref.GrantID, err)
	}
	return st, nil
}

func (s *Server) continueURI(continueID string) string {
	return s.cfg.AuthServerURL + "/continue/" + continueID
}

func (s *Server) manageURI(tokenID string) string {
	return s.cfg.AuthServerURL + "/token/" + tokenID
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// revoked runs the Revoked hook, when there is one.
func (s *Server) revoked(ctx context.Context, grantID string, sequence uint64) error {
	if s.deps.Revoked == nil {
		return nil
	}
	return s.deps.Revoked(ctx, grantID, sequence)
}
