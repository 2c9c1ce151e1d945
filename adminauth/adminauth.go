// Package adminauth authenticates requests to the admin GraphQL API the way
// Rafiki does: each request carries a tenant-id header and a signature
// header holding an HMAC-SHA256, keyed with the tenant's API secret, over a
// millisecond timestamp and the JCS-canonical (RFC 8785) JSON body.
package adminauth

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/ratelog"
)

// maxBodyBytes caps what is buffered for canonicalization; GraphQL admin
// requests are far smaller.
const maxBodyBytes = 1 << 20

// Config configures the middleware.
type Config struct {
	OperatorSecret   string        // ADMIN_API_SECRET
	SignatureVersion int           // ADMIN_API_SIGNATURE_VERSION, default 1 when 0
	TTL              time.Duration // ADMIN_API_SIGNATURE_TTL_SECONDS, default 30s when 0
}

func (c Config) withDefaults() Config {
	if c.SignatureVersion == 0 {
		c.SignatureVersion = 1
	}
	if c.TTL == 0 {
		c.TTL = 30 * time.Second
	}
	return c
}

// Secrets finds a tenant's API secret; found=false for unknown or deleted tenants.
type Secrets interface {
	APISecret(ctx context.Context, tenantID string) (secret string, found bool, err error)
}

// Identity is who an authenticated request comes from.
type Identity struct {
	TenantID   string
	IsOperator bool
}

type identityKey struct{}

// FromContext returns the Identity the middleware attached to the request context.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// WithIdentity attaches id to ctx, for tests and in-process callers.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// Middleware rejects requests that are not signed by a known tenant and
// passes the rest on with their Identity in the context and the body
// restored for the GraphQL handler.
func Middleware(cfg Config, secrets Secrets, rdb redis.UniversalClient, log *slog.Logger) func(http.Handler) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	a := &authenticator{cfg: cfg.withDefaults(), secrets: secrets, rdb: rdb}
	// While Redis or the tenants' secrets cannot be read every request
	// fails so: one line a second.
	failures := ratelog.New(time.Second)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, body, fail := a.authenticate(w, r)
			if fail != nil {
				if fail.err != nil {
					failures.Log(r.Context(), log, slog.LevelError, "admin api authentication failed", "err", fail.err)
				} else {
					log.InfoContext(r.Context(), "admin api request rejected",
						"reason", fail.message, "tenant_id", r.Header.Get("tenant-id"))
				}
				fail.write(w)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		})
	}
}

type authenticator struct {
	cfg     Config
	secrets Secrets
	rdb     redis.UniversalClient
}

// failure is a rejected request. err is set for server-side faults, which
// are logged but not shown to the client.
type failure struct {
	status  int
	code    string
	message string
	err     error
}

func unauthenticated(format string, args ...any) *failure {
	return &failure{status: http.StatusUnauthorized, code: "UNAUTHENTICATED", message: fmt.Sprintf(format, args...)}
}

func internal(err error) *failure {
	if apperr.KindOf(err) == apperr.Unavailable {
		return unavailable(apperr.Message(err), err)
	}
	return &failure{status: http.StatusInternalServerError, code: "INTERNAL_SERVER_ERROR", message: "internal server error", err: err}
}

// unavailable is a request that could not be checked because a service it
// needs did not answer; the client may retry it.
func unavailable(message string, err error) *failure {
	row := apperr.Lookup(apperr.Unavailable)
	return &failure{status: row.HTTP, code: row.GraphQL, message: message, err: err}
}

