package walletaddress

import (
	"net/url"
	"strings"

	"github.com/rafiki-go/rafiki/apperr"
)

// Paths of Open Payments resources; a wallet address must not contain them,
// or its resources could not be told apart from it.
var forbiddenPaths = []string{"/incoming-payments", "/outgoing-payments", "/quotes"}

// resolveAddress turns a requested address (a full URL, or a path) into the
// wallet address URL. base is the tenant's WALLET_ADDRESS_URL setting, or for
// the operator OPEN_PAYMENTS_URL when it has none; a full URL must start with
// it. URLs are kept in lower case, as they are compared.
func resolveAddress(requested, base string) (string, error) {
	baseURL, err := url.Parse(base)
	if err != nil || baseURL.Scheme == "" || baseURL.Host == "" {
		return "", apperr.E(apperr.InvalidInput, "invalid url")
	}
	var full string
	if u, err := url.Parse(requested); err == nil && u.Scheme != "" && u.Host != "" {
		if !strings.HasPrefix(strings.ToLower(u.String()), strings.ToLower(baseURL.String())) {
			return "", apperr.E(apperr.InvalidInput, "invalid url")
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
		return "", apperr.E(apperr.InvalidInput, "invalid url")
	}
	return strings.ToLower(full), nil
}

// validAddress accepts https URLs, and http ones for development setups
// whose OPEN_PAYMENTS_URL is http, with a path that is not the root.
func validAddress(address string) bool {
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return false
	}
	if u.Path == "" || u.Path == "/" || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Path, "//") {
		return false
	}
	for _, p := range forbiddenPaths {
		if strings.Contains(u.Path, p) {
			return false
		}
	}
	return true
}
