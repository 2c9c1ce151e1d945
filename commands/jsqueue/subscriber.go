package jsqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/streams"
)

// Config of a Subscriber.
type Config struct {
	// Stream holds the durable consumers that Subscribe names.
	Stream string
	// Concurrency is how many messages of one subscription the router may
	// handle at once, capped by the consumer's max_ack_pending. The
	// consumer pulls no more than that many ahead, so a subscription holds
	// at most twice as many unacknowledged messages.
	Concurrency int
	// NakDelay is when a message nacked without NakAfter comes back.
	NakDelay time.Duration
	// DrainTimeout is how long handlers may finish the messages they hold
	// once their subscription stops; then their context is cancelled.
	DrainTimeout time.Duration
	// MaxDeliveries is the delivery from which a message whose handler
	// fails goes to Abandon instead of coming back (LastDelivery); 0 leaves
	// only the consumer's max_deliver, and the lower of the two applies.
	// Unlike max_deliver, it leaves the server free to deliver again a
	// message whose delivery at the limit was never settled (its worker
	// crashed): on a consumer without max_deliver that delivery, past the
	// limit, gets one more try before Abandon, and no message is left in
	// the stream unread.
	MaxDeliveries int
	// Abandon takes a message at its last delivery (LastDelivery) that the
	// router did not ack: its handler failed and the router nacked it, or
	// its handler gave no verdict in time; and one that the subscription
	// stopped before handing out, when the consumer's max_deliver is
	// reached (otherwise it is handed back). Abandon should keep it
	// elsewhere (a poison subject); once Abandon returns nil the message is
	// acked and leaves the stream. Without Abandon, or when it fails, the
	// message is not acked: it comes again after ack_wait, or, at the
	// consumer's max_deliver, stays in the stream unread.
	Abandon func(msg *message.Message, reason string) error
	Log     *slog.Logger
}

// ackTimeout bounds the wait for the server to confirm an ack.
const ackTimeout = 5 * time.Second

// releaseWait bounds the wait for messages already pulled when a
// subscription stops, which are handed back at once.
const releaseWait = time.Second

// verdictWait is how long a message waits for its handler's Ack or Nack
// once the handler's context has ended.
const verdictWait = time.Second

// Subscriber hands the messages of a durable pull consumer to a watermill
// router: Ack becomes a JetStream ack (confirmed by the server), Nack a
// JetStream nak with the delay set by NakAfter or Config.NakDelay. A message
// at its last delivery (Config.MaxDeliveries or the consumer's max_deliver)
// that is not acked goes to Config.Abandon instead.
type Subscriber struct {
	js      jetstream.JetStream
	config  Config
	closing context.Context
	close   context.CancelFunc

	mu     sync.Mutex
	closed bool
	// running counts subscriptions and the messages they handed out that
	// are not settled yet.
	running sync.WaitGroup
}

func NewSubscriber(js jetstream.JetStream, config Config) (*Subscriber, error) {
	if config.Stream == "" || config.Concurrency < 1 || config.NakDelay < 0 || config.DrainTimeout <= 0 || config.MaxDeliveries < 0 {
		return nil, fmt.Errorf("jsqueue: invalid config %+v", config)
	}
	if config.Log == nil {
		config.Log = slog.New(slog.DiscardHandler)
	}
	closing, closeAll := context.WithCancel(context.Background())
	return &Subscriber{js: js, config: config, closing: closing, close: closeAll}, nil
}

