package walletaddress

import (
	"net/url"
	"strings"

	"github.com/rafiki-go/rafiki/valid"
)

// Paths of Open Payments resources; a wallet address must not contain them,
// or its resources could not be told apart from it.
var forbiddenPaths = []string{"/incoming-payments", "/outgoing-payments", "/quotes"}

// resolveAddress turns a requested address (a full URL, or a path) into the
// wallet address URL. base is the tenant's WALLET_ADDRESS_URL setting, or for
// the operator OPEN_PAYMENTS_URL when it has none; a full URL must have its
// scheme and lie in its space, on whole path segments:
// "https://a.example/ali" holds "https://a.example/ali/x" but not
// "https://a.example/alice". URLs are kept in lower case, as they are
// compared.
func resolveAddress(requested, base string) (string, error) {
	baseURL, err := url.Parse(base)
	if err != nil || baseURL.Scheme == "" || baseURL.Host == "" {
		return "", errInvalidURL()
	}
	var full string
	if u, err := url.Parse(requested); err == nil && u.Scheme != "" && u.Host != "" {
		if !strings.EqualFold(u.Scheme, baseURL.Scheme) || !valid.URLWithin(requested, base) {
			return "", errInvalidURL()
		}
		full = u.String()
	} else {
		prefix := baseURL.Scheme + "://" + baseURL.Host + baseURL.Path
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		full = prefix + strings.TrimPrefix(requested, "/")
	}
	if !validAddress(full) {
		return "", errInvalidURL()
	}
	return strings.ToLower(full), nil
}

// validAddress accepts https URLs, and http ones for development setups
// whose OPEN_PAYMENTS_URL is http, with a path that is not the root and
// whose segments read the same to every component (valid.SpaceURL).
func validAddress(address string) bool {
	u, err := url.Parse(address)
	if err != nil || !valid.SpaceURL(address) {
		return false
	}
	// The root, a trailing slash (its URL is served without it) and a key
	// set's name (served as the key set of the address above) could never
	// be served as this address.
	if u.Path == "" || strings.HasSuffix(u.Path, "/") || strings.HasSuffix(u.Path, "/jwks.json") {
		return false
	}
	for _, p := range forbiddenPaths {
		if strings.Contains(u.Path, p) {
			return false
		}
	}
	return true
}
