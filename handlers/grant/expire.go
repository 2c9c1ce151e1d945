package grant

import (
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/events"
)

// decideExpire records that a pending interaction passed its expiry, so
// that read models show it without comparing clocks. An interaction the
// resource owner answered, or one already recorded expired, has nothing to
// expire; one not yet due is refused, so that a command run early does not
// end an interaction the owner still has time for.
func decideExpire(s State, now time.Time) ([]events.Event, error) {
	if !s.Exists || s.Interaction == nil {
		return nil, gnapErr(UnknownInteraction, apperr.NotFound, "unknown interaction")
	}
	if s.Interaction.Expired || s.Interaction.State != events.InteractionStatePending {
		return nil, nil
	}
	if !s.Interaction.ExpiredAt(now) {
		return nil, apperr.E(apperr.Conflict, "interaction expires at %s", s.Interaction.CreatedAt.Add(s.Interaction.ExpiresIn).UTC().Format(time.RFC3339))
	}
	return []events.Event{&events.InteractionExpired{}}, nil
}
