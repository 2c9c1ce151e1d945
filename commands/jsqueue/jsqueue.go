// Package jsqueue adapts a JetStream work queue to watermill: Subscriber
// reads a durable pull consumer, Publisher publishes to the stream.
//
// watermill-nats is not used: its subscriber is a push consumer whose
// failures are lossy (an undecodable message is neither acked nor nacked, an
// ack timeout drops the local copy). Here the consumer is the one declared in
// streams.yaml, pulled, with its ack_wait, max_ack_pending and max_deliver;
// the subscriber may limit deliveries itself (Config.MaxDeliveries).
package jsqueue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/streams"
)

// Metadata the subscriber sets on every message it hands to the router.
// They travel on as headers when the message is published again, for
// example to a poison subject.
const (
	// SubjectKey is the subject the message was published on.
	SubjectKey = "Jetstream-Subject"
	// DeliveredKey counts deliveries of the message, this one included.
	DeliveredKey = "Jetstream-Delivered"
	// DeliveryLimitKey is the delivery from which a message whose handler
	// fails is not retried: the lower of the consumer's max_deliver and
	// Config.MaxDeliveries; absent when neither limits deliveries.
	DeliveryLimitKey = "Jetstream-Delivery-Limit"
	// nakDelayKey is the redelivery delay of a nacked message (NakAfter).
	nakDelayKey = "Jetstream-Nak-Delay"
)

// IDKey is the header that carries the id of a scheduled message
// (Publisher.Schedule): the server drops Nats-Msg-Id from the message a
// schedule publishes. A received message without Nats-Msg-Id takes its id
// from it.
const IDKey = "Jetstream-Msg-Id"

// Subject is the subject a received message was published on.
func Subject(msg *message.Message) string {
	return msg.Metadata.Get(SubjectKey)
}

// LastDelivery tells whether the message has reached its delivery limit
// (DeliveryLimitKey): a failure now is final, and the message should be
// kept elsewhere (Config.Abandon) rather than nacked. A delivery past the
// limit is one whose delivery at the limit was never settled, its worker
// having crashed; it is the last too.
func LastDelivery(msg *message.Message) bool {
	delivered, err := strconv.Atoi(msg.Metadata.Get(DeliveredKey))
	if err != nil {
		return false
	}
	limit, err := strconv.Atoi(msg.Metadata.Get(DeliveryLimitKey))
	return err == nil && limit > 0 && delivered >= limit
}

// deliveryLimit is the lower of the limits that are set (positive), or 0
// when none is.
func deliveryLimit(limits ...int) int {
	lowest := 0
	for _, l := range limits {
		if l > 0 && (lowest == 0 || l < lowest) {
			lowest = l
		}
	}
	return lowest
}

// NakAfter sets the delay after which a message comes back once it is
// nacked; without it the subscriber's Config.NakDelay applies. Call it
// before msg.Nack().
//
// The delay rides on the message's metadata because watermill's Nack takes
// no argument and no error reaches the subscriber: the message is the one
// thing the handler and the subscriber share, and the subscriber reads it
// only after the Nack, which happens after this write.
func NakAfter(msg *message.Message, delay time.Duration) {
	msg.Metadata.Set(nakDelayKey, delay.String())
}

func nakDelay(msg *message.Message, fallback time.Duration) time.Duration {
	delay, err := time.ParseDuration(msg.Metadata.Get(nakDelayKey))
	if err != nil || delay < 0 {
		return fallback
	}
	return delay
}

// Publisher publishes watermill messages to JetStream, one at a time, each
// acknowledged by the stream before the next. The message's UUID is its
// Nats-Msg-Id, so a retried publish within the stream's duplicate window is
// stored once; metadata become headers. A publish that goes unanswered, as
// one does that a stream's leader took down with its node, is sent again
// while the message's context lasts (streams.UntilAnswered).
type Publisher struct {
	js jetstream.JetStream
}

func NewPublisher(js jetstream.JetStream) *Publisher {
	return &Publisher{js: js}
}