// Subscribe reads the durable consumer named topic until ctx ends or the
// subscriber closes; then the channel closes. Messages handed out before
// are still settled: their handlers get DrainTimeout to finish.
//
// A topic names a consumer of Config.Stream, not a subject: a consumer is
// what JetStream delivers from, and one consumer of a work queue covers all
// its subjects. A message's subject is in its metadata (Subject).
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	consumer, err := s.js.Consumer(ctx, s.config.Stream, topic)
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", topic, err)
	}
	declared := consumer.CachedInfo().Config
	limit := s.config.Concurrency
	if declared.MaxAckPending > 0 {
		limit = min(limit, declared.MaxAckPending)
	}
	it, err := consumer.Messages(streams.MessagesOptions(limit)...)
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", topic, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		it.Stop()
		return nil, errors.New("jsqueue: subscriber closed")
	}
	s.running.Add(1)
	s.mu.Unlock()

	stop, stopped := context.WithCancel(ctx)
	unlink := context.AfterFunc(s.closing, stopped)
	handling, expire := context.WithCancel(context.WithoutCancel(ctx))
	context.AfterFunc(stop, func() { time.AfterFunc(s.config.DrainTimeout, expire) })
	p := &pull{
		subscriber: s, consumer: topic, it: it,
		slots:    make(chan struct{}, limit),
		handling: handling, ackWait: declared.AckWait, maxDeliver: declared.MaxDeliver,
		deliveryLimit: deliveryLimit(declared.MaxDeliver, s.config.MaxDeliveries),
	}
	if p.ackWait <= 0 {
		p.ackWait = 30 * time.Second // the server's default
	}
	out := make(chan *message.Message)
	go func() {
		defer s.running.Done()
		defer unlink()
		defer stopped()
		p.pump(stop, out)
	}()
	return out, nil
}

// Close stops every subscription and waits until every message handed out
// was settled with the server or its handler ran out of time.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.close()
	s.running.Wait()
	return nil
}

// pull is one subscription.
type pull struct {
	subscriber *Subscriber
	consumer   string
	it         jetstream.MessagesContext
	// slots holds one token per message handed out and not settled yet.
	slots chan struct{}
	// handling is the parent of the handlers' contexts: it outlives the
	// subscription by DrainTimeout, so that a stop lets work finish.
	handling context.Context
	ackWait  time.Duration
	// maxDeliver is the consumer's: past it JetStream delivers nothing.
	maxDeliver int
	// deliveryLimit is where LastDelivery starts (DeliveryLimitKey).
	deliveryLimit int
}

// pump hands messages to the router, one per free slot, until stop ends.
func (p *pull) pump(stop context.Context, out chan<- *message.Message) {
	defer close(out)
	defer p.release()
	for {
		select {
		case p.slots <- struct{}{}:
		case <-stop.Done():
			return
		}
		jm, err := p.it.Next(jetstream.NextContext(stop))
		if errors.Is(err, jetstream.ErrNoHeartbeat) {
			// The pull was lost with a node or the consumer's leader; the
			// next call pulls again.
			<-p.slots
			p.subscriber.config.Log.Warn("no heartbeat from the consumer; pulling again", "consumer", p.consumer)
			continue
		}
		if err != nil {
			<-p.slots
			if stop.Err() == nil {
				p.subscriber.config.Log.Error("consumer stopped", "consumer", p.consumer, "err", err)
			}
			return
		}
		// A handler gets at most ack_wait: after that JetStream hands the
		// message to another worker anyway. The message may have waited
		// here since its delivery, up to a handler's run: its ack_wait
		// starts again now, after the handler's deadline was set, so that
		// the server's ends later than the handler's.
		ctx, done := context.WithTimeout(p.handling, p.ackWait)
		if err := jm.InProgress(); err != nil {
			p.subscriber.config.Log.Warn("in-progress not sent; the message may come again while it runs",
				"consumer", p.consumer, "err", err)
		}
		wm := received(ctx, jm, p.deliveryLimit)
		// What the router received, for Abandon: once handed out, the
		// message belongs to its handler, which may still be changing it.
		var kept *message.Message
		if LastDelivery(wm) {
			kept = wm.Copy()
		}
		select {
		case out <- wm:
			p.subscriber.running.Add(1)
			go p.settle(ctx, done, jm, wm, kept)
		case <-stop.Done():
			done()
			<-p.slots
			p.handBack(jm)
			return
		}
	}
}

// release stops pulling and hands back at once the messages already pulled
// but not handed out, rather than leaving them to ack_wait.
func (p *pull) release() {
	p.it.Drain()
	for {
		jm, err := p.it.Next(jetstream.NextMaxWait(releaseWait))
		if err != nil {
			return
		}
		p.handBack(jm)
	}
}

// handBack returns a message that was pulled but not handed out, for
// another subscriber to take at once. It has not failed: one at its last
// delivery is handed back too, and its next delivery, past the limit, is
// its try. Only one at the consumer's max_deliver, which would never come
// again, is abandoned instead.
func (p *pull) handBack(jm jetstream.Msg) {
	if p.final(jm) {
		p.abandon(jm, received(context.Background(), jm, p.deliveryLimit), "not run at its last delivery: the subscriber stopped")
		return
	}
	p.nak(jm, 0)
}