// write sends the failure in the GraphQL error shape clients already parse.
func (f *failure) write(w http.ResponseWriter) {
	type extensions struct {
		Code string `json:"code"`
	}
	type gqlError struct {
		Message    string     `json:"message"`
		Extensions extensions `json:"extensions"`
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	_ = json.NewEncoder(w).Encode(struct {
		Errors []gqlError `json:"errors"`
	}{[]gqlError{{f.message, extensions{f.code}}}})
}

// authenticate runs the cheap header checks first and touches Postgres and
// Redis last, so junk requests cost as little as possible.
func (a *authenticator) authenticate(w http.ResponseWriter, r *http.Request) (Identity, []byte, *failure) {
	// Only the body is signed, so only a request whose whole meaning is its
	// body may pass: a GET carries its query in the URL, which no signature
	// covers.
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		row := apperr.Lookup(apperr.MethodNotAllowed)
		return Identity{}, nil, &failure{status: row.HTTP, code: row.GraphQL, message: "only signed POST requests are accepted"}
	}
	tenantHeader, sigHeader := r.Header.Get("tenant-id"), r.Header.Get("signature")
	if tenantHeader == "" {
		return Identity{}, nil, unauthenticated("missing tenant-id header")
	}
	if sigHeader == "" {
		return Identity{}, nil, unauthenticated("missing signature header")
	}
	tenantID, err := uuid.Parse(tenantHeader)
	if err != nil {
		return Identity{}, nil, unauthenticated("tenant-id header is not a UUID")
	}
	sig, err := parseSignatureHeader(sigHeader)
	if err != nil {
		return Identity{}, nil, unauthenticated("malformed signature header: %v", err)
	}
	if sig.version != a.cfg.SignatureVersion {
		return Identity{}, nil, unauthenticated("unsupported signature version %d, expected %d", sig.version, a.cfg.SignatureVersion)
	}
	switch age := time.Since(time.UnixMilli(sig.timestamp)); {
	case age > a.cfg.TTL:
		return Identity{}, nil, unauthenticated("signature has expired")
	case age < -a.cfg.TTL:
		return Identity{}, nil, unauthenticated("signature timestamp is in the future")
	}

	body, fail := readBody(w, r)
	if fail != nil {
		return Identity{}, nil, fail
	}
	canonical, err := canonicalJSON(body)
	if errors.Is(err, ErrInexactInteger) {
		return Identity{}, nil, unauthenticated("%v", err)
	}
	if err != nil {
		return Identity{}, nil, unauthenticated("request body is not valid JSON")
	}

	secret, found, err := a.secrets.APISecret(r.Context(), tenantID.String())
	if err != nil {
		return Identity{}, nil, internal(fmt.Errorf("looking up API secret of tenant %s: %w", tenantID, err))
	}
	// An empty secret would make the HMAC forgeable by anyone.
	if !found || secret == "" {
		return Identity{}, nil, unauthenticated("unknown tenant")
	}
	if !sig.matches(secret, canonical) {
		return Identity{}, nil, unauthenticated("signature does not match")
	}

	fresh, err := a.firstUse(r.Context(), tenantID.String(), sig, time.Now())
	if err != nil {
		return Identity{}, nil, unavailable("The replay guard (Redis) did not answer, so the signature cannot be checked. Retry later.",
			fmt.Errorf("recording signature for replay protection: %w", err))
	}
	if !fresh {
		return Identity{}, nil, unauthenticated("signature has already been used")
	}

	isOperator := a.cfg.OperatorSecret != "" &&
		subtle.ConstantTimeCompare([]byte(secret), []byte(a.cfg.OperatorSecret)) == 1
	// What runs is what was signed: the canonical form, not the body as
	// sent. The API reads a number's digits as sent (a String argument
	// given 1e2 is "1e2"), while the canonical form writes the float64
	// nearest them (100), so a body signed with 100 could run with 1e2.
	// Rafiki runs the numbers JavaScript parsed, as the canonical form
	// writes them.
	return Identity{TenantID: tenantID.String(), IsOperator: isOperator}, canonical, nil
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *failure) {
	if r.Body == nil {
		return nil, unauthenticated("request body is not valid JSON")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &failure{status: http.StatusRequestEntityTooLarge, code: "BAD_USER_INPUT", message: "request body too large"}
	case err != nil:
		return nil, &failure{status: http.StatusBadRequest, code: "BAD_USER_INPUT", message: "could not read request body"}
	}
	return body, nil
}
