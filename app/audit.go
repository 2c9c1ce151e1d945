package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/tenant"
)

// historyEventsMax bounds how much of one aggregate's history is read.
const historyEventsMax = 1_000_000

// History reads every event of the aggregate with this id, whatever its
// tenant and type: the audit trail of one object.
func History(ctx context.Context, js jetstream.JetStream, id string) ([]events.Envelope, error) {
	subject, err := handlers.AnyTenantSubject("*", id)
	if err != nil {
		return nil, err
	}
	var out []events.Envelope
	var last uint64
	for len(out) < historyEventsMax {
		it, err := jetstreamext.GetBatch(ctx, js, EventsStream, 1000,
			jetstreamext.GetBatchSeq(last+1), jetstreamext.GetBatchSubject(subject))
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", id, err)
		}
		read := 0
		for msg, err := range it {
			if errors.Is(err, jetstreamext.ErrNoMessages) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", id, err)
			}
			env, err := events.Unmarshal(msg.Data, msg.Sequence)
			if err != nil {
				return nil, err
			}
			out = append(out, env)
			last = msg.Sequence
			read++
		}
		if read == 0 {
			return out, nil
		}
	}
	return nil, fmt.Errorf("history of %s: more than %d events", id, historyEventsMax)
}

// StateAt folds an aggregate's history up to a moment into its state.
func StateAt(history []events.Envelope, at time.Time) (any, error) {
	if len(history) == 0 {
		return nil, fmt.Errorf("no events")
	}
	switch t := history[0].AggregateType; t {
	case tenant.AggregateType:
		return foldUntil(history, at, tenant.Evolve)
	case asset.AggregateType:
		return foldUntil(history, at, asset.Evolve)
	default:
		return nil, fmt.Errorf("no state fold for aggregate type %q", t)
	}
}

func foldUntil[S any](history []events.Envelope, at time.Time, evolve func(S, events.Envelope, events.Event) S) (S, error) {
	var s S
	for _, env := range history {
		if env.Time.After(at) {
			break
		}
		ev, err := events.Decode(env)
		if err != nil {
			return s, err
		}
		s = evolve(s, env, ev)
	}
	return s, nil
}
