package grant

import (
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideChoice records the identity provider's answer for the resource
// owner: accept approves the interaction, reject denies it. It must name
// the interaction by id and nonce, the grant must not be rejected or
// revoked, and the interaction must still be pending and unexpired. The
// identity provider's secret is checked before, by the HTTP layer.
func decideChoice(s State, c commands.InteractionChoice, accept bool, now time.Time) ([]events.Event, error) {
	if !s.Exists || s.Interaction == nil || c.InteractionID != s.Interaction.ID || c.Nonce != s.Interaction.Nonce {
		return nil, gnapErr(UnknownInteraction, apperr.NotFound, "unknown interaction")
	}
	if s.State == events.GrantStateFinalized && s.FinalizationReason != events.FinalizationIssued {
		return nil, gnapErr(UserDenied, apperr.Unauthenticated, "user denied interaction")
	}
	if s.Interaction.State != events.InteractionStatePending || s.Interaction.ExpiredAt(now) {
		return nil, gnapErr(InvalidInteraction, apperr.InvalidInput, "invalid interaction")
	}
	if accept {
		return []events.Event{&events.InteractionApproved{}}, nil
	}
	return []events.Event{&events.InteractionRejected{}}, nil
}
