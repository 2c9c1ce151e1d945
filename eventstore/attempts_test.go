package eventstore

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A replicated stream's requests are sent again while they find no leader;
// a stream of one replica has no election to wait for and sends each once.
func TestOnlyAReplicatedStreamSendsAgain(t *testing.T) {
	for _, tc := range []struct {
		replicated bool
		sent       int
	}{{true, 2}, {false, 1}} {
		s := &Store{replicated: tc.replicated}
		sent := 0
		err := s.answered(context.Background(), func(context.Context) error {
			sent++
			if sent == 1 {
				return jetstream.ErrNoStreamResponse
			}
			return nil
		})
		if sent != tc.sent || (tc.replicated && err != nil) {
			t.Fatalf("replicated %t: sent %d times (%v), want %d", tc.replicated, sent, err, tc.sent)
		}
	}
}
