package openpayments

// The guard is how the resource server lets a request in: its GNAP access
// token introspected at the authorization server for the one access the
// route needs, then its HTTP signature verified with the key of the client
// the token was granted to, as Rafiki's token introspection and httpsig
// middlewares do. Signatures are also refused when old or used before
// (package httpsig), which Rafiki does not check.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/httpsig"
	"github.com/rafiki-go/rafiki/introspection"
)

// Need is the access a route asks a token for: one action on one type of
// resource, of one wallet address when Identifier is set, in the route's
// tenant.
type Need struct {
	TenantID   string
	Type       string
	Action     string
	Identifier string
}

// Granted is what the token allows the request.
type Granted struct {
	// Action is the action granted: read-all for a read when the grant
	// has it, list-all for a list, the action asked for otherwise.
	Action  string
	GrantID string
	Client  introspection.ClientIdentity
	// ClientKey is the thumbprint of the key of a client known by its key
	// alone (directed identity): what the objects it makes record, since
	// it has no wallet address.
	ClientKey string
	// Limits are the granted item's, for an outgoing payment's creation.
	Limits *events.GrantLimits
}

// Introspector asks the authorization server about a token
// (introspection.Client).
type Introspector interface {
	Introspect(ctx context.Context, token string, access []events.GrantAccess) (introspection.Info, error)
}

// RouteError is a refusal: its status and Rafiki's description.
type RouteError struct {
	Status      int
	Description string
	// Challenge: the answer tells the client where to get a token.
	Challenge bool
	Cause     error
}

func (e *RouteError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Description, e.Cause)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Description)
}

func (e *RouteError) Unwrap() error { return e.Cause }

// Guard checks requests.
type Guard struct {
	introspector Introspector
	keys         *httpsig.JWKSFetcher
	signatures   httpsig.Options
	// grantURL is AUTH_SERVER_GRANT_URL, named in challenges.
	grantURL string
}

// NewGuard checks tokens with introspector and signatures with keys and
// signatures (its PublicBaseURL is OPEN_PAYMENTS_URL).
func NewGuard(introspector Introspector, keys *httpsig.JWKSFetcher, signatures httpsig.Options, authServerGrantURL string) *Guard {
	return &Guard{introspector: introspector, keys: keys, signatures: signatures, grantURL: authServerGrantURL}
}

// Authorize lets a request in when its token grants need and it is signed
// by the token's client; body is the request's body as received.
func (g *Guard) Authorize(r *http.Request, body []byte, need Need) (Granted, error) {
	token, ok := gnapToken(r)
	if !ok {
		return Granted{}, &RouteError{Status: http.StatusUnauthorized, Description: "Missing or invalid authorization header value", Challenge: true}
	}
	info, err := g.introspector.Introspect(r.Context(), token, []events.GrantAccess{{
		Type: need.Type, Actions: []string{need.Action}, Identifier: need.Identifier,
	}})
	if err != nil {
		return Granted{}, &RouteError{Status: http.StatusUnauthorized, Description: "Invalid Token", Challenge: true, Cause: err}
	}
	switch {
	case !info.Active:
		return Granted{}, &RouteError{Status: http.StatusForbidden, Description: "Inactive Token", Challenge: true}
	case len(info.Access) == 0, !ofTenant(info, need.TenantID):
		return Granted{}, &RouteError{Status: http.StatusForbidden, Description: "Insufficient Grant", Challenge: true}
	case len(info.Access) != 1 || info.Client == nil:
		return Granted{}, &RouteError{Status: http.StatusInternalServerError, Description: "Unexpected number of access items"}
	}
	item := info.Access[0]
	out := Granted{Action: need.Action, GrantID: info.Grant, Client: *info.Client, Limits: item.Limits}
	switch {
	case need.Action == grant.ActionRead && contains(item.Actions, grant.ActionReadAll):
		out.Action = grant.ActionReadAll
	case need.Action == grant.ActionList && contains(item.Actions, grant.ActionListAll):
		out.Action = grant.ActionListAll
	}
	if err := g.Verify(r, body, out.Client); err != nil {
		return Granted{}, err
	}
	if out.Client.WalletAddress == "" {
		// Rafiki narrows nothing for such a client: its read and list
		// (granted without interaction) read everyone's, as read-all and
		// list-all, which LIST_ALL_ACCESS_INTERACTION keeps for grants the
		// resource owner agreed to. Here they read the objects its key made.
		jwk, err := httpsig.ParseJWK(out.Client.JWK)
		if err != nil {
			return Granted{}, &RouteError{Status: http.StatusUnauthorized, Description: "Signature validation error: invalid client key", Cause: err}
		}
		out.ClientKey = jwk.Thumbprint()
	}
	return out, nil
}

