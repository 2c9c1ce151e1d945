package projections

import (
	"bytes"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/events"
)

// decode reads a stored envelope and its event. Only an unreadable envelope
// fails it.
//
// Envelopes as events.Marshal writes them (keys in the struct's order,
// strings without escapes before the payload) are read in one pass over
// the envelope, and the payload is decoded into its event straight from the
// message. Anything else, and anything that fails, is decoded again by
// events.Unmarshal and events.Decode, so that the result and the errors are
// always theirs.
func decode(data []byte, sequence uint64) (decoded, error) {
	if env, ok := scanEnvelope(data); ok {
		env.Sequence = sequence
		if ev, err := events.Decode(env); err == nil {
			return decoded{env: env, ev: ev}, nil
		}
	}
	env, err := events.Unmarshal(data, sequence)
	if err != nil {
		return decoded{}, err
	}
	ev, err := events.Decode(env)
	return decoded{env: env, ev: ev, err: err}, nil
}

// eventTypes interns the registered type names, which every envelope
// repeats.
var eventTypes = func() map[string]string {
	m := map[string]string{}
	for _, t := range events.Types() {
		m[t] = t
	}
	return m
}()

// scanEnvelope reads an envelope in the form events.Marshal writes:
//
//	{"id":"…","type":"…","schemaVersion":N,"aggregateType":"…","aggregateId":"…",
//	 "tenantId":"…","time":"…"[,"causationId":"…"][,"correlationId":"…"],"data":…}
//
// with no white space, no escapes or control characters in the strings and
// nothing after the payload. It reports false for anything else. The payload
// is whatever lies between "data": and the last brace; decode has
// events.Decode check that it is one JSON value, which makes the envelope
// valid JSON too.
func scanEnvelope(data []byte) (events.Envelope, bool) {
	var env events.Envelope
	s := scanner{data: data}
	if !s.literal(`{"id":`) {
		return env, false
	}
	id, ok := s.str()
	if !ok {
		return env, false
	}
	if env.ID, s.err = uuid.ParseBytes(id); s.err != nil {
		return env, false
	}
	if !s.literal(`,"type":`) {
		return env, false
	}
	typ, ok := s.str()
	if !ok {
		return env, false
	}
	if env.Type, ok = eventTypes[string(typ)]; !ok {
		env.Type = string(typ)
	}
	if !s.literal(`,"schemaVersion":`) {
		return env, false
	}
	if env.SchemaVersion, ok = s.smallInt(); !ok {
		return env, false
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{`,"aggregateType":`, &env.AggregateType}, {`,"aggregateId":`, &env.AggregateID}, {`,"tenantId":`, &env.TenantID}} {
		if !s.literal(f.key) {
			return env, false
		}
		v, ok := s.str()
		if !ok {
			return env, false
		}
		*f.dst = string(v)
	}
	if !s.literal(`,"time":`) {
		return env, false
	}
	start := s.pos
	if _, ok := s.str(); !ok {
		return env, false
	}
	if env.Time.UnmarshalJSON(data[start:s.pos]) != nil {
		return env, false
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{`,"causationId":`, &env.CausationID}, {`,"correlationId":`, &env.CorrelationID}} {
		if !s.literal(f.key) {
			continue
		}
		v, ok := s.str()
		if !ok || len(v) == 0 { // omitempty: an empty one is not written
			return env, false
		}
		*f.dst = string(v)
	}
	if !s.literal(`,"data":`) || len(data)-s.pos < 2 || data[len(data)-1] != '}' ||
		isSpace(data[s.pos]) || isSpace(data[len(data)-2]) {
		return env, false
	}
	env.Data = data[s.pos : len(data)-1]
	return env, true
}

// scanner reads the parts of an envelope scanEnvelope accepts.
type scanner struct {
	data []byte
	pos  int
	err  error
}

// literal consumes lit if the input continues with it.
func (s *scanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return false
	}
	s.pos += len(lit)
	return true
}

// str consumes a JSON string of printable ASCII without escapes and
// returns its contents.
func (s *scanner) str() ([]byte, bool) {
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return nil, false
	}
	for i := s.pos + 1; i < len(s.data); i++ {
		switch c := s.data[i]; {
		case c == '"':
			v := s.data[s.pos+1 : i]
			s.pos = i + 1
			return v, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// smallInt consumes a number of one to nine digits, without sign or
// leading zero.
func (s *scanner) smallInt() (int, bool) {
	n, i := 0, s.pos
	for ; i < len(s.data) && i-s.pos < 9 && s.data[i] >= '0' && s.data[i] <= '9'; i++ {
		n = n*10 + int(s.data[i]-'0')
	}
	if i == s.pos || i-s.pos > 1 && s.data[s.pos] == '0' {
		return 0, false
	}
	if i < len(s.data) && s.data[i] >= '0' && s.data[i] <= '9' {
		return 0, false // ten digits or more
	}
	s.pos = i
	return n, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
