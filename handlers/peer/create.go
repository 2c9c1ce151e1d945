package peer

import (
	"slices"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/asset"
)

// decideCreate creates peer s (whose id derives from the command id, so an
// existing s means the command already ran) in asset a. Checks run in
// Rafiki's order: address, endpoint, asset, then the unique keys, then the
// initial liquidity.
func decideCreate(s State, a asset.State, c commands.CreatePeer, h Holders) ([]events.Event, error) {
	if !validILPAddress(c.StaticILPAddress) {
		return nil, errInvalidStaticILPAddress()
	}
	if !validHTTPURL(c.HTTP.Outgoing.Endpoint) {
		return nil, errInvalidHTTPEndpoint()
	}
	if !a.Active() || !c.Actor.CanActFor(a.TenantID) {
		return nil, errUnknownAsset()
	}
	var tokens []string
	if c.HTTP.Incoming != nil {
		tokens = c.HTTP.Incoming.AuthTokens
	}
	if err := validateTokens(tokens); err != nil {
		return nil, err
	}
	if s.Exists {
		return nil, nil
	}
	if takenByOther(h.Address, s.ID) {
		return nil, errDuplicatePeer()
	}
	for _, t := range tokens {
		if takenByOther(h.Tokens[t], s.ID) {
			return nil, errDuplicateIncomingToken()
		}
	}
	initial := c.InitialLiquidity
	if initial != nil && *initial == 0 {
		initial = nil // Rafiki deposits only a non-zero amount
	}
	if initial != nil && *initial > initialLiquidityMax {
		return nil, InvalidInitialLiquidity()
	}
	return []events.Event{&events.PeerCreated{
		AssetID: a.ID, StaticILPAddress: c.StaticILPAddress, Name: c.Name,
		MaxPacketAmount: c.MaxPacketAmount, LiquidityThreshold: c.LiquidityThreshold,
		IncomingAuthTokens: slices.Clone(tokens),
		OutgoingAuthToken:  c.HTTP.Outgoing.AuthToken, OutgoingEndpoint: c.HTTP.Outgoing.Endpoint,
		Routes: routesOf(c.StaticILPAddress, c.Routes), InitialLiquidity: initial,
	}}, nil
}
