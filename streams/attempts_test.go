package streams

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A request to a stream's leader that goes unanswered, or (on a replicated
// stream) finds no leader, is sent again while its caller waits; one that
// is refused is not.
func TestRequestsAreSentAgainUntilALeaderIsElected(t *testing.T) {
	refused := errors.New("wrong last sequence")
	unanswered := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	noLeader := func(context.Context) error { return jetstream.ErrNoStreamResponse }
	answered := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name     string
		until    func(context.Context, func(context.Context) error) error
		attempts []func(context.Context) error
		deadline time.Duration
		want     error
		sent     int
	}{
		{"answered at once", UntilAnswered, []func(context.Context) error{answered}, 10 * time.Second, nil, 1},
		{"unanswered, then answered by the new leader", UntilAnswered,
			[]func(context.Context) error{unanswered, unanswered, answered}, 10 * time.Second, nil, 3},
		{"no leader, then one", UntilLed, []func(context.Context) error{noLeader, noLeader, answered}, 10 * time.Second, nil, 3},
		{"refused", UntilLed, []func(context.Context) error{func(context.Context) error { return refused }, answered}, 10 * time.Second, refused, 1},
		{"unanswered until the caller's deadline", UntilLed,
			[]func(context.Context) error{unanswered, unanswered, unanswered}, 3 * time.Second, context.DeadlineExceeded, 2},
		{"no stream to take it, on one replica", UntilAnswered, []func(context.Context) error{noLeader, answered}, 10 * time.Second, jetstream.ErrNoStreamResponse, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			sent := 0
			began := time.Now()
			err := tc.until(ctx, func(ctx context.Context) error {
				f := tc.attempts[min(sent, len(tc.attempts)-1)]
				sent++
				return f(ctx)
			})
			if !errors.Is(err, tc.want) || sent != tc.sent {
				t.Fatalf("%v after %d attempts, want %v after %d", err, sent, tc.want, tc.sent)
			}
			if took := time.Since(began); took > tc.deadline+time.Second {
				t.Fatalf("took %s, past the caller's deadline", took)
			}
		})
	}
}
