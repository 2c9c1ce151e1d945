package grant

import (
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// Finished is what the resource owner's browser is sent back with. For a
// grant with a finish URI: the hash and interact_ref when approved, or the
// result "grant_rejected"; without one the browser gets 202 either way.
type Finished struct {
	Approved    bool
	FinishURI   string
	Hash        string
	InteractRef string
}

// decideFinish ends the interaction the resource owner comes back from: an
// approved interaction approves the pending grant, a denied one finalizes it
// as REJECTED. An interaction still pending, expired, or of a revoked
// grant ends nothing. Finishing again answers the same and records nothing.
// The session nonce (the browser's cookie) is checked before, by the HTTP
// layer.
func decideFinish(s State, c commands.FinishInteraction, now time.Time) ([]events.Event, error) {
	if !s.Exists || s.Interaction == nil || c.InteractionID != s.Interaction.ID || c.Nonce != s.Interaction.Nonce {
		return nil, gnapErr(UnknownInteraction, apperr.NotFound, "unknown interaction")
	}
	if s.Interaction.ExpiredAt(now) {
		return nil, gnapErr(InvalidInteraction, apperr.Unauthenticated, "interaction expired")
	}
	if s.Revoked() {
		return nil, gnapErr(UnknownInteraction, apperr.NotFound, "unknown interaction")
	}
	switch s.Interaction.State {
	case events.InteractionStateApproved:
		if s.State == events.GrantStatePending {
			return []events.Event{&events.GrantApproved{}}, nil
		}
		if s.State == events.GrantStateApproved || s.FinalizationReason == events.FinalizationIssued {
			return nil, nil
		}
	case events.InteractionStateDenied:
		if s.State == events.GrantStatePending {
			return []events.Event{&events.GrantDenied{}}, nil
		}
		if s.FinalizationReason == events.FinalizationRejected {
			return nil, nil
		}
	}
	return nil, gnapErr(InvalidInteraction, apperr.Unauthenticated, "interaction is not active")
}

// finished is the answer to a finished interaction, from the grant as the
// finish left it.
func finished(s State, p Policy) Finished {
	var out Finished
	if s.Interact != nil && s.Interact.Finish != nil {
		out.FinishURI = s.Interact.Finish.URI
	}
	if s.Interaction == nil || s.Interaction.State != events.InteractionStateApproved {
		return out
	}
	out.Approved = true
	if out.FinishURI != "" {
		out.InteractRef = s.Interaction.Ref
		out.Hash = FinishHash(s.Interact.Finish.Nonce, s.Interaction.Nonce, s.Interaction.Ref, GrantEndpoint(p.AuthServerURL, s.TenantID))
	}
	return out
}
