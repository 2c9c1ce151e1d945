package commands

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/commands/jsqueue"
)

// Subjects of the work that waits, on the COMMANDS work-queue stream.
const (
	ExpireWithdrawalSubject = "commands.liquidity.expire_withdrawal"
	CompleteTransferSubject = "commands.liquidity.complete_transfer"
	// ExpireInteractionSubject carries an ExpireInteraction, due when the
	// interaction expires.
	ExpireInteractionSubject = "commands.grant.expire_interaction"
)

// PoisonSubject keeps the commands that can never succeed, on its own
// stream (COMMANDS_POISON) that no worker reads.
const PoisonSubject = "commands_poison"

// ErrUnprocessable marks a command that can never succeed, whatever the
// number of tries: it goes to PoisonSubject instead of coming back.
var ErrUnprocessable = errors.New("command can never be processed")

// ExpireWithdrawal asks, once DueAt has passed, to record that a pending
// liquidity withdrawal expired.
type ExpireWithdrawal struct {
	TransferID string    `json:"transferId"`
	DueAt      time.Time `json:"dueAt"`
}

// CompleteTransfer asks, once DueAt has passed, to make sure the liquidity
// request RequestID (the id of its event) on transfer TransferID has its
// outcome: the ledger's step done and recorded. It is enqueued before the
// request is appended, so that a crash anywhere after leaves it to finish
// the work.
type CompleteTransfer struct {
	TransferID string    `json:"transferId"`
	RequestID  string    `json:"requestId"`
	DueAt      time.Time `json:"dueAt"`
}

// ScheduledPrefix starts the subjects of the commands not due yet: message
// schedules on the COMMANDS stream, outside "commands.>" so that no worker
// reads them, which the server publishes on the command's subject when due.
const ScheduledPrefix = "commands_scheduled."

// Enqueue puts a command on the work queue, to run at once; id makes a
// retried enqueue a duplicate the stream drops.
func Enqueue(ctx context.Context, js jetstream.JetStream, subject, id string, command any) error {
	return EnqueueAt(ctx, js, subject, id, time.Time{}, command)
}

// EnqueueAt puts a command on the work queue to run at at, not before; a
// zero or past at runs it at once. A command not due yet is a JetStream
// message schedule (ScheduledPrefix + the id, encoded) that the server
// turns into the command when it is due: until then no worker sees it, so
// it holds none of the places of the unacknowledged commands
// (max_ack_pending) that commands due now need. id makes a retried enqueue
// a duplicate the stream drops.
func EnqueueAt(ctx context.Context, js jetstream.JetStream, subject, id string, at time.Time, command any) error {
	data, err := json.Marshal(command)
	if err != nil {
		return err
	}
	msg := message.NewMessageWithContext(ctx, id, data)
	pub := jsqueue.NewPublisher(js)
	if at.After(time.Now()) {
		err = pub.Schedule(subject, scheduleSubject(id), at, msg)
	} else {
		err = pub.Publish(subject, msg)
	}
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	return nil
}

// scheduleSubject is where the schedule of the command with this id is.
func scheduleSubject(id string) string {
	return ScheduledPrefix + base64.RawURLEncoding.EncodeToString([]byte(id))
}

// Handler runs one command from its JSON. A positive retryAfter says the
// command is not due yet. One due within a second (notDueDelayMax), as when
// it was delivered a little early (the worker's clock behind the server's),
// is nacked and comes back after retryAfter; one due later is acked and
// enqueued again for then (EnqueueAt), so that it holds none of the
// consumer's max_ack_pending places meanwhile, or, when that enqueue fails,
// comes back after a second. An error wrapping ErrUnprocessable sends the
// command to the poison subject; any other error retries it after
// Worker.FailureBackoff.
type Handler func(ctx context.Context, data []byte) (retryAfter time.Duration, err error)

// notDueDelayMax is the longest a command not due yet waits as an
// unacknowledged message.
const notDueDelayMax = time.Second

