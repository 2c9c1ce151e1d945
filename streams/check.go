package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Mismatch is one way a server differs from the declaration.
type Mismatch struct {
	Stream   string
	Consumer string // empty when the stream itself differs
	// Field is the setting as streams.yaml names it ("replicas" for
	// NATS_STREAM_REPLICAS); empty when the server has no such stream or
	// consumer.
	Field    string
	Declared string
	Found    string
}

func (m Mismatch) String() string {
	what := object(m.Stream, m.Consumer)
	if m.Field == "" {
		return what + ": missing"
	}
	return fmt.Sprintf("%s: %s declared %s, found %s", what, m.Field, m.Declared, m.Found)
}

// object names a stream, or a consumer and its stream, for messages.
func object(stream, consumer string) string {
	if consumer == "" {
		return "stream " + stream
	}
	return fmt.Sprintf("consumer %s on stream %s", consumer, stream)
}

// MismatchError refuses to run on a server that differs from the
// declaration.
type MismatchError struct {
	Mismatches []Mismatch
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	b.WriteString("the JetStream streams differ from streams.yaml (only `rafiki streams apply` changes them): ")
	for i, m := range e.Mismatches {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(m.String())
	}
	return b.String()
}

// Check compares the server with the declaration and changes nothing.
// replicas is NATS_STREAM_REPLICAS; 0 (unset) accepts whatever number of
// replicas each stream has.
func Check(ctx context.Context, js jetstream.JetStream, d Declaration, replicas int) ([]Mismatch, error) {
	if replicas < 0 {
		return nil, fmt.Errorf("check streams: replicas %d", replicas)
	}
	var out []Mismatch
	missing := map[string]bool{}
	for _, s := range d.Streams {
		stream, err := js.Stream(ctx, s.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			missing[s.Name] = true
			out = append(out, Mismatch{Stream: s.Name})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", object(s.Name, ""), err)
		}
		out = append(out, differences(streamFields, s.Name, "", s.StreamConfig(replicas), stream.CachedInfo().Config)...)
	}
	for _, c := range d.Consumers {
		if missing[c.Stream] {
			out = append(out, Mismatch{Stream: c.Stream, Consumer: c.Name})
			continue
		}
		cons, err := js.Consumer(ctx, c.Stream, c.Name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			out = append(out, Mismatch{Stream: c.Stream, Consumer: c.Name})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", object(c.Stream, c.Name), err)
		}
		out = append(out, differences(consumerFields, c.Stream, c.Name, c.ConsumerConfig(), cons.CachedInfo().Config)...)
	}
	return out, nil
}
