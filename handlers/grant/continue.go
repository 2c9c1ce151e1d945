package grant

import (
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideContinue answers a continuation request as Rafiki does. A poll
// (no interact_ref) of a grant still PENDING records the poll, so that the
// next one must wait again; of an APPROVED grant it issues the access token
// and finalizes the grant (ISSUED). A grant whose client asked to be sent
// back after the interaction cannot be polled: it continues with the
// interact_ref it was sent, and only once the grant is approved. Either
// comes too fast within the policy's wait after the grant's creation or
// last poll.
func decideContinue(s State, c commands.ContinueGrant, p Policy, now time.Time, f Fresh) ([]events.Event, error) {
	matching := s.Exists && c.ContinueID == s.ContinueID && tokenMatches(c.ContinueToken, s.ContinueTokenHash)
	tooFast := now.Before(s.LastContinuedAt.Add(p.Wait))
	if c.InteractRef != "" {
		if !matching || s.Interaction == nil || c.InteractRef != s.Interaction.Ref || !s.Continuable() {
			return nil, gnapErr(InvalidContinuation, apperr.NotFound, "grant not found")
		}
		if tooFast {
			return nil, gnapErr(TooFast, apperr.InvalidInput, `continued grant faster than "wait" period`)
		}
		if s.State != events.GrantStateApproved {
			return nil, gnapErr(RequestDenied, apperr.Unauthenticated, "grant interaction not approved")
		}
		return []events.Event{issue(f, p), &events.GrantFinalized{}}, nil
	}
	switch {
	case !matching:
		return nil, gnapErr(InvalidRequest, apperr.NotFound, "grant not found")
	case tooFast:
		return nil, gnapErr(TooFast, apperr.InvalidInput, `polled grant faster than "wait" period`)
	case s.Interact != nil && s.Interact.Finish != nil:
		return nil, gnapErr(RequestDenied, apperr.Unauthenticated, "grant cannot be polled")
	case s.State == events.GrantStatePending:
		return []events.Event{&events.GrantPolled{}}, nil
	case s.State != events.GrantStateApproved || !s.Continuable():
		return nil, gnapErr(RequestDenied, apperr.Unauthenticated, "grant cannot be continued")
	}
	return []events.Event{issue(f, p), &events.GrantFinalized{}}, nil
}