// final tells whether JetStream will not deliver the message again: it is
// at the consumer's max_deliver.
func (p *pull) final(jm jetstream.Msg) bool {
	meta, err := jm.Metadata()
	return err == nil && p.maxDeliver > 0 && meta.NumDelivered >= uint64(p.maxDeliver)
}

// settle tells the server what the router decided about a message. kept is
// the message as handed out when it was at its last delivery.
func (p *pull) settle(ctx context.Context, done context.CancelFunc, jm jetstream.Msg, wm, kept *message.Message) {
	defer p.subscriber.running.Done()
	defer func() { <-p.slots }()
	defer done()
	if kept != nil {
		defer p.keepInProgress(jm)()
	}
	select {
	case <-wm.Acked():
	case <-wm.Nacked():
	case <-ctx.Done():
		// Out of time: a handler usually answers at once.
		select {
		case <-wm.Acked():
		case <-wm.Nacked():
		case <-time.After(verdictWait):
		}
	}
	switch {
	case isClosed(wm.Acked()):
		p.ack(jm, wm.UUID)
	case kept != nil && isClosed(wm.Nacked()):
		// Nacked at the last delivery: its handler failed, and whatever
		// should have kept the message (a poison queue) failed too.
		p.abandon(jm, wm, "nacked at its last delivery")
	case kept != nil:
		// The handler may still change wm: the copy taken at hand-out goes.
		p.abandon(jm, kept, "no verdict at its last delivery: the handler was still running when its time ran out")
	case isClosed(wm.Nacked()):
		fallback := p.subscriber.config.NakDelay
		if p.handling.Err() != nil {
			// Cancelled by the stop, not failed: another subscriber may
			// take it now.
			fallback = 0
		}
		p.nak(jm, nakDelay(wm, fallback))
	default:
		p.subscriber.config.Log.Warn("handler still running when its time ran out; the message comes again after ack_wait",
			"consumer", p.consumer, "id", wm.UUID)
	}
}

// keepInProgress keeps the server from delivering a message at its last
// delivery again until the returned func is called: the handler's deadline
// is the server's ack_wait, and waiting for its verdict, then keeping the
// message elsewhere (Abandon), take longer. Unless the consumer's
// max_deliver is reached, the server would hand the message to another
// worker meanwhile, for a try past the limit.
func (p *pull) keepInProgress(jm jetstream.Msg) (stop func()) {
	tick := time.NewTicker(p.ackWait / 2)
	stopped := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-tick.C:
				if err := jm.InProgress(); err != nil {
					p.subscriber.config.Log.Warn("in-progress not sent; the message may come again while it is settled",
						"consumer", p.consumer, "err", err)
				}
			case <-stopped:
				return
			}
		}
	}()
	return func() {
		tick.Stop()
		close(stopped)
		<-finished
	}
}

func (p *pull) ack(jm jetstream.Msg, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	if err := jm.DoubleAck(ctx); err != nil {
		p.subscriber.config.Log.Warn("ack not confirmed; the message may come again", "consumer", p.consumer, "id", id, "err", err)
	}
}

// abandon hands a message at its last delivery to Config.Abandon and acks
// it once kept elsewhere.
func (p *pull) abandon(jm jetstream.Msg, wm *message.Message, reason string) {
	log := p.subscriber.config.Log
	fate := "it comes again after ack_wait"
	if p.final(jm) {
		fate = "it stays in the stream unread"
	}
	if p.subscriber.config.Abandon == nil {
		log.Error("message abandoned at its last delivery; "+fate,
			"consumer", p.consumer, "id", wm.UUID, "reason", reason)
		return
	}
	if err := p.subscriber.config.Abandon(wm, reason); err != nil {
		log.Error("abandoned message not kept; "+fate,
			"consumer", p.consumer, "id", wm.UUID, "reason", reason, "err", err)
		return
	}
	p.ack(jm, wm.UUID)
}

func (p *pull) nak(jm jetstream.Msg, delay time.Duration) {
	var err error
	if delay > 0 {
		err = jm.NakWithDelay(delay)
	} else {
		err = jm.Nak()
	}
	if err != nil {
		p.subscriber.config.Log.Warn("nak not sent; the message comes again after ack_wait", "consumer", p.consumer, "err", err)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
