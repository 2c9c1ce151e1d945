package grant

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
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
		return nil, apperr.E(apperr.Conflict, "interaction expires at %s", s.Interaction.expiresAt().UTC().Format(time.RFC3339))
	}
	return []events.Event{&events.InteractionExpired{}}, nil
}

func (i Interaction) expiresAt() time.Time { return i.CreatedAt.Add(i.ExpiresIn) }

// expiryCommandID is the id of the command that expires a grant's
// interaction: the enqueue of a retried request is a duplicate, and the
// command run twice is recognised by its events.
func expiryCommandID(grantID string) string { return "expire_interaction:" + grantID }

// expiryGrace puts the command a little past the interaction's expiry,
// which counts from the time its event was stored, a moment after the
// request enqueued it.
const expiryGrace = time.Second

// scheduleExpiry enqueues, before an interaction is stored, the command
// that records its expiry: one stored is always expired in the read model
// in the end. The command finds nothing to do when the interaction was
// never stored.
func (h *Handler) scheduleExpiry(ctx context.Context, grantID string) error {
	at := time.Now().Add(h.policy.InteractionExpiry + expiryGrace)
	c := commands.ExpireInteraction{Meta: commands.Meta{ID: expiryCommandID(grantID)}, GrantID: grantID}
	if err := h.enqueue(ctx, commands.ExpireInteractionSubject, c.ID, at, c); err != nil {
		return fmt.Errorf("schedule expiry of grant %s: %w", grantID, err)
	}
	return nil
}

// ExpireInteraction runs an ExpireInteraction from the command queue: it
// records the expiry of the grant's interaction once it is due, and does
// nothing for a grant or interaction never stored, or one already answered
// or expired. retryAfter asks to be run again when the interaction is not
// due yet (the command came early).
func (h *Handler) ExpireInteraction(ctx context.Context, data []byte) (retryAfter time.Duration, err error) {
	var c commands.ExpireInteraction
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, fmt.Errorf("%w: expire interaction %q: %w", commands.ErrUnprocessable, data, err)
	}
	id, err := grantID(c.GrantID)
	if err != nil {
		return 0, fmt.Errorf("%w: expire interaction %q: %w", commands.ErrUnprocessable, data, err)
	}
	t, err := h.locate(ctx, id)
	if err != nil {
		if apperr.KindOf(err) == apperr.NotFound {
			return 0, nil
		}
		return 0, err
	}
	s, err := h.load(ctx, t)
	if err != nil {
		return 0, err
	}
	if s.Interaction == nil || s.Interaction.Expired || s.Interaction.State != events.InteractionStatePending {
		return 0, nil
	}
	if wait := time.Until(s.Interaction.expiresAt()); wait >= 0 {
		return wait + time.Millisecond, nil
	}
	_, err = h.Expire(ctx, c)
	return 0, err
}