// Owns tells whether an object recorded as made by client (a wallet
// address) or clientKey (a key's thumbprint) was made by the requesting
// client.
func (g Granted) Owns(client, clientKey string) bool {
	if g.Client.WalletAddress != "" {
		return client == g.Client.WalletAddress
	}
	return g.ClientKey != "" && clientKey == g.ClientKey
}

// ofTenant tells whether the grant is the tenant's: issued by its
// authorization server, which also serves other tenants. A grant another
// tenant issued names wallet addresses that tenant may not give access to.
// An authorization server that does not tell (Rafiki's) is taken at its
// word, as Rafiki's resource server takes it.
func ofTenant(info introspection.Info, tenantID string) bool {
	return info.TenantID == "" || info.TenantID == tenantID
}

// Verify checks that the request is signed by client: with the key of its
// wallet address's jwks.json, or the key it gave inline.
func (g *Guard) Verify(r *http.Request, body []byte, client introspection.ClientIdentity) error {
	var keys httpsig.KeySource
	switch {
	case client.WalletAddress != "":
		keys = g.keys.For(client.WalletAddress)
	case len(client.JWK) > 0:
		jwk, err := httpsig.ParseJWK(client.JWK)
		if err != nil {
			return &RouteError{Status: http.StatusUnauthorized, Description: "Signature validation error: invalid client key", Cause: err}
		}
		keys = httpsig.InlineKey(jwk)
	default:
		return &RouteError{Status: http.StatusUnauthorized, Description: "Signature validation error: missing client info"}
	}
	if _, err := httpsig.Verify(r, body, keys, g.signatures); err != nil {
		if httpsig.ReasonOf(err) == httpsig.ReasonReplayGuardUnavailable {
			return &RouteError{Status: http.StatusServiceUnavailable, Description: "Signature validation unavailable, retry later", Cause: err}
		}
		return &RouteError{Status: http.StatusUnauthorized, Description: "Signature validation error: " + signatureProblem(err), Cause: err}
	}
	return nil
}

// signatureProblem is what the client is told of a refused signature.
func signatureProblem(err error) string {
	switch httpsig.ReasonOf(err) {
	case httpsig.ReasonKeyUnavailable:
		return "could not retrieve client keys"
	case httpsig.ReasonUnknownKey:
		return "could not find key in list of client keys"
	}
	return "provided signature is invalid"
}

// gnapToken is the token of "Authorization: GNAP <token>".
func gnapToken(r *http.Request) (string, bool) {
	parts := strings.Split(r.Header.Get("Authorization"), " ")
	if len(parts) != 2 || parts[0] != "GNAP" || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// WriteError answers a refusal with Rafiki's Open Payments error body,
// `{"error":{"code":"<status>","description":…}}`, and, for a missing or
// unusable token, a challenge naming the authorization server.
func (g *Guard) WriteError(w http.ResponseWriter, err error) {
	var e *RouteError
	if !errors.As(err, &e) {
		e = &RouteError{Status: http.StatusInternalServerError, Description: "Internal Server Error"}
	}
	if e.Challenge && g.grantURL != "" {
		w.Header().Set("WWW-Authenticate", "GNAP as_uri="+g.grantURL)
	}
	writeError(w, e.Status, e.Description)
}
