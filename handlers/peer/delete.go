package peer

import (
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideDelete deletes the peer; its unique keys are released with it.
func decideDelete(s State, c commands.DeletePeer) ([]events.Event, error) {
	if err := visible(s, c.Actor); err != nil {
		return nil, err
	}
	return []events.Event{&events.PeerDeleted{}}, nil
}
