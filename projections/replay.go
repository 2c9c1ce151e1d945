package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/rafiki-go/rafiki/streams"
)

const (
	// Events read ahead and applied per transaction while replaying; also
	// the most events one direct-get request of the swap reads. The server
	// counts the pending messages matching the filter for every direct-get
	// request, which costs in proportion to the stream's subjects, so fewer,
	// larger requests read faster.
	replayBatchEvents = 5000
	// Events the swap reads in one direct get, a batch that a client's
	// synchronous subscription holds whole (app's syncQueueLength): the
	// swap reads only what came in since the consumer caught up.
	readBatchEvents = 1000
	// Rows a replay's fold holds before it writes them (see Fold).
	replayFoldRows = 200_000
	// Stop a runaway replay: no stream of ours holds this many events.
	replayEventsMax = 1 << 40
)

// Progress reports how far a replay has come, in stream sequences.
type Progress struct {
	Sequence     uint64 // last sequence read
	LastSequence uint64 // the stream's last sequence when the replay began
	Applied      uint64 // events folded or applied so far
	SetAside     int    // events that cannot be applied so far
}

// Replay rebuilds a projection from sequence 1 into a fresh schema, then
// swaps it in for the live one in one transaction, while readers keep
// reading the old tables until that moment. filter is the subject filter of
// the projection's consumer. It returns the checkpoint of the new tables.
func Replay(ctx context.Context, pool *pgxpool.Pool, js jetstream.JetStream, streamName string,
	p Projection, filter string, progress func(Progress)) (uint64, error) {
	release, err := holdReplayLock(ctx, pool, p.Name())
	if err != nil {
		return 0, err
	}
	defer release()
	if err := withTimeout(ctx, func(ctx context.Context) error { return Prepare(ctx, pool, p) }); err != nil {
		return 0, fmt.Errorf("replay %s: %w", p.Name(), err)
	}
	var end uint64
	if err := withTimeout(ctx, func(ctx context.Context) error {
		stream, err := js.Stream(ctx, streamName)
		if err != nil {
			return err
		}
		end = stream.CachedInfo().State.LastSeq
		return nil
	}); err != nil {
		return 0, fmt.Errorf("replay %s: %w", p.Name(), err)
	}
	r := &replayer{js: js, stream: streamName, projection: p, filter: filter, schema: Schema(p) + "_replay", end: end, progress: progress}
	err = r.build(ctx, pool, false)
	if err != nil && cannotApply(err) {
		// Rows copied from a fold cannot tell which event they came from:
		// the projection is built again from the first event, a batch at
		// a time, and a batch that fails one event at a time.
		err = r.build(ctx, pool, true)
	}
	if err != nil {
		return 0, err
	}
	if err := beginWithTimeout(ctx, pool, r.swap); err != nil {
		return 0, err
	}
	r.report()
	return r.last, nil
}

// build builds the projection from the first event into the fresh schema,
// up to the stream's end when the replay began. A careful build folds only
// within a batch, as the runner does, and applies a batch that fails one
// event at a time, setting aside the events that fail.
func (r *replayer) build(ctx context.Context, pool *pgxpool.Pool, careful bool) error {
	r.last, r.applied, r.aside = 0, 0, nil
	if err := beginWithTimeout(ctx, pool, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{r.schema}.Sanitize()+" CASCADE"); err != nil {
			return err
		}
		return createSchema(ctx, tx, r.projection, r.schema)
	}); err != nil {
		return fmt.Errorf("replay %s: prepare %s: %w", r.projection.Name(), r.schema, err)
	}
	b := newBuilder(pool, r.projection, r.schema, replayFoldRows, careful)
	// Most of the work happens outside the swap so that the live projection
	// keeps running; the swap then only applies what arrived meanwhile.
	// Batches are read and decoded ahead while the previous one is folded
	// or applied.
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	for batch := range r.readAhead(readCtx) {
		if batch.err != nil {
			return batch.err
		}
		if err := r.add(ctx, b, batch.events); err != nil {
			return err
		}
	}
	stopReading()
	return b.finish(ctx)
}

// withTimeout runs one step of a replay under stepTimeout.
func withTimeout(ctx context.Context, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	return f(ctx)
}

// beginWithTimeout runs one transaction of a replay under stepTimeout.
func beginWithTimeout(ctx context.Context, pool *pgxpool.Pool, f func(ctx context.Context, tx pgx.Tx) error) error {
	return withTimeout(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return f(ctx, tx) })
	})
}

// ErrReplayRunning is returned by Replay while another replay of the same
// projection runs, in this process or another.
var ErrReplayRunning = errors.New("another replay of this projection is running")

