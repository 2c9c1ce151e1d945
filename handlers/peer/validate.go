package peer

import (
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/rafiki-go/rafiki/apperr"
)

// Errors, with Rafiki's messages (payment-method/ilp/peer/errors.ts).
func errInvalidStaticILPAddress() error { return apperr.E(apperr.InvalidInput, "invalid ILP address") }
func errInvalidHTTPEndpoint() error     { return apperr.E(apperr.InvalidInput, "invalid HTTP endpoint") }
func errUnknownAsset() error            { return apperr.E(apperr.NotFound, "unknown asset") }
func errUnknownPeer() error             { return apperr.E(apperr.NotFound, "unknown peer") }
func errDuplicateIncomingToken() error  { return apperr.E(apperr.Duplicate, "duplicate incoming token") }
func errDuplicatePeer() error {
	return apperr.E(apperr.Duplicate, "duplicate peer found for same ILP address and asset")
}

// InvalidInitialLiquidity is Rafiki's error for an initial deposit that
// cannot be made. Create refuses what it can tell in advance; the caller
// returns this when the deposit itself fails.
func InvalidInitialLiquidity() error {
	return apperr.E(apperr.InvalidInput, "invalid initial liquidity for peer")
}

const (
	// ilpAddressLengthMax and the pattern are ILP addresses as interledger
	// RFC 0015 (and Rafiki's ilp-packet) define them.
	ilpAddressLengthMax = 1023
	// tokenLengthMax is the width of Rafiki's httpTokens.token column.
	tokenLengthMax = 255
	// incomingTokensMax bounds the tokens of one peer: each is a claim
	// message in the peer's append, and an atomic batch holds at most
	// 1,000 messages (an update may claim new tokens and release old ones).
	incomingTokensMax = 100
	// initialLiquidityMax is the largest deposit a ledger takes: Rafiki's
	// ledger amounts are signed 64-bit (ledgerTransfers.amount bigint).
	initialLiquidityMax = math.MaxInt64
)

var ilpAddressPattern = regexp.MustCompile(`^(g|private|example|peer|self|test[1-3]?|local)([.][a-zA-Z0-9_~-]+)+$`)

func validILPAddress(a string) bool {
	return len(a) <= ilpAddressLengthMax && ilpAddressPattern.MatchString(a)
}

// validHTTPURL is Rafiki's isValidHttpUrl: an absolute http or https URL
// with a host name that has no empty labels.
func validHTTPURL(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	host := u.Hostname()
	return host != "" && !slices.Contains(strings.Split(host, "."), "")
}

// validateTokens checks a list of incoming tokens on its own: each
// non-empty and at most as long as Rafiki stores, none twice.
func validateTokens(tokens []string) error {
	if len(tokens) > incomingTokensMax {
		return apperr.E(apperr.InvalidInput, "a peer has at most %d incoming auth tokens", incomingTokensMax)
	}
	seen := make(map[string]bool, len(tokens))
	for _, t := range tokens {
		if t == "" || len(t) > tokenLengthMax {
			return apperr.E(apperr.InvalidInput, "incoming auth tokens must be 1 to %d characters", tokenLengthMax)
		}
		if seen[t] {
			return errDuplicateIncomingToken()
		}
		seen[t] = true
	}
	return nil
}

// Holders tells who holds the unique keys a command asks for: a peer id,
// or "" when the key is free (never claimed, or released).
type Holders struct {
	// Tokens maps each requested incoming token to its holder.
	Tokens map[string]string
	// Address holds the requested (asset, static ILP address) pair.
	Address string
}

// takenByOther tells whether a key is held by a peer other than self.
func takenByOther(holder, self string) bool { return holder != "" && holder != self }

// routesOf is Rafiki's routes column: the static address, then the rest.
func routesOf(address string, extra []string) []string {
	return append([]string{address}, extra...)
}
