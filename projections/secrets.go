package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/secrets"
)

// Opener opens the secrets of events read from the log (secrets.Keyring),
// for the projections that keep them (tenants, peers).
type Opener interface {
	OpenEvent(ctx context.Context, env events.Envelope, ev events.Event) (events.Event, error)
}

// openTimeout bounds reading a data key while applying an event; the
// runner's step deadline bounds the batch.
const openTimeout = 10 * time.Second

// openSecrets gives an event its secrets in plain text. A secret whose data
// key was shredded reads as none (secrets.Keyring.OpenEvent).
func openSecrets(o Opener, env events.Envelope, ev events.Event) (events.Event, error) {
	if _, ok := ev.(events.Secretive); !ok || env.SchemaVersion < events.SealedSecretsVersion {
		return ev, nil
	}
	if o == nil {
		return nil, fmt.Errorf("%s at %d holds sealed secrets and the projection has no keyring", env.Type, env.Sequence)
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	opened, err := o.OpenEvent(ctx, env, ev)
	if errors.Is(err, secrets.ErrKeyUnreadable) {
		return nil, &mayPass{err}
	}
	return opened, err
}
