package apperr

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// unavailable tells the failures of a service a request needs (Postgres,
// NATS, Redis gone, restarting, or not answering in time) from other
// errors: the caller may retry them, and they are no fault of its request.
func unavailable(err error) bool {
	// A service's connection closed under a request ends it with EOF:
	// Redis's client answers a dropped connection so.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", pgErr.Code == "53300":
			// shut down by an administrator, crashed, starting up, too
			// many connections
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	for _, e := range []error{nats.ErrTimeout, nats.ErrNoResponders, nats.ErrConnectionClosed, nats.ErrConnectionReconnecting,
		nats.ErrDisconnected, nats.ErrConnectionDraining, jetstream.ErrNoStreamResponse, redis.ErrClosed, redis.ErrPoolTimeout} {
		if errors.Is(err, e) {
			return true
		}
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jetStreamStorageExceeded, jetStreamBatchIncomplete:
		// The server's store is full, or could not stage an atomic batch
		// (its disk full, say): nothing was stored.
		return true
	}
	// 503: JetStream is not ready (no meta leader, a stream electing its
	// leader), or its store failed to write.
	return apiErr.Code == 503
}

// JetStream's error codes (nats-server's errors.json) of a store that could
// not take a write.
const (
	jetStreamStorageExceeded jetstream.ErrorCode = 10047
	jetStreamBatchIncomplete jetstream.ErrorCode = 10176
)
