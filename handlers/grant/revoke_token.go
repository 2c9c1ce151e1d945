package grant

import (
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideRevokeToken revokes one access token the client presents.
func decideRevokeToken(s State, c commands.RevokeToken) ([]events.Event, error) {
	if _, ok := liveToken(s, c.TokenID, c.TokenValue); !ok {
		return nil, gnapErr(InvalidRequest, apperr.NotFound, "unknown access token")
	}
	return []events.Event{&events.AccessTokenRevoked{TokenID: c.TokenID}}, nil
}
