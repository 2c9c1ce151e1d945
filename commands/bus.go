package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Subjects of the work that waits, on the COMMANDS work-queue stream.
const (
	ExpireWithdrawalSubject = "commands.liquidity.expire_withdrawal"
)

// ExpireWithdrawal asks, once DueAt has passed, to record that a pending
// liquidity withdrawal expired.
type ExpireWithdrawal struct {
	TransferID string    `json:"transferId"`
	DueAt      time.Time `json:"dueAt"`
}

// Enqueue puts a command on the work queue; id makes a retried enqueue a
// duplicate the stream drops.
func Enqueue(ctx context.Context, js jetstream.JetStream, subject, id string, command any) error {
	data, err := json.Marshal(command)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, id)
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("enqueue %s: %w", subject, err)
	}
	return nil
}

// Worker takes commands from a durable consumer and runs them. A command
// that is not due yet goes back with a delay; one whose handler fails is
// retried after a pause, up to the consumer's max deliveries.
type Worker struct {
	JS       jetstream.JetStream
	Stream   string
	Consumer string
	Handlers map[string]func(ctx context.Context, data []byte) (retryAfter time.Duration, err error)
	Log      *slog.Logger
}

// failureBackoff spaces the retries of a failed command.
const failureBackoff = 5 * time.Second

// Run handles commands until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	cons, err := w.JS.Consumer(ctx, w.Stream, w.Consumer)
	if err != nil {
		return fmt.Errorf("consumer %s: %w", w.Consumer, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume %s: %w", w.Consumer, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("consume %s: %w", w.Consumer, err)
		}
		w.handle(ctx, msg)
	}
}

func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	handler, ok := w.Handlers[msg.Subject()]
	if !ok {
		w.Log.Error("no handler for command; dropped", "subject", msg.Subject())
		_ = msg.Term()
		return
	}
	retryAfter, err := handler(ctx, msg.Data())
	switch {
	case err != nil:
		w.Log.Warn("command failed; will retry", "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(failureBackoff)
	case retryAfter > 0:
		_ = msg.NakWithDelay(retryAfter)
	default:
		_ = msg.Ack()
	}
}
