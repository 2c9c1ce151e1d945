package eventstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A request to a replicated stream's leader that goes unanswered, or finds
// no leader, is sent again while its caller waits; one that is refused is
// not, and a stream of one replica sends every request once.
func TestRequestsAreSentAgainUntilALeaderIsElected(t *testing.T) {
	refused := errors.New("wrong last sequence")
	unanswered := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	noLeader := func(context.Context) error { return jetstream.ErrNoStreamResponse }
	answered := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name       string
		replicated bool
		attempts   []func(context.Context) error
		deadline   time.Duration
		want       error
		sent       int
	}{
		{"answered at once", true, []func(context.Context) error{answered}, 10 * time.Second, nil, 1},
		{"unanswered, then answered by the new leader", true,
			[]func(context.Context) error{unanswered, unanswered, answered}, 10 * time.Second, nil, 3},
		{"no leader, then one", true, []func(context.Context) error{noLeader, noLeader, answered}, 10 * time.Second, nil, 3},
		{"refused", true, []func(context.Context) error{func(context.Context) error { return refused }, answered}, 10 * time.Second, refused, 1},
		{"unanswered until the caller's deadline", true,
			[]func(context.Context) error{unanswered, unanswered, unanswered}, 3 * time.Second, context.DeadlineExceeded, 2},
		{"one replica: sent once", false, []func(context.Context) error{noLeader, answered}, 10 * time.Second, jetstream.ErrNoStreamResponse, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Store{replicated: tc.replicated}
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			sent := 0
			began := time.Now()
			err := s.answered(ctx, func(ctx context.Context) error {
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
