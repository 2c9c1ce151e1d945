package streams

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A request to the leader of a replicated stream (a publish, a read of a
// subject's last message) gets no answer when the leader went down with
// it, or when it reached the servers while they had none: they ignore it,
// or answer that no one took it, until they have elected a leader, 4 to
// 9 s later; a direct get, which any replica answers, is lost with the node
// it reached. Such a request is sent again after AttemptTimeout
// (noLeaderRetryWait after a refusal), as long as its caller waits and at
// most attemptsMax times, so that it is answered soon after the election
// rather than at its deadline. A publish that was only slow is answered as
// a duplicate when sent again with the same message id.
const (
	AttemptTimeout    = 2 * time.Second
	attemptsMax       = 30
	noLeaderRetryWait = 250 * time.Millisecond
)

// UntilAnswered runs f, a request to a stream's servers, again each time
// an attempt gets no answer within AttemptTimeout, until ctx ends. f must
// be safe to repeat: a read, or a publish with a message id.
func UntilAnswered(ctx context.Context, f func(ctx context.Context) error) error {
	return attempt(ctx, false, f)
}

// UntilLed is UntilAnswered for a stream known to be replicated, which also
// sends again, noLeaderRetryWait later, an attempt that found no leader to
// take it: the stream's servers may be electing one. On a stream of one
// replica that answer means the stream is missing, and is final.
func UntilLed(ctx context.Context, f func(ctx context.Context) error) error {
	return attempt(ctx, true, f)
}

func attempt(ctx context.Context, waitForLeader bool, f func(ctx context.Context) error) error {
	var err error
	for range attemptsMax {
		attempt, cancel := context.WithTimeout(ctx, AttemptTimeout)
		err = f(attempt)
		unanswered := attempt.Err() != nil
		cancel()
		noLeader := waitForLeader && (errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders))
		if err == nil || !(unanswered || noLeader) || ctx.Err() != nil {
			return err
		}
		if noLeader {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(noLeaderRetryWait):
			}
		}
	}
	return err
}
