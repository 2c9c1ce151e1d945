package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamBehindError is a stream that holds fewer events than a read model
// has read: the read model was built from another stream (a service
// started on another store, a DATA_DIR relative to another directory), and
// rebuilding it from this one would drop what it holds.
type StreamBehindError struct {
	Stream     string
	Last       uint64 // the stream's last sequence
	Projection string
	Checkpoint uint64 // how far the projection has read
}

func (e *StreamBehindError) Error() string {
	return fmt.Sprintf("the read model %s has read up to event %d, and the event stream %s holds %d: "+
		"it is not the stream the read models were built from", e.Projection, e.Checkpoint, e.Stream, e.Last)
}

// CheckStream refuses a stream shorter than what the read models have read
// (a StreamBehindError). A runner rebuilds a read model whose stream was
// replaced, which is right for a stream restored or copied whole, but not
// for a new, empty one met by mistake.
func CheckStream(ctx context.Context, pool *pgxpool.Pool, js jetstream.JetStream, stream string) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("check stream %s: %w", stream, err)
	}
	last := s.CachedInfo().State.LastSeq
	var name string
	var seq int64
	err = pool.QueryRow(ctx, `SELECT name, sequence FROM projection_checkpoints WHERE sequence > $1 ORDER BY sequence DESC, name LIMIT 1`,
		int64(last)).Scan(&name, &seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check stream %s: read checkpoints: %w", stream, err)
	}
	return &StreamBehindError{Stream: stream, Last: last, Projection: name, Checkpoint: uint64(seq)}
}
