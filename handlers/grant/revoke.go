package grant

import (
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideRevoke finalizes a grant as REVOKED, which revokes its access
// tokens with it. The client proves itself with its continuation; without
// one the actor must be the grant's tenant or the operator. Revoking a
// revoked grant changes nothing.
func decideRevoke(s State, c commands.RevokeGrant) ([]events.Event, error) {
	if !s.Exists {
		return nil, gnapErr(InvalidRequest, apperr.NotFound, "unknown grant")
	}
	if c.ContinueToken != "" || c.ContinueID != "" {
		if c.ContinueID != s.ContinueID || !tokenMatches(c.ContinueToken, s.ContinueTokenHash) {
			return nil, gnapErr(InvalidRequest, apperr.NotFound, "unknown grant")
		}
	} else if !c.Actor.CanActFor(s.TenantID) {
		return nil, gnapErr(InvalidRequest, apperr.NotFound, "unknown grant")
	}
	if s.Revoked() {
		return nil, nil
	}
	return []events.Event{&events.GrantRevoked{}}, nil
}
