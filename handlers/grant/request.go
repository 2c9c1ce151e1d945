package grant

import (
	"slices"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// Tenant is what a grant request needs to know of its tenant.
type Tenant struct {
	Exists bool
	// HasIDP: the tenant has an identity provider (idpConsentUrl and
	// idpSecret), without which no resource owner can be asked.
	HasIDP bool
}

// needsInteraction is Rafiki's canSkipInteraction turned around: a grant
// is non-interactive when it asks about no subject and every access item is
// an incoming payment or a quote whose interaction the policy does not ask
// for (nor for its list-all). An item that needs interaction must name its
// wallet address.
func needsInteraction(c commands.RequestGrant, p Policy) (bool, error) {
	if len(c.Subject) == 0 && len(c.Access) == 0 {
		return false, gnapErr(InvalidRequest, apperr.InvalidInput, "subject or access_token required")
	}
	skipAll := true
	for _, a := range c.Access {
		listAllAsked := slices.Contains(a.Actions, ActionListAll) && p.ListAllInteraction
		skip := (a.Type == TypeIncomingPayment && !p.IncomingPaymentInteraction && !listAllAsked) ||
			(a.Type == TypeQuote && !p.QuoteInteraction && !listAllAsked)
		if !skip && a.Identifier == "" {
			return false, gnapErr(InvalidRequest, apperr.InvalidInput, "access identifier required")
		}
		skipAll = skipAll && skip
	}
	return len(c.Subject) > 0 || !skipAll, nil
}

// decideRequest creates a grant. A non-interactive one is APPROVED and gets
// its access token at once; an interactive one is PENDING and starts its
// interaction, which needs the client to ask for it, a tenant with an
// identity provider and a client known by wallet address (a key given
// inline names no one the resource owner could be shown).
func decideRequest(s State, c commands.RequestGrant, p Policy, t Tenant, f Fresh) ([]events.Event, error) {
	if s.Exists {
		return nil, apperr.E(apperr.Duplicate, "grant exists")
	}
	if !t.Exists {
		return nil, apperr.E(apperr.NotFound, "Tenant not found")
	}
	for _, a := range c.Access {
		if a.Limits != nil && a.Limits.DebitAmount != nil && a.Limits.ReceiveAmount != nil {
			return nil, gnapErr(InvalidRequest, apperr.InvalidInput, "only one access amount allowed")
		}
	}
	interactive, err := needsInteraction(c, p)
	if err != nil {
		return nil, err
	}
	requested := &events.GrantRequested{
		State: events.GrantStateApproved, Access: c.Access, Subject: c.Subject, Client: c.Client, Interact: c.Interact,
		ContinueID: f.ContinueID, ContinueTokenHash: TokenHash(f.ContinueToken),
	}
	if !interactive {
		requested.AccessToken = issue(f, p)
		return []events.Event{requested}, nil
	}
	switch {
	case c.Interact == nil:
		return nil, gnapErr(InvalidRequest, apperr.InvalidInput, "missing required request field 'interact'")
	case !t.HasIDP:
		return nil, gnapErr(InvalidRequest, apperr.InvalidInput, "invalid tenant")
	case c.Client.WalletAddress == "":
		return nil, gnapErr(InvalidClient, apperr.InvalidInput, "JWK client identifier cannot be used for interactive grants")
	}
	requested.State = events.GrantStatePending
	requested.Interaction = &events.InteractionStarted{
		InteractionID: f.InteractionID, Nonce: f.InteractNonce, Ref: f.InteractRef,
		ExpiresInSeconds: int64(p.InteractionExpiry.Seconds()),
	}
	return []events.Event{requested}, nil
}

func issue(f Fresh, p Policy) *events.AccessTokenIssued {
	return &events.AccessTokenIssued{
		TokenID: f.TokenID, ValueHash: TokenHash(f.TokenValue), ExpiresInSeconds: int64(p.AccessTokenExpiry.Seconds()),
	}
}

// Interactive tells whether a grant request will need its resource owner's
// interaction, as Request decides it, so that what only an interactive
// grant needs (the client's display name) is fetched for those alone.
func Interactive(c commands.RequestGrant, p Policy) (bool, error) {
	return needsInteraction(c, p)
}
