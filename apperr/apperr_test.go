package apperr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

func TestEveryKindIsInTheTable(t *testing.T) {
	kinds := []Kind{InvalidInput, Unauthenticated, Forbidden, NotFound, Duplicate, Conflict, Inactive, Timeout, Unavailable, MethodNotAllowed, Internal}
	ids := map[int]bool{}
	for _, k := range kinds {
		r, ok := table[k]
		if !ok {
			t.Fatalf("kind %s missing from errors.json", k)
		}
		if ids[r.ID] || r.GraphQL == "" || r.HTTP == 0 {
			t.Fatalf("row %+v: duplicate id or missing code", r)
		}
		ids[r.ID] = true
	}
	if len(Rows()) != len(kinds) {
		t.Fatalf("errors.json has %d rows, Go names %d", len(Rows()), len(kinds))
	}
}

func TestKindOfUnwrapsAndHidesOthers(t *testing.T) {
	wrapped := fmt.Errorf("create asset: %w", E(Duplicate, "Asset already exists"))
	if KindOf(wrapped) != Duplicate || Message(wrapped) != "Asset already exists" {
		t.Fatalf("got %s %q", KindOf(wrapped), Message(wrapped))
	}
	late := fmt.Errorf("append events.t.asset.a: %w", context.DeadlineExceeded)
	if KindOf(late) != Unavailable || Message(late) == late.Error() || Message(late) == "Internal error." {
		t.Fatalf("a passed deadline: got %s %q", KindOf(late), Message(late))
	}
	other := fmt.Errorf("dial tcp: refused")
	if KindOf(other) != Internal || Message(other) != "Internal error." {
		t.Fatalf("got %s %q", KindOf(other), Message(other))
	}
}

// The failures of the services a request needs are Unavailable, wherever
// they are wrapped; others stay Internal.
func TestUnavailableServices(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want Kind
	}{
		{"deadline", context.DeadlineExceeded, Unavailable},
		{"postgres shut down", &pgconn.PgError{Code: "57P01"}, Unavailable},
		{"postgres connection exception", &pgconn.PgError{Code: "08006"}, Unavailable},
		{"postgres too many connections", &pgconn.PgError{Code: "53300"}, Unavailable},
		{"postgres unique violation", &pgconn.PgError{Code: "23505"}, Internal},
		{"connection dropped", io.ErrUnexpectedEOF, Unavailable},
		{"connection closed under a request", io.EOF, Unavailable},
		{"dial", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, Unavailable},
		{"no responders", nats.ErrNoResponders, Unavailable},
		{"no stream response", jetstream.ErrNoStreamResponse, Unavailable},
		{"jetstream not ready", &jetstream.APIError{Code: 503, ErrorCode: 10008}, Unavailable},
		{"jetstream bad request", &jetstream.APIError{Code: 400, ErrorCode: 10071}, Internal},
		{"jetstream store full", &jetstream.APIError{Code: 500, ErrorCode: 10047}, Unavailable},
		{"jetstream batch not staged", &jetstream.APIError{Code: 400, ErrorCode: 10176}, Unavailable},
		{"jetstream store failed", &jetstream.APIError{Code: 503, ErrorCode: 10077}, Unavailable},
		{"redis closed", redis.ErrClosed, Unavailable},
		{"plain", errors.New("boom"), Internal},
	} {
		err := fmt.Errorf("read model: %w", tc.err)
		if got := KindOf(err); got != tc.want {
			t.Errorf("%s: KindOf = %s, want %s", tc.name, got, tc.want)
		}
		if tc.want == Unavailable && Message(err) != unavailableMessage {
			t.Errorf("%s: Message = %q", tc.name, Message(err))
		}
	}
}
