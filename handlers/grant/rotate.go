package grant

import (
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideRotate revokes an access token and issues its successor, with the
// grant's access, in one event. An expired token may be rotated (that is
// what rotation is for); a revoked one may not.
func decideRotate(s State, c commands.RotateToken, p Policy, f Fresh) ([]events.Event, error) {
	if _, ok := liveToken(s, c.TokenID, c.TokenValue); !ok {
		return nil, gnapErr(InvalidRotation, apperr.NotFound, "invalid access token")
	}
	return []events.Event{&events.AccessTokenRotated{
		PreviousTokenID: c.TokenID, TokenID: f.TokenID, ValueHash: TokenHash(f.TokenValue),
		ExpiresInSeconds: int64(p.AccessTokenExpiry.Seconds()),
	}}, nil
}
