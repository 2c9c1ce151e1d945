package events

import (
	"encoding/json"
	"fmt"
	"sort"
)

// catalogue maps an event type name to a constructor of its Go type.
var catalogue = map[string]func() Event{}

func register(constructors ...func() Event) {
	for _, c := range constructors {
		name := c().EventType()
		if _, dup := catalogue[name]; dup {
			panic("events: type registered twice: " + name)
		}
		catalogue[name] = c
	}
}

// Types lists every registered event type, sorted.
func Types() []string {
	out := make([]string, 0, len(catalogue))
	for name := range catalogue {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Decode turns an envelope's payload into its catalogue type.
func Decode(env Envelope) (Event, error) {
	c, ok := catalogue[env.Type]
	if !ok {
		return nil, fmt.Errorf("decode event %s: unknown type %q", env.ID, env.Type)
	}
	ev := c()
	if env.SchemaVersion > ev.SchemaVersion() {
		return nil, fmt.Errorf("decode event %s: %s schema version %d is newer than this build's %d",
			env.ID, env.Type, env.SchemaVersion, ev.SchemaVersion())
	}
	if err := json.Unmarshal(env.Data, ev); err != nil {
		return nil, fmt.Errorf("decode event %s (%s): %w", env.ID, env.Type, err)
	}
	return ev, nil
}

// Marshal encodes an envelope for the store.
func Marshal(env Envelope) ([]byte, error) {
	return json.Marshal(env)
}

// Unmarshal decodes a stored envelope and stamps its stream sequence.
func Unmarshal(data []byte, sequence uint64) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return Envelope{}, fmt.Errorf("decode envelope at sequence %d: %w", sequence, err)
	}
	env.Sequence = sequence
	return env, nil
}
