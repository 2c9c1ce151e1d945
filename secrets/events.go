package secrets

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"

	"github.com/rafiki-go/rafiki/events"
)

// SealEvent returns the event with its secrets sealed under the aggregate's
// data key, made on first use; an event without secrets comes back as it is.
func (k *Keyring) SealEvent(ctx context.Context, aggregateType, aggregateID string, ev events.Event) (events.Event, error) {
	s, ok := ev.(events.Secretive)
	if !ok {
		return ev, nil
	}
	subject, err := Subject(aggregateType, aggregateID)
	if err != nil {
		return nil, err
	}
	var aead cipher.AEAD
	return s.MapSecrets(func(field, value string) (string, error) {
		if aead == nil {
			if aead, err = k.dataKey(ctx, subject, true); err != nil {
				return "", fmt.Errorf("seal %s of %s: %w", field, ev.EventType(), err)
			}
		}
		sealed, err := seal(aead, []byte(value), secretContext(aggregateType, aggregateID, ev.EventType(), field))
		if err != nil {
			return "", err
		}
		return encodeSealed(sealed), nil
	})
}

// OpenEvent returns the event read from the log with its secrets in plain
// text. A secret whose data key was shredded reads as none: an empty
// string, and a list of secrets without it. An event recorded before secrets
// were sealed (an earlier schema version) holds them in plain text already.
func (k *Keyring) OpenEvent(ctx context.Context, env events.Envelope, ev events.Event) (events.Event, error) {
	s, ok := ev.(events.Secretive)
	if !ok || env.SchemaVersion < events.SealedSecretsVersion {
		return ev, nil
	}
	subject, err := Subject(env.AggregateType, env.AggregateID)
	if err != nil {
		return nil, err
	}
	return s.MapSecrets(func(field, value string) (string, error) {
		sealed, err := decodeSealed(value)
		if err != nil {
			return "", fmt.Errorf("open %s of %s at %d: %w", field, env.Type, env.Sequence, err)
		}
		aead, err := k.dataKey(ctx, subject, false)
		if errors.Is(err, ErrShredded) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("open %s of %s at %d: %w: %w", field, env.Type, env.Sequence, ErrKeyUnreadable, err)
		}
		plain, err := open(aead, sealed, secretContext(env.AggregateType, env.AggregateID, env.Type, field))
		if err != nil {
			return "", fmt.Errorf("open %s of %s at %d: %w", field, env.Type, env.Sequence, err)
		}
		return string(plain), nil
	})
}
