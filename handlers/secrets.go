package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
)

// Sealer seals and opens the secrets events carry (secrets.Keyring).
type Sealer interface {
	SealEvent(ctx context.Context, aggregateType, aggregateID string, ev events.Event) (events.Event, error)
	OpenEvent(ctx context.Context, env events.Envelope, ev events.Event) (events.Event, error)
}

// sealingStore is an event store for the handlers of aggregates with
// secrets (tenants, peers, outgoing payments, and incoming payments for
// the data partial payments bring).
type sealingStore struct {
	Store
	keys Sealer
}

// SealSecrets is store sealing the secrets of the events it appends and
// opening those of the events it loads, so that decisions and states see
// them in plain text and the log never does. Last, which handlers use for
// positions and claims, is store's own.
func SealSecrets(store Store, keys Sealer) Store {
	if store == nil || keys == nil {
		panic("handlers: SealSecrets needs a store and a sealer")
	}
	return &sealingStore{Store: store, keys: keys}
}

func (s *sealingStore) Append(ctx context.Context, messages []eventstore.Message) ([]uint64, error) {
	sealed := make([]eventstore.Message, len(messages))
	for i, m := range messages {
		sealed[i] = m
		if !strings.HasPrefix(m.Subject, "events.") {
			continue // a claim
		}
		data, err := s.sealMessage(ctx, m)
		if err != nil {
			return nil, err
		}
		sealed[i].Data = data
	}
	return s.Store.Append(ctx, sealed)
}

func (s *sealingStore) sealMessage(ctx context.Context, m eventstore.Message) ([]byte, error) {
	env, err := events.Unmarshal(m.Data, 0)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", m.Subject, err)
	}
	ev, err := events.Decode(env)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", m.Subject, err)
	}
	if _, ok := ev.(events.Secretive); !ok {
		return m.Data, nil
	}
	sealed, err := s.keys.SealEvent(ctx, env.AggregateType, env.AggregateID, ev)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", m.Subject, err)
	}
	return reencode(env, sealed)
}

func (s *sealingStore) Load(ctx context.Context, subject string) ([]events.Envelope, uint64, error) {
	envs, version, err := s.Store.Load(ctx, subject)
	if err != nil {
		return nil, 0, err
	}
	envs, err = s.open(ctx, envs)
	return envs, version, err
}

func (s *sealingStore) LoadAfter(ctx context.Context, subject string, from uint64) ([]events.Envelope, uint64, error) {
	envs, version, err := s.Store.LoadAfter(ctx, subject, from)
	if err != nil {
		return nil, 0, err
	}
	envs, err = s.open(ctx, envs)
	return envs, version, err
}

// open gives loaded envelopes their payloads with the secrets opened.
func (s *sealingStore) open(ctx context.Context, envs []events.Envelope) ([]events.Envelope, error) {
	for i, env := range envs {
		ev, err := events.Decode(env)
		if err != nil {
			return nil, err
		}
		if _, ok := ev.(events.Secretive); !ok {
			continue
		}
		opened, err := s.keys.OpenEvent(ctx, env, ev)
		if err != nil {
			return nil, err
		}
		if envs[i].Data, err = eventData(opened); err != nil {
			return nil, err
		}
	}
	return envs, nil
}

func eventData(ev events.Event) ([]byte, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ev.EventType(), err)
	}
	return data, nil
}

func reencode(env events.Envelope, ev events.Event) ([]byte, error) {
	data, err := eventData(ev)
	if err != nil {
		return nil, err
	}
	env.Data = data
	return events.Marshal(env)
}
