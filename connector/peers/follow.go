package peers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/streams"
)

// openTimeout bounds reading a data key to open one event's secrets.
const openTimeout = 10 * time.Second

// LastSequence answers the stream sequence of the last message on a subject
// filter (eventstore.Store.Last gives it).
type LastSequence func(ctx context.Context, subject string) (uint64, error)

// Follow reads every peer and asset event of the stream in order, from the
// first, and keeps reading as they are stored, until ctx ends. It returns
// once the table holds every such event stored when it was called, so that
// a connector starting with it knows every peer; an event it cannot read is
// logged and leaves the table as it was.
func (t *Table) Follow(ctx context.Context, js jetstream.JetStream, stream string, keys Opener, last LastSequence, log *slog.Logger) error {
	var target uint64
	for _, subject := range Subjects {
		seq, err := last(ctx, subject)
		if err != nil {
			return fmt.Errorf("peer table: last event of %s: %w", subject, err)
		}
		target = max(target, seq)
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: Subjects, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("peer table: follow peer events: %w", err)
	}
	consumption, err := cons.Consume(func(m jetstream.Msg) {
		if err := t.applyMessage(m, keys); err != nil {
			log.Error("peer event not applied to the connector's peer table", "subject", m.Subject(), "err", err)
			if meta, err := m.Metadata(); err == nil {
				t.passed(meta.Sequence.Stream)
			}
		}
	}, streams.ConsumeOptions()...)
	if err != nil {
		return fmt.Errorf("peer table: follow peer events: %w", err)
	}
	go func() {
		<-ctx.Done()
		consumption.Stop()
	}()
	for t.Applied() < target {
		select {
		case <-ctx.Done():
			return fmt.Errorf("peer table: caught up to %d of %d: %w", t.Applied(), target, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

func (t *Table) applyMessage(m jetstream.Msg, keys Opener) error {
	meta, err := m.Metadata()
	if err != nil {
		return err
	}
	env, err := events.Unmarshal(m.Data(), meta.Sequence.Stream)
	if err != nil {
		return err
	}
	ev, err := events.Decode(env)
	if err != nil {
		return err
	}
	if _, sealed := ev.(events.Secretive); sealed && env.SchemaVersion >= events.SealedSecretsVersion {
		if keys == nil {
			return errors.New("the event holds sealed secrets and the table has no keyring")
		}
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		defer cancel()
		if ev, err = keys.OpenEvent(ctx, env, ev); err != nil {
			return err
		}
	}
	return t.Apply(env, ev)
}
