package peer

import (
	"math"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/valid"
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
	// routesMax bounds a peer's routes, which every peer event carries.
	routesMax = 100
	// incomingTokensMax bounds the tokens of one peer: each is a claim
	// message in the peer's append, and an atomic batch holds at most
	// 1,000 messages (an update may claim new tokens and release old ones).
	incomingTokensMax = 100
	// initialLiquidityMax is the largest deposit a ledger takes: Rafiki's
	// ledger amounts are signed 64-bit (ledgerTransfers.amount bigint).
	initialLiquidityMax = math.MaxInt64
)

// validILPAddress is an ILP address that fits Rafiki's staticIlpAddress
// column.
func validILPAddress(a string) bool {
	return len(a) <= valid.TextLengthMax && valid.ILPAddress(a)
}

// validHTTPURL is Rafiki's isValidHttpUrl, no wider than its column.
func validHTTPURL(raw string) bool { return valid.HTTPURL(raw, valid.TextLengthMax) }

// checkCreate checks what decideCreate does not: the asset id (returned in
// canonical form), the name, the outgoing token and the routes.
func checkCreate(c commands.CreatePeer) (commands.CreatePeer, error) {
	id, ok := valid.ID(c.AssetID)
	if !ok {
		return c, apperr.E(apperr.InvalidInput, "invalid asset id")
	}
	c.AssetID = id
	return c, checkDetails(c.Name, &c.HTTP, c.Routes)
}

func checkUpdate(c commands.UpdatePeer) (commands.UpdatePeer, error) {
	id, err := checkPeerID(c.PeerID)
	if err != nil {
		return c, err
	}
	c.PeerID = id
	return c, checkDetails(c.Name, c.HTTP, c.Routes)
}

func checkDelete(c commands.DeletePeer) (commands.DeletePeer, error) {
	id, err := checkPeerID(c.PeerID)
	c.PeerID = id
	return c, err
}

func checkPeerID(v string) (string, error) {
	id, ok := valid.ID(v)
	if !ok {
		return "", apperr.E(apperr.InvalidInput, "invalid peer id")
	}
	return id, nil
}

// checkDetails checks a peer's name and routes, and the token presented
// to it, which goes into an HTTP header; nil ones are not set.
func checkDetails(name *string, http *commands.PeerHTTP, routes []string) error {
	if name != nil && !valid.Text(*name, valid.TextLengthMax) {
		return apperr.E(apperr.InvalidInput, "name must be at most %d characters, without control characters", valid.TextLengthMax)
	}
	if http != nil && !valid.Token(http.Outgoing.AuthToken) {
		return apperr.E(apperr.InvalidInput, "the outgoing auth token must be 1 to %d printable characters", valid.TextLengthMax)
	}
	if len(routes) > routesMax {
		return apperr.E(apperr.InvalidInput, "a peer has at most %d routes", routesMax)
	}
	for _, r := range routes {
		if !valid.ILPAddress(r) {
			return apperr.E(apperr.InvalidInput, "invalid route %q: routes are ILP address prefixes", r)
		}
	}
	return nil
}

// validateTokens checks a list of incoming tokens on its own: each
// non-empty and at most as long as Rafiki stores, none twice.
func validateTokens(tokens []string) error {
	if len(tokens) > incomingTokensMax {
		return apperr.E(apperr.InvalidInput, "a peer has at most %d incoming auth tokens", incomingTokensMax)
	}
	seen := make(map[string]bool, len(tokens))
	for _, t := range tokens {
		if !valid.Token(t) {
			return apperr.E(apperr.InvalidInput, "incoming auth tokens must be 1 to %d printable characters", valid.TextLengthMax)
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