// holdReplayLock takes the projection's replay lock on a connection of its
// own, outside the pool: a replay holding a pooled connection while it
// waits for another could starve with others doing the same. release
// gives the lock back and closes the connection; the death of the process
// gives it back too. The unlock is explicit because a closed connection's
// server process lets its locks go only as it exits, a moment after the
// close returns: a replay started right after one ended was refused.
func holdReplayLock(ctx context.Context, pool *pgxpool.Pool, name string) (release func(), err error) {
	var conn *pgx.Conn
	err = withTimeout(ctx, func(ctx context.Context) error {
		if conn, err = pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy()); err != nil {
			return err
		}
		var held bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, replayKey(name)).Scan(&held); err != nil {
			return err
		}
		if !held {
			return ErrReplayRunning
		}
		return nil
	})
	if err != nil {
		if conn != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
		return nil, fmt.Errorf("replay %s: %w", name, err)
	}
	return func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(closeCtx, `SELECT pg_advisory_unlock($1)`, replayKey(name))
		_ = conn.Close(closeCtx)
	}, nil
}

type replayer struct {
	js         jetstream.JetStream
	stream     string
	projection Projection
	filter     string
	schema     string
	end        uint64
	progress   func(Progress)

	last    uint64 // last stream sequence read
	applied uint64
	aside   []setAside // events that cannot be applied
}

// readBatch is what readAhead delivers: events in order, or the error that
// ended the reading.
type readBatch struct {
	events []decoded
	err    error
}

// readAhead reads the events from sequence 1 until it reaches r.end or
// the stream has no more, and delivers them in batches, one batch ahead of
// the reader of the channel. It reads through an ordered consumer: the
// server pushes the messages as they are stored, which costs it a fraction
// of answering direct gets, whose every message carries headers built for
// it.
func (r *replayer) readAhead(ctx context.Context) <-chan readBatch {
	out := make(chan readBatch, 1)
	go func() {
		defer close(out)
		send := func(b readBatch) bool {
			select {
			case out <- b:
				return b.err == nil
			case <-ctx.Done():
				return false
			}
		}
		fail := func(err error) { send(readBatch{err: fmt.Errorf("replay %s: read: %w", r.projection.Name(), err)}) }
		cons, err := r.js.OrderedConsumer(ctx, r.stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{r.filter}, DeliverPolicy: jetstream.DeliverAllPolicy})
		if err != nil {
			fail(err)
			return
		}
		it, err := cons.Messages(streams.MessagesOptions(replayBatchEvents)...)
		if err != nil {
			fail(err)
			return
		}
		defer func() {
			it.Stop()
			// The server would drop the consumer after a while of
			// inactivity; it is of no use any more.
			if info := cons.CachedInfo(); info != nil {
				deleteCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				_ = r.js.DeleteConsumer(deleteCtx, r.stream, info.Name)
				cancel()
			}
		}()
		if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
			return // nothing matches the filter yet
		}
		// Each read waits at most stepTimeout; the iterator stops when ctx
		// ends.
		stopOnDone := context.AfterFunc(ctx, it.Stop)
		defer stopOnDone()
		evs := make([]decoded, 0, replayBatchEvents)
		for {
			msg, err := it.Next(jetstream.NextMaxWait(stepTimeout))
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) && ctx.Err() != nil {
				return
			}
			if err != nil {
				fail(err)
				return
			}
			meta, err := msg.Metadata()
			if err != nil {
				fail(err)
				return
			}
			evs = append(evs, readEvent(msg.Subject(), msg.Data(), meta.Sequence.Stream))
			// Nothing more was stored when the server sent this one, or
			// the replay has what was there when it began: the swap reads
			// the rest.
			done := meta.NumPending == 0 || meta.Sequence.Stream >= r.end
			if len(evs) == cap(evs) || done {
				if !send(readBatch{events: evs}) || done {
					return
				}
				evs = make([]decoded, 0, replayBatchEvents)
			}
		}
	}()
	return out
}

// read reads and decodes one batch of events after sequence after, with a
// direct get: the swap reads what came in since the consumer caught up.
func (r *replayer) read(ctx context.Context, after uint64) ([]decoded, error) {
	it, err := jetstreamext.GetBatch(ctx, r.js, r.stream, readBatchEvents,
		jetstreamext.GetBatchSeq(after+1), jetstreamext.GetBatchSubject(r.filter))
	if err != nil {
		return nil, fmt.Errorf("replay %s: read after %d: %w", r.projection.Name(), after, err)
	}
	evs := make([]decoded, 0, readBatchEvents)
	for msg, err := range it {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("replay %s: read after %d: %w", r.projection.Name(), after, err)
		}
		evs = append(evs, readEvent(msg.Subject, msg.Data, msg.Sequence))
	}
	return evs, nil
}