// Worker runs commands from a durable consumer through a watermill router.
// Each command goes to one worker. One that is not due yet comes back when
// it is (see Handler); one whose handler fails is retried after
// FailureBackoff up to MaxDeliveries, and goes to PoisonSubject if its last
// delivery fails too (an error, a panic, or no verdict before ack_wait), as
// does one with no handler or that can never succeed.
//
// The limit is the worker's, not the consumer's: the consumer should have
// no max_deliver, so that a command whose last delivery was never settled
// (its worker crashed) is delivered again. That delivery, past the limit,
// gets one more try, then goes to PoisonSubject if it fails.
type Worker struct {
	JS            jetstream.JetStream
	Stream        string
	Consumer      string
	PoisonSubject string
	// Handlers are chosen by the message's subject: the handler under the
	// subject itself, or else under a filter that matches it ("*" one
	// token, ">" the tokens left); filters must not overlap.
	Handlers map[string]Handler
	Log      *slog.Logger
	// Concurrency is how many commands one worker runs at once (default 64).
	Concurrency int
	// FailureBackoff spaces the retries of a failed command (default 5 s).
	FailureBackoff time.Duration
	// DrainTimeout is how long commands under way may finish once ctx ends
	// (default 10 s).
	DrainTimeout time.Duration
	// MaxDeliveries is the delivery of a command, counted by JetStream, at
	// which a failure poisons it instead of retrying it (default
	// maxDeliveriesDefault). A consumer's max_deliver below it is the limit
	// instead.
	MaxDeliveries int
}

const (
	// concurrencyDefault is high because a command mostly waits (the
	// ledger's batch, the event store's group commit, a peer's answer):
	// with 8 at once, 100 funded payments queued here for half a second
	// while the batches that would have taken them together ran small.
	concurrencyDefault    = 64
	failureBackoffDefault = 5 * time.Second
	drainTimeoutDefault   = 10 * time.Second
	// maxDeliveriesDefault is how many deliveries a failing command gets:
	// with FailureBackoff's 5 s, about four minutes of retries.
	maxDeliveriesDefault = 50
)

// Run handles commands until ctx ends, then lets the commands under way
// finish (up to DrainTimeout) and returns nil. It returns an error when the
// consumer cannot be read or stops on its own.
func (w *Worker) Run(ctx context.Context) error {
	// The router leaks a goroutine when a subscription cannot start, so a
	// missing consumer is found here first.
	if _, err := w.JS.Consumer(ctx, w.Stream, w.Consumer); err != nil {
		return fmt.Errorf("consumer %s: %w", w.Consumer, err)
	}
	drain := cmp.Or(w.DrainTimeout, drainTimeoutDefault)
	poisonPub := &poisonPublisher{pub: jsqueue.NewPublisher(w.JS), log: w.log()}
	sub, err := jsqueue.NewSubscriber(w.JS, jsqueue.Config{
		Stream: w.Stream, Concurrency: cmp.Or(w.Concurrency, concurrencyDefault),
		NakDelay: cmp.Or(w.FailureBackoff, failureBackoffDefault), DrainTimeout: drain, Log: w.log(),
		MaxDeliveries: cmp.Or(w.MaxDeliveries, maxDeliveriesDefault),
		Abandon: func(msg *message.Message, reason string) error {
			if msg.Metadata.Get(middleware.ReasonForPoisonedKey) == "" {
				msg.Metadata.Set(middleware.ReasonForPoisonedKey, fmt.Sprintf("%s: %s (%s)", reason, jsqueue.Subject(msg), msg.UUID))
			}
			return poisonPub.Publish(w.PoisonSubject, msg)
		},
	})
	if err != nil {
		return err
	}
	defer sub.Close()
	// The router's own messages (handlers added, started, closed) are
	// debug; its errors stay errors.
	logger := watermill.NewSlogLoggerWithLevelMapping(w.log(), map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: drain + time.Second}, logger)
	if err != nil {
		return err
	}
	poison, err := middleware.PoisonQueueWithFilter(poisonPub, w.PoisonSubject, poisoned)
	if err != nil {
		return err
	}
	// Outermost first: a panic becomes an error, an error at the last
	// delivery becomes poison, poison is published and acked.
	router.AddMiddleware(poison, poisonLastDelivery, middleware.Recoverer)
	router.AddConsumerHandler(w.Consumer, w.Consumer, sub, w.dispatch)
	if err := router.Run(ctx); err != nil {
		return err
	}
	if ctx.Err() == nil {
		return fmt.Errorf("consumer %s stopped", w.Consumer)
	}
	return nil
}

