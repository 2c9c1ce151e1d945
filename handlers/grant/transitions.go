package grant

import (
	"fmt"

	"github.com/rafiki-go/rafiki/events"
)

// checkTransitions asserts that decided events only take the grant along
// its legal transitions: a grant is requested once, PENDING with its
// interaction started or APPROVED with its token;
// PENDING becomes APPROVED or FINALIZED (REJECTED); APPROVED becomes
// FINALIZED (ISSUED); any grant but a revoked one becomes FINALIZED
// (REVOKED). The interaction goes from PENDING to APPROVED, DENIED or
// expired, once. Tokens are issued only on an APPROVED grant, and rotated
// or revoked only while live. A decision that breaks them is a bug: the
// handler refuses to append it.
func checkTransitions(s State, evs []events.Event) error {
	for _, ev := range evs {
		if err := legal(s, ev); err != nil {
			return fmt.Errorf("illegal %s on grant %s: %w", ev.EventType(), s.ID, err)
		}
		s = Evolve(s, events.Envelope{AggregateID: s.ID, TenantID: s.TenantID}, ev)
	}
	return nil
}

func legal(s State, ev events.Event) error {
	if _, requested := ev.(*events.GrantRequested); requested != !s.Exists {
		return fmt.Errorf("grant exists: %t", s.Exists)
	}
	interactionPending := s.Interaction != nil && s.Interaction.State == events.InteractionStatePending && !s.Interaction.Expired
	var ok bool
	switch e := ev.(type) {
	case *events.GrantRequested:
		// PENDING with its interaction started, or APPROVED with its token.
		ok = e.State == events.GrantStatePending && e.Interaction != nil && e.AccessToken == nil ||
			e.State == events.GrantStateApproved && e.AccessToken != nil && e.Interaction == nil
	case *events.GrantPolled:
		ok = s.State == events.GrantStatePending
	case *events.GrantApproved, *events.GrantDenied:
		ok = s.State == events.GrantStatePending
	case *events.GrantFinalized:
		ok = s.State == events.GrantStateApproved
	case *events.GrantRevoked:
		ok = !s.Revoked()
	case *events.InteractionStarted:
		ok = s.Interaction == nil && s.State == events.GrantStatePending
	case *events.InteractionApproved, *events.InteractionRejected, *events.InteractionExpired:
		ok = interactionPending
	case *events.AccessTokenIssued:
		_, dup := s.Tokens[e.TokenID]
		ok = s.State == events.GrantStateApproved && !dup && e.TokenID != ""
	case *events.AccessTokenRotated:
		_, live := s.Tokens[e.PreviousTokenID]
		_, dup := s.Tokens[e.TokenID]
		ok = live && !dup && e.TokenID != "" && !s.Revoked()
	case *events.AccessTokenRevoked:
		_, ok = s.Tokens[e.TokenID]
	default:
		return fmt.Errorf("not a grant event")
	}
	if !ok {
		return fmt.Errorf("from state %s/%s", s.State, s.FinalizationReason)
	}
	return nil
}