// add folds or applies one batch read after r.last into the fresh schema.
func (r *replayer) add(ctx context.Context, b *builder, evs []decoded) error {
	if r.applied > replayEventsMax {
		return fmt.Errorf("replay %s: more than %d events", r.projection.Name(), uint64(replayEventsMax))
	}
	if err := b.add(ctx, evs); err != nil {
		return err
	}
	r.aside = b.aside
	r.advance(evs)
	return nil
}

// advance records a batch as applied.
func (r *replayer) advance(evs []decoded) {
	r.last = evs[len(evs)-1].env.Sequence
	r.applied += uint64(len(evs))
	r.report()
}

func (r *replayer) report() {
	if r.progress != nil {
		r.progress(Progress{Sequence: r.last, LastSequence: r.end, Applied: r.applied, SetAside: len(r.aside)})
	}
}

// apply applies one batch read after r.last inside the swap, whose search
// path is the fresh schema, as the runner applies a batch: when an event
// cannot be applied, one event at a time, setting aside those that fail.
func (r *replayer) apply(ctx context.Context, tx pgx.Tx, evs []decoded) error {
	if r.applied > replayEventsMax {
		return fmt.Errorf("replay %s: more than %d events", r.projection.Name(), uint64(replayEventsMax))
	}
	if _, err := tx.Exec(ctx, `SAVEPOINT catch_up`); err != nil {
		return fmt.Errorf("replay %s: %w", r.projection.Name(), err)
	}
	_, err := applyEvents(ctx, tx, r.projection, r.schema, evs, r.last, nil)
	switch {
	case err == nil:
		_, err = tx.Exec(ctx, `RELEASE SAVEPOINT catch_up`)
	case cannotApply(err):
		if _, err = tx.Exec(ctx, `ROLLBACK TO SAVEPOINT catch_up`); err == nil {
			var aside []setAside
			_, aside, err = applyOneByOne(ctx, tx, r.projection, evs, r.last)
			r.aside = append(r.aside, aside...)
		}
	}
	if err != nil {
		return fmt.Errorf("replay %s: %w", r.projection.Name(), err)
	}
	if len(r.aside) > setAsideMax {
		return fmt.Errorf("replay %s: more than %d events cannot be applied: the projection is broken", r.projection.Name(), setAsideMax)
	}
	r.advance(evs)
	return nil
}

// step reads one batch after r.last and applies it, returning how many
// events it read.
func (r *replayer) step(ctx context.Context, tx pgx.Tx) (int, error) {
	evs, err := r.read(ctx, r.last)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	return len(evs), r.apply(ctx, tx, evs)
}

// swap stops the live runner (its write lock), applies the events that came
// in since, and renames the fresh schema into place.
func (r *replayer) swap(ctx context.Context, tx pgx.Tx) error {
	name := r.projection.Name()
	live, err := lockCheckpoint(ctx, tx, name)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+pgx.Identifier{r.schema}.Sanitize()); err != nil {
		return fmt.Errorf("replay %s: search path: %w", name, err)
	}
	for {
		read, err := r.step(ctx, tx)
		if err != nil {
			return err
		}
		if read == 0 {
			break
		}
	}
	if r.last < live {
		return fmt.Errorf("replay %s: rebuilt up to %d but the live projection is at %d", name, r.last, live)
	}
	old := Schema(r.projection) + "_old"
	for _, stmt := range []string{
		"DROP SCHEMA IF EXISTS " + pgx.Identifier{old}.Sanitize() + " CASCADE",
		"ALTER SCHEMA " + pgx.Identifier{Schema(r.projection)}.Sanitize() + " RENAME TO " + pgx.Identifier{old}.Sanitize(),
		"ALTER SCHEMA " + pgx.Identifier{r.schema}.Sanitize() + " RENAME TO " + pgx.Identifier{Schema(r.projection)}.Sanitize(),
		"DROP SCHEMA " + pgx.Identifier{old}.Sanitize() + " CASCADE",
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("replay %s: swap: %w", name, err)
		}
	}
	// The events set aside before are replaced by those this replay could
	// not apply: every one of them was tried again.
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM public.projection_set_aside WHERE projection = $1`, name)
	queueSetAside(b, name, r.aside)
	queueCheckpoint(b, name, r.last)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("replay %s: record events set aside and checkpoint %d: %w", name, r.last, err)
	}
	return nil
}