// dispatch runs a command's handler, chosen by its subject.
func (w *Worker) dispatch(msg *message.Message) error {
	subject := jsqueue.Subject(msg)
	handle, ok := w.handler(subject)
	if !ok {
		return fmt.Errorf("%w: no handler for %s (%s)", ErrUnprocessable, subject, msg.UUID)
	}
	retryAfter, err := handle(msg.Context(), msg.Payload)
	switch {
	case err != nil:
		return fmt.Errorf("%s (%s): %w", subject, msg.UUID, err)
	case retryAfter <= 0:
		return nil
	case retryAfter > notDueDelayMax:
		err := w.reschedule(msg, retryAfter)
		if err == nil {
			return nil // acked: it is on the queue again, for later
		}
		w.log().Warn("command not due not enqueued again; it comes back in a second",
			"subject", subject, "id", msg.UUID, "err", err)
		if jsqueue.LastDelivery(msg) {
			return fmt.Errorf("%w: %s (%s) still not due at its last delivery: %w", ErrUnprocessable, subject, msg.UUID, err)
		}
	case jsqueue.LastDelivery(msg):
		return fmt.Errorf("%w: %s (%s) still not due at its last delivery", ErrUnprocessable, subject, msg.UUID)
	}
	// Not due yet: nacked here, with its own delay, rather than by returning
	// an error, which the router would log as a failure. The router's Ack
	// that follows a nil return does nothing once Nack was sent.
	jsqueue.NakAfter(msg, min(retryAfter, notDueDelayMax))
	msg.Nack()
	return nil
}

// handler is the handler of a subject (see Worker.Handlers).
func (w *Worker) handler(subject string) (Handler, bool) {
	if h, ok := w.Handlers[subject]; ok {
		return h, true
	}
	for filter, h := range w.Handlers {
		if server.SubjectMatchesFilter(subject, filter) {
			return h, true
		}
	}
	return nil, false
}

// reschedule enqueues a command again, due after retryAfter, on the
// schedule subject EnqueueAt gives its id: a schedule stored for it before
// and not yet due is replaced. Its message id is new, since the command's
// own may still be in the stream's duplicate window.
func (w *Worker) reschedule(msg *message.Message, retryAfter time.Duration) error {
	at := time.Now().Add(retryAfter)
	again := message.NewMessageWithContext(msg.Context(), msg.UUID+"@"+at.UTC().Format(time.RFC3339Nano), msg.Payload)
	again.Metadata.Set(jsqueue.IDKey, msg.UUID)
	return jsqueue.NewPublisher(w.JS).Schedule(jsqueue.Subject(msg), scheduleSubject(msg.UUID), at, again)
}

// poisonLastDelivery makes a failure at the last delivery poison: the
// command is not retried, and leaves the work queue.
func poisonLastDelivery(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err != nil && !errors.Is(err, ErrUnprocessable) && jsqueue.LastDelivery(msg) {
			err = fmt.Errorf("%w: failed at its last delivery: %w", ErrUnprocessable, err)
		}
		return out, err
	}
}

func poisoned(err error) bool { return errors.Is(err, ErrUnprocessable) }

// poisonPublishTimeout bounds the publish of a poisoned command.
const poisonPublishTimeout = 5 * time.Second

// poisonPublisher publishes poisoned commands under a context of their own:
// a command is often poisoned because its handler's context ended (ack_wait
// reached, or the drain timeout of a stopping worker), and a publish under
// that context would fail, and the command would come again past its last
// delivery, or stay unread at the consumer's max_deliver.
type poisonPublisher struct {
	pub *jsqueue.Publisher
	log *slog.Logger
}

func (p *poisonPublisher) Publish(topic string, messages ...*message.Message) error {
	for _, m := range messages {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(m.Context()), poisonPublishTimeout)
		c := m.Copy()
		c.SetContext(ctx)
		err := p.pub.Publish(topic, c)
		cancel()
		if err != nil {
			return err
		}
		p.log.Error("command poisoned", "subject", topic, "id", m.UUID,
			"command", jsqueue.Subject(m), "reason", m.Metadata.Get(middleware.ReasonForPoisonedKey))
	}
	return nil
}

func (p *poisonPublisher) Close() error { return nil }

func (w *Worker) log() *slog.Logger {
	if w.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Log
}