// Publish sends messages on subject topic under each message's context.
func (p *Publisher) Publish(topic string, messages ...*message.Message) error {
	for _, m := range messages {
		if m.UUID == "" {
			return fmt.Errorf("publish %s: message without id", topic)
		}
		err := streams.UntilAnswered(m.Context(), func(ctx context.Context) error {
			_, err := p.js.PublishMsg(ctx, natsMessage(topic, m))
			return err
		})
		if err != nil {
			return fmt.Errorf("publish %s: %w", topic, err)
		}
	}
	return nil
}

// natsMessage carries m on subject, its metadata as headers and its UUID as
// the message id the stream de-duplicates by.
func natsMessage(subject string, m *message.Message) *nats.Msg {
	msg := nats.NewMsg(subject)
	msg.Data = m.Payload
	for key, value := range m.Metadata {
		msg.Header.Set(key, value)
	}
	msg.Header.Set(jetstream.MsgIDHeader, m.UUID)
	return msg
}

// Schedule publishes m so that the stream stores it on subject topic at
// at, not before. m is stored first on schedule, a subject of the same
// stream that no consumer should read, as a JetStream message schedule
// (Nats-Schedule "@at …", Nats-Schedule-Target topic); when it is due the
// server publishes it on topic and deletes the schedule. The stream must
// allow message schedules. m's UUID is the schedule's Nats-Msg-Id, so a
// retried Schedule within the duplicate window is stored once; a schedule
// not yet due is replaced by the next one on the same subject. The message
// the schedule publishes has the id in m's IDKey metadata, or m's UUID.
func (p *Publisher) Schedule(topic, schedule string, at time.Time, m *message.Message) error {
	if m.UUID == "" {
		return fmt.Errorf("schedule %s: message without id", topic)
	}
	msg := natsMessage(schedule, m)
	if m.Metadata.Get(IDKey) == "" {
		msg.Header.Set(IDKey, m.UUID)
	}
	// A schedule's time is in whole seconds: rounded up, never early.
	if whole := at.Truncate(time.Second); whole.Before(at) {
		at = whole.Add(time.Second)
	}
	err := streams.UntilAnswered(m.Context(), func(ctx context.Context) error {
		_, err := p.js.PublishMsg(ctx, msg, jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(topic))
		return err
	})
	if err != nil {
		return fmt.Errorf("schedule %s at %s: %w", topic, at.Format(time.RFC3339), err)
	}
	return nil
}

// Close has nothing to release: the connection belongs to the caller.
func (p *Publisher) Close() error { return nil }

// received turns a JetStream message into a watermill one. Headers become
// metadata, except the server's own (Nats-…), which would mean something
// else if the message were published again.
func received(ctx context.Context, jm jetstream.Msg, limit int) *message.Message {
	// A message from a consumer always has metadata; without them it
	// counts as a first delivery.
	meta, err := jm.Metadata()
	id := jm.Headers().Get(jetstream.MsgIDHeader)
	if id == "" {
		id = jm.Headers().Get(IDKey)
	}
	if id == "" && err == nil {
		id = meta.Stream + ":" + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	if id == "" {
		id = watermill.NewUUID()
	}
	wm := message.NewMessageWithContext(ctx, id, jm.Data())
	for key, values := range jm.Headers() {
		if len(values) > 0 && !isServerHeader(key) {
			wm.Metadata.Set(key, values[0])
		}
	}
	wm.Metadata.Set(SubjectKey, jm.Subject())
	if err == nil {
		wm.Metadata.Set(DeliveredKey, strconv.FormatUint(meta.NumDelivered, 10))
	}
	// What a message republished by hand may carry from an earlier
	// delivery does not count.
	delete(wm.Metadata, DeliveryLimitKey)
	if limit > 0 {
		wm.Metadata.Set(DeliveryLimitKey, strconv.Itoa(limit))
	}
	delete(wm.Metadata, nakDelayKey)
	return wm
}

func isServerHeader(key string) bool {
	return strings.HasPrefix(strings.ToLower(key), "nats-")
}
