// Package valid holds the checks every command's input goes through before
// anything is appended: ids, bounded text, URLs and ILP addresses, and where
// one URL or ILP address lies inside another's space. Ids end up in NATS
// subjects and read-model keys, so anything but a canonical UUID there could
// address many subjects (wildcards) or none (empty or dotted tokens).
package valid

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/connector/ilp"
)

// TextLengthMax is the width of Rafiki's string columns (varchar(255)), which
// hold every name, secret, token and setting of the admin API.
const TextLengthMax = 255

// ILPAddressLengthMax is interledger RFC 0015's limit.
const ILPAddressLengthMax = 1023

// IsID tells whether id is a UUID in its canonical form (lower case, 36
// characters, dashes after the 8th, 12th, 16th and 20th digit), the only
// form a subject token may take. Every command checks ids, so this is a loop
// rather than a regular expression.
func IsID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// ID reads a UUID written in its 36-character form, in any case, and returns
// it in canonical form; ok is false for anything else.
func ID(v string) (id string, ok bool) {
	if len(v) != 36 {
		return "", false
	}
	u, err := uuid.Parse(v)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// Text tells whether v is valid UTF-8 of at most lengthMax bytes without
// control characters (which would let a value forge log lines or headers).
func Text(v string, lengthMax int) bool {
	return len(v) <= lengthMax && utf8.ValidString(v) &&
		strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) }) < 0
}

// Token tells whether v can be sent in an HTTP header: 1 to
// TextLengthMax printable ASCII characters.
func Token(v string) bool {
	if v == "" || len(v) > TextLengthMax {
		return false
	}
	for i := range len(v) {
		if v[i] < 0x21 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// HTTPURL is Rafiki's isValidHttpUrl with a length limit: an absolute http
// or https URL whose host name has no empty labels. Space around it is
// refused rather than trimmed: the value is stored and used as given, and
// Go's URL parser, unlike JavaScript's, refuses it.
func HTTPURL(v string, lengthMax int) bool {
	if len(v) > lengthMax || !Text(v, lengthMax) || strings.TrimSpace(v) != v {
		return false
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	host := u.Hostname()
	if port := u.Port(); port != "" {
		// Go's parser takes any digits; a connection to port 99999 fails
		// only when it is made.
		if n, err := strconv.Atoi(port); err != nil || n > 65535 {
			return false
		}
	}
	return host != "" && !slices.Contains(strings.Split(host, "."), "")
}

// SpaceURL tells whether v can be the root of a space of URLs (a tenant's
// WALLET_ADDRESS_URL) or a wallet address: an http(s) URL without user,
// query or fragment whose path has no empty, "." or ".." segment and no
// escapes, so that its segments read the same to every component, and
// whose port, if written, is written as a number is (not ":" alone, not
// ":080"), which URL parsers elsewhere read as no port or as 80.
func SpaceURL(v string) bool {
	if !HTTPURL(v, TextLengthMax) {
		return false
	}
	u, err := url.Parse(v)
	if err != nil || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	if port := u.Port(); strings.HasSuffix(u.Host, ":") || strings.HasPrefix(port, "0") {
		return false
	}
	if strings.ContainsAny(u.Path, "%\\") || u.RawPath != "" || strings.Contains(u.Path, "//") {
		return false
	}
	for _, s := range strings.Split(u.Path, "/") {
		if s == "." || s == ".." {
			return false
		}
	}
	return true
}

// ILPAddress tells whether v is an ILP address (interledger RFC 0015), by
// the connector's own check.
func ILPAddress(v string) bool {
	return ilp.ValidateAddress(v) == nil
}

// ILPWithin tells whether ILP address a lies in prefix's space: equal to
// it, or below it on a segment boundary ("test.bank.x" is in "test.bank",
// "test.bankx" is not). Case is ignored, so that no two spaces differ only
// in it.
func ILPWithin(a, prefix string) bool {
	a, prefix = strings.ToLower(a), strings.ToLower(prefix)
	return a == prefix || strings.HasPrefix(a, prefix+".")
}

// URLWithin tells whether URL u lies in base's space: the same host and
// port, and base's path segments a prefix of u's ("https://a.example/ali/x"
// is in "https://a.example/ali", "https://a.example/alice" is not). The
// scheme is not compared: the wallet address server finds addresses by host
// and path. Both must be SpaceURLs.
func URLWithin(u, base string) bool {
	uh, up, ok := hostAndSegments(u)
	bh, bp, bok := hostAndSegments(base)
	return ok && bok && uh == bh && len(bp) <= len(up) && slices.Equal(up[:len(bp)], bp)
}

// URLsOverlap tells whether either URL lies in the other's space.
func URLsOverlap(a, b string) bool { return URLWithin(a, b) || URLWithin(b, a) }

// ILPAddressesOverlap tells whether either address lies in the other's space.
func ILPAddressesOverlap(a, b string) bool { return ILPWithin(a, b) || ILPWithin(b, a) }

// hostAndSegments is a URL's lower-case host (without the scheme's default
// port) and its non-empty path segments, in lower case as wallet addresses
// are stored.
func hostAndSegments(v string) (string, []string, bool) {
	if !SpaceURL(v) {
		return "", nil, false
	}
	u, err := url.Parse(strings.ToLower(v))
	if err != nil {
		return "", nil, false
	}
	host := u.Host
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		host = u.Hostname()
	}
	var segments []string
	for _, s := range strings.Split(u.Path, "/") {
		if s != "" {
			segments = append(segments, s)
		}
	}
	return host, segments, true
}
