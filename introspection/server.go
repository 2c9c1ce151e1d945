package introspection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
)

// bodyBytesMax bounds a request: a token and a few access items.
const bodyBytesMax = 64 << 10

// accessItemsMax bounds the access items one request asks about.
const accessItemsMax = 32

// Token is an access token as the grants read model holds it, with what its
// grant tells about it.
type Token struct {
	GrantID string
	// TenantID is the tenant whose authorization server issued the grant.
	TenantID     string
	GrantRevoked bool
	Client       events.GrantClient
	Access       []events.GrantAccess
	CreatedAt    time.Time
	ExpiresIn    time.Duration
}

// ExpiresAt is when the token stops being active.
func (t Token) ExpiresAt() time.Time { return t.CreatedAt.Add(t.ExpiresIn) }

// Tokens finds an access token, not revoked, by the SHA-256 of its value
// (grant.TokenHash).
type Tokens interface {
	TokenByValueHash(ctx context.Context, hash string) (Token, bool, error)
}

// Server answers introspection requests on the introspection listener.
type Server struct {
	tokens Tokens
	cache  *Cache[Token]
	now    func() time.Time
	log    *slog.Logger
}

// NewServer answers from tokens, through cache (which the caller makes
// follow the grant events; nil caches nothing).
func NewServer(tokens Tokens, cache *Cache[Token], log *slog.Logger) *Server {
	return &Server{tokens: tokens, cache: cache, now: time.Now, log: log}
}

// Introspect answers about one token.
func (s *Server) Introspect(ctx context.Context, req Request) (Info, error) {
	hash := grant.TokenHash(req.AccessToken)
	tok, ok := s.cached(hash)
	if !ok {
		var found bool
		var err error
		if tok, found, err = s.tokens.TokenByValueHash(ctx, hash); err != nil {
			return Info{}, fmt.Errorf("introspect: %w", err)
		}
		if !found {
			return Info{}, nil
		}
		if s.cache != nil && !tok.GrantRevoked {
			s.cache.Put(hash, tok.GrantID, tok, tok.ExpiresAt())
		}
	}
	return answer(tok, req.Access, s.now()), nil
}

func (s *Server) cached(hash string) (Token, bool) {
	if s.cache == nil {
		return Token{}, false
	}
	return s.cache.Get(hash)
}

// answer is Rafiki's introspection rule: a token that expired or whose grant
// was revoked is inactive; an active one answers the granted access items
// that cover the requested ones (none when none was asked about).
func answer(tok Token, requested []events.GrantAccess, now time.Time) Info {
	if tok.GrantRevoked || now.After(tok.ExpiresAt()) {
		return Info{}
	}
	var found []events.GrantAccess
	for _, want := range requested {
		for _, have := range tok.Access {
			if grant.AccessSatisfies(want, have) {
				found = append(found, have)
				break
			}
		}
	}
	// Rounded down, so that no one keeps the answer past the expiry.
	return Info{Active: true, Grant: tok.GrantID, Access: found, Client: clientOf(tok.Client), TenantID: tok.TenantID,
		ExpiresAt: tok.ExpiresAt().Unix()}
}

func clientOf(c events.GrantClient) *ClientIdentity {
	if len(c.JWK) > 0 {
		return &ClientIdentity{JWK: c.JWK}
	}
	return &ClientIdentity{WalletAddress: c.WalletAddress}
}

// ServeHTTP takes POST / with {access_token, access?}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		writeError(w, http.StatusNotFound, grant.InvalidRequest, "not found")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, grant.InvalidRequest, "introspection takes POST")
		return
	}
	req, err := decodeRequest(http.MaxBytesReader(w, r.Body, bodyBytesMax))
	if err != nil {
		writeError(w, http.StatusBadRequest, grant.InvalidRequest, err.Error())
		return
	}
	info, err := s.Introspect(r.Context(), req)
	if err != nil {
		s.log.Error("introspection failed", "err", err)
		status := http.StatusInternalServerError
		if errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusServiceUnavailable
		}
		writeError(w, status, grant.RequestDenied, "introspection failed")
		return
	}
	body, err := json.Marshal(info)
	if err != nil {
		writeError(w, http.StatusInternalServerError, grant.RequestDenied, "introspection failed")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// decodeRequest reads a request, refusing what the specification does not
// allow: no token, unknown fields, access items without a type or actions.
func decodeRequest(r io.Reader) (Request, error) {
	var req Request
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, fmt.Errorf("invalid introspection request: %w", err)
	}
	if dec.More() {
		return Request{}, errors.New("invalid introspection request: more than one JSON value")
	}
	if req.AccessToken == "" {
		return Request{}, errors.New("invalid introspection request: access_token is required")
	}
	if len(req.Access) > accessItemsMax {
		return Request{}, fmt.Errorf("invalid introspection request: at most %d access items", accessItemsMax)
	}
	for i, a := range req.Access {
		if a.Type == "" || len(a.Actions) == 0 {
			return Request{}, fmt.Errorf("invalid introspection request: access[%d] needs a type and actions", i)
		}
	}
	return req, nil
}

// writeError answers a GNAP error body, as Rafiki's authorization server
// answers every refusal.
func writeError(w http.ResponseWriter, status int, code grant.Code, description string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": string(code), "description": description}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
