package grant

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/rafiki-go/rafiki/events"
)

// Access actions and types, as Open Payments names them.
const (
	ActionCreate   = "create"
	ActionRead     = "read"
	ActionReadAll  = "read-all"
	ActionList     = "list"
	ActionListAll  = "list-all"
	ActionComplete = "complete"

	TypeIncomingPayment = "incoming-payment"
	TypeOutgoingPayment = "outgoing-payment"
	TypeQuote           = "quote"
)

// FinishHash is the interaction hash sent to the client's finish URI
// (GNAP §4.2.3, as Rafiki computes it): the standard base64 of the SHA-256
// of the client's nonce, the interaction's nonce, the interaction reference
// and the grant endpoint URL, each followed by a line feed but the last.
func FinishHash(clientNonce, interactNonce, interactRef, grantEndpoint string) string {
	sum := sha256.Sum256([]byte(clientNonce + "\n" + interactNonce + "\n" + interactRef + "\n" + grantEndpoint))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// GrantEndpoint is the URL a tenant's grants are requested at:
// AUTH_SERVER_URL with one trailing slash, then the tenant id.
func GrantEndpoint(authServerURL, tenantID string) string {
	if !strings.HasSuffix(authServerURL, "/") {
		authServerURL += "/"
	}
	return authServerURL + tenantID
}

// TokenHash is what events keep of a token's value.
func TokenHash(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// tokenMatches compares a presented value with a stored hash in constant
// time, so that the comparison tells an attacker nothing of the hash.
func tokenMatches(value, hash string) bool {
	if value == "" || hash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(TokenHash(value)), []byte(hash)) == 1
}

// AccessSatisfies is Rafiki's rule for introspection: a requested access
// item is covered by a granted one when every requested action is granted
// (read is covered by read-all, list by list-all), the types are equal, the
// identifiers are equal when both are set, and, when the request names
// limits, the granted limits are the same.
func AccessSatisfies(requested, granted events.GrantAccess) bool {
	for _, a := range requested.Actions {
		if !slices.ContainsFunc(granted.Actions, func(g string) bool {
			return g == a || (a == ActionRead && g == ActionReadAll) || (a == ActionList && g == ActionListAll)
		}) {
			return false
		}
	}
	if requested.Limits != nil && !sameLimits(requested.Limits, granted.Limits) {
		return false
	}
	if requested.Type != granted.Type {
		return false
	}
	return requested.Identifier == "" || granted.Identifier == "" || requested.Identifier == granted.Identifier
}

func sameLimits(a, b *events.GrantLimits) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Receiver == b.Receiver && a.Interval == b.Interval &&
		sameAmount(a.DebitAmount, b.DebitAmount) && sameAmount(a.ReceiveAmount, b.ReceiveAmount)
}

func sameAmount(a, b *events.GrantAmount) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Matched lists, for each requested item, the first granted item that
// covers it, as introspection answers them. A requested item nothing covers
// is left out; the token stays active (as in Rafiki), and the resource
// server compares what it got with what it needs.
func Matched(requested, granted []events.GrantAccess) []events.GrantAccess {
	var out []events.GrantAccess
	for _, r := range requested {
		if i := slices.IndexFunc(granted, func(g events.GrantAccess) bool { return AccessSatisfies(r, g) }); i >= 0 {
			out = append(out, granted[i])
		}
	}
	return out
}
