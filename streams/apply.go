package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Changes are what Apply did, each as a line for an operator.
type Changes struct {
	Created []string // "stream EVENTS", "consumer worker_commands on stream COMMANDS"
	// Updated name each updated stream or consumer with its changed
	// fields, old value then new.
	Updated []string
}

// Apply creates what is missing and updates what differs from the
// declaration; applying it twice changes nothing. replicas is
// NATS_STREAM_REPLICAS: 0 (unset) creates streams with one replica and
// leaves the replicas of existing ones as they are, so that a run without
// the setting cannot shrink a replicated stream.
func Apply(ctx context.Context, js jetstream.JetStream, d Declaration, replicas int, log *slog.Logger) (Changes, error) {
	var ch Changes
	if replicas < 0 {
		return ch, fmt.Errorf("apply streams: replicas %d", replicas)
	}
	for _, s := range d.Streams {
		want := s.StreamConfig(replicas)
		what := object(s.Name, "")
		stream, err := js.Stream(ctx, s.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			created, err := js.CreateStream(ctx, want)
			if err != nil {
				return ch, fmt.Errorf("create %s: %w", what, err)
			}
			if err := kept(differences(streamFields, s.Name, "", want, created.CachedInfo().Config)); err != nil {
				return ch, fmt.Errorf("create %s: %w", what, err)
			}
			log.Info("stream created", "stream", s.Name)
			ch.Created = append(ch.Created, what)
			continue
		}
		if err != nil {
			return ch, fmt.Errorf("%s: %w", what, err)
		}
		have := stream.CachedInfo().Config
		diff := differences(streamFields, s.Name, "", want, have)
		if len(diff) == 0 {
			continue
		}
		after, err := js.UpdateStream(ctx, updated(streamFields, want, have))
		if err != nil {
			return ch, fmt.Errorf("update %s (%s): %w", what, describe(diff), err)
		}
		if err := kept(differences(streamFields, s.Name, "", want, after.CachedInfo().Config)); err != nil {
			return ch, fmt.Errorf("update %s: %w", what, err)
		}
		log.Info("stream updated", "stream", s.Name, "changes", describe(diff))
		ch.Updated = append(ch.Updated, what+": "+describe(diff))
	}
	for _, c := range d.Consumers {
		want := c.ConsumerConfig()
		what := object(c.Stream, c.Name)
		cons, err := js.Consumer(ctx, c.Stream, c.Name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			created, err := js.CreateConsumer(ctx, c.Stream, want)
			if err != nil {
				return ch, fmt.Errorf("create %s: %w", what, err)
			}
			if err := kept(differences(consumerFields, c.Stream, c.Name, want, created.CachedInfo().Config)); err != nil {
				return ch, fmt.Errorf("create %s: %w", what, err)
			}
			log.Info("consumer created", "stream", c.Stream, "consumer", c.Name)
			ch.Created = append(ch.Created, what)
			continue
		}
		if err != nil {
			return ch, fmt.Errorf("%s: %w", what, err)
		}
		have := cons.CachedInfo().Config
		diff := differences(consumerFields, c.Stream, c.Name, want, have)
		if len(diff) == 0 {
			continue
		}
		after, err := js.UpdateConsumer(ctx, c.Stream, updated(consumerFields, want, have))
		if err != nil {
			return ch, fmt.Errorf("update %s (%s): %w", what, describe(diff), err)
		}
		if err := kept(differences(consumerFields, c.Stream, c.Name, want, after.CachedInfo().Config)); err != nil {
			return ch, fmt.Errorf("update %s: %w", what, err)
		}
		log.Info("consumer updated", "stream", c.Stream, "consumer", c.Name, "changes", describe(diff))
		ch.Updated = append(ch.Updated, what+": "+describe(diff))
	}
	return ch, nil
}

// kept fails when the server accepted a configuration but kept other
// values than those asked for.
func kept(left []Mismatch) error {
	if len(left) == 0 {
		return nil
	}
	parts := make([]string, 0, len(left))
	for _, m := range left {
		parts = append(parts, fmt.Sprintf("%s %s (asked for %s)", m.Field, m.Found, m.Declared))
	}
	return fmt.Errorf("the server kept %s", strings.Join(parts, ", "))
}

// describe writes the fields of one object's mismatches as changes from
// the found value to the declared one.
func describe(diff []Mismatch) string {
	parts := make([]string, 0, len(diff))
	for _, m := range diff {
		parts = append(parts, fmt.Sprintf("%s %s -> %s", m.Field, m.Found, m.Declared))
	}
	return strings.Join(parts, ", ")
}
