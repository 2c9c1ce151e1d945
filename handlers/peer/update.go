package peer

import (
	"slices"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// visible is a live peer the actor may act on; anything else is unknown.
func visible(s State, actor commands.Actor) error {
	if !s.Active() || !actor.CanActFor(s.TenantID) {
		return errUnknownPeer()
	}
	return nil
}

// decideUpdate changes what the command sets and records only what differs.
// New incoming tokens replace all the current ones. The routes keep the
// static address first: changing the address without new routes keeps the
// other routes behind the new address.
func decideUpdate(s State, c commands.UpdatePeer, h Holders) ([]events.Event, error) {
	if c.StaticILPAddress != nil && !validILPAddress(*c.StaticILPAddress) {
		return nil, errInvalidStaticILPAddress()
	}
	if c.HTTP != nil && !validHTTPURL(c.HTTP.Outgoing.Endpoint) {
		return nil, errInvalidHTTPEndpoint()
	}
	if err := visible(s, c.Actor); err != nil {
		return nil, err
	}
	e := &events.PeerUpdated{}
	if c.HTTP != nil {
		if in := c.HTTP.Incoming; in != nil {
			if err := validateTokens(in.AuthTokens); err != nil {
				return nil, err
			}
			for _, t := range in.AuthTokens {
				if takenByOther(h.Tokens[t], s.ID) {
					return nil, errDuplicateIncomingToken()
				}
			}
			if !sameSet(in.AuthTokens, s.IncomingAuthTokens) {
				tokens := slices.Clone(in.AuthTokens)
				if tokens == nil {
					tokens = []string{}
				}
				e.IncomingAuthTokens = &tokens
			}
		}
		e.OutgoingAuthToken = changed(s.OutgoingAuthToken, c.HTTP.Outgoing.AuthToken)
		e.OutgoingEndpoint = changed(s.OutgoingEndpoint, c.HTTP.Outgoing.Endpoint)
	}
	address := s.StaticILPAddress
	if c.StaticILPAddress != nil && *c.StaticILPAddress != s.StaticILPAddress {
		if takenByOther(h.Address, s.ID) {
			return nil, errDuplicatePeer()
		}
		address = *c.StaticILPAddress
		e.StaticILPAddress = &address
	}
	if c.Name != nil {
		e.Name = changedPtr(s.Name, *c.Name)
	}
	if c.MaxPacketAmount != nil {
		e.MaxPacketAmount = changedPtr(s.MaxPacketAmount, *c.MaxPacketAmount)
	}
	if c.LiquidityThreshold != nil {
		e.LiquidityThreshold = changedPtr(s.LiquidityThreshold, *c.LiquidityThreshold)
	}
	extra := extraRoutes(s)
	if c.Routes != nil {
		extra = c.Routes
	}
	if routes := routesOf(address, extra); !slices.Equal(routes, s.Routes) {
		e.Routes = &routes
	}
	if *e == (events.PeerUpdated{}) {
		return nil, nil
	}
	return []events.Event{e}, nil
}

// extraRoutes are the peer's routes besides its static address.
func extraRoutes(s State) []string {
	if len(s.Routes) > 0 && s.Routes[0] == s.StaticILPAddress {
		return s.Routes[1:]
	}
	return s.Routes
}

func changed[T comparable](current, want T) *T {
	if current == want {
		return nil
	}
	return &want
}

func changedPtr[T comparable](current *T, want T) *T {
	if current != nil && *current == want {
		return nil
	}
	return &want
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
