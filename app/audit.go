package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/handlers/peer"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
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

// Redacted is what the audit tools print for a secret.
const Redacted = "[redacted]"

// RedactedData is an event's payload for printing: every field that holds
// a secret (events.SecretFields), sealed or, in an event recorded before
// secrets were sealed, in plain text, shows as Redacted, whatever the
// event's type or version. A payload that is not a JSON object is not
// printed at all.
func RedactedData(env events.Envelope) string {
	dec := json.NewDecoder(bytes.NewReader(env.Data))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return fmt.Sprintf("[payload of %d bytes that is not a JSON object]", len(env.Data))
	}
	for name, v := range fields {
		if !events.SecretFields[name] {
			continue
		}
		if list, ok := v.([]any); ok {
			for i := range list {
				list[i] = Redacted
			}
			continue
		}
		fields[name] = Redacted
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return fmt.Sprintf("[payload of %d bytes: %v]", len(env.Data), err)
	}
	return string(out)
}

// redactEvent hides an event's secrets from the state the audit tools fold.
func redactEvent(ev events.Event) (events.Event, error) {
	s, ok := ev.(events.Secretive)
	if !ok {
		return ev, nil
	}
	return s.MapSecrets(func(string, string) (string, error) { return Redacted, nil })
}

// StateAt folds an aggregate's history up to a moment into its state, with
// its secrets shown as Redacted. Some ids name two aggregates (a quote and
// the outgoing payment that pays it, a grant and what its payments took of
// it): their history is folded into one state per aggregate type.
func StateAt(history []events.Envelope, at time.Time) (any, error) {
	if len(history) == 0 {
		return nil, fmt.Errorf("no events")
	}
	var types []string
	byType := map[string][]events.Envelope{}
	for _, env := range history {
		if _, ok := byType[env.AggregateType]; !ok {
			types = append(types, env.AggregateType)
		}
		byType[env.AggregateType] = append(byType[env.AggregateType], env)
	}
	if len(types) == 1 {
		return stateAt(history, at)
	}
	states := map[string]any{}
	for _, t := range types {
		s, err := stateAt(byType[t], at)
		if err != nil {
			return nil, err
		}
		states[t] = s
	}
	return states, nil
}

// stateAt folds the history of one aggregate.
func stateAt(history []events.Envelope, at time.Time) (any, error) {
	switch t := history[0].AggregateType; t {
	case tenant.AggregateType:
		return foldUntil(history, at, tenant.Evolve)
	case asset.AggregateType:
		return foldUntil(history, at, asset.Evolve)
	case grant.AggregateType:
		return foldUntil(history, at, grant.Evolve)
	case peer.AggregateType:
		return foldUntil(history, at, peer.Evolve)
	case walletaddress.AggregateType:
		return foldUntil(history, at, walletaddress.Evolve)
	case incomingpayment.AggregateType:
		return foldUntil(history, at, incomingpayment.Evolve)
	case quote.AggregateType:
		return foldUntil(history, at, quote.Evolve)
	case outgoingpayment.AggregateType:
		return foldUntil(history, at, outgoingpayment.Evolve)
	case outgoingpayment.GrantAggregateType:
		return foldUntil(history, at, outgoingpayment.EvolveGrant)
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
		if ev, err = redactEvent(ev); err != nil {
			return s, err
		}
		s = evolve(s, env, ev)
	}
	return s, nil
}
