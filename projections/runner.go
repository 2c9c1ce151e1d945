package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/streams"
)

const (
	// The most events one transaction applies; the consumer's
	// max_ack_pending in streams.yaml bounds it too.
	batchEventsMax = 1000
	// How long a batch waits for more events once none is there: events
	// come in bursts (a payment's several, a burst of commands), and each
	// transaction costs Postgres and the runner more than its statements.
	// In Rafiki's payments workload with funding, a wait of 3 ms took 13 %
	// off the machine's CPU per payment; the read model shows an event
	// that much later at most.
	batchLingerMax = 3 * time.Millisecond
	// How long a runner that does not hold the lease waits before trying
	// again to take over.
	leaseRetry = time.Second
	// Pause after a failed batch before the runner starts over from its
	// checkpoint.
	failureBackoff    = 500 * time.Millisecond
	failureBackoffMax = 5 * time.Second
	// How often the leader checks that its lease connection is alive.
	leaseCheckInterval = 2 * time.Second
	// The longest one step may take: taking the lease, preparing the
	// schema, checking the stream, positioning the consumer, or applying a
	// batch. A step past it fails and the runner starts over, so a database
	// or server that stops answering never holds the runner for good.
	stepTimeout = 30 * time.Second
	// How long the rollback of a failed small batch may take; past it the
	// pool closes the connection, which ends the transaction too.
	rollbackTimeout = 5 * time.Second
	// A Quiet projection writes its checkpoint after this many events at
	// most, and gives its last write as it stops this long.
	quietEventsMax    = 10_000
	quietFlushTimeout = 2 * time.Second
)

// quietInterval is how long a Quiet projection lets events pass at most
// before it writes its checkpoint. A variable for tests.
var quietInterval = time.Second

// Quiet is a projection that most events leave alone and that no request
// waits for: the webhooks projection reads every event for a few of their
// types. A batch it makes no statement of is acknowledged without a
// transaction; its checkpoint is written with the next batch that has
// statements, after quietEventsMax events or quietInterval, or as the runner
// stops. A runner that starts from an older checkpoint (after a crash, say)
// reads those events again and makes nothing of them again.
type Quiet interface {
	Projection
	Quiet()
}

// quietStretch is what a Quiet projection's runner acknowledged since it
// last wrote its checkpoint.
type quietStretch struct {
	events int
	last   uint64
	since  time.Time
}

// wait is how long the runner may wait for events before it writes the
// checkpoint; 0 when there is nothing to write.
func (q *quietStretch) wait() time.Duration {
	if q.events == 0 {
		return 0
	}
	return max(time.Millisecond, quietInterval-time.Since(q.since))
}

// A runner that has not followed for this long since it stopped on an
// error, or whose step has run this long, is stuck: the health check says
// so. A variable for tests.
var stuckAfter = 10 * time.Second

// Runner keeps one projection up to date. Any number of runners may run for
// the same projection in different processes: one holds the lease and reads,
// the others stand by to take over.
type Runner struct {
	pool       *pgxpool.Pool
	js         jetstream.JetStream
	stream     string
	projection Projection
	log        *slog.Logger

	mu     sync.Mutex
	status Status
}

// Status is what a runner is doing, for health checks.
type Status struct {
	Projection string
	Leading    bool
	Rebuilding bool
	Checkpoint uint64
	// StepStarted is when the step under way began; zero between steps.
	StepStarted time.Time
	// FailingSince is when the runner last stopped on an error after it
	// had been following; zero while it follows (or stands by).
	FailingSince time.Time
	LastError    string
	// SetAside counts the events this runner set aside since it started.
	SetAside int
}

// Stuck reports why a runner is not moving, or "" when it is: it has not
// followed for stuckAfter since it stopped on an error, or one of its steps
// has run that long (a rebuild apart, which takes as long as it takes).
func (s Status) Stuck(now time.Time) string {
	switch {
	case !s.FailingSince.IsZero() && now.Sub(s.FailingSince) >= stuckAfter:
		return fmt.Sprintf("failing since %s: %s", s.FailingSince.UTC().Format(time.RFC3339), s.LastError)
	case !s.StepStarted.IsZero() && !s.Rebuilding && now.Sub(s.StepStarted) >= stuckAfter:
		return fmt.Sprintf("one step running since %s", s.StepStarted.UTC().Format(time.RFC3339))
	}
	return ""
}

// NewRunner builds a runner for a projection reading stream.
func NewRunner(pool *pgxpool.Pool, js jetstream.JetStream, stream string, p Projection, log *slog.Logger) *Runner {
	if pool == nil || js == nil || p == nil || log == nil {
		panic("projections: NewRunner needs a pool, a JetStream context, a projection and a logger")
	}
	return &Runner{pool: pool, js: js, stream: stream, projection: p, log: log.With("projection", p.Name()),
		status: Status{Projection: p.Name()}}
}

// Status is what the runner is doing now.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *Runner) update(f func(*Status)) {
	r.mu.Lock()
	f(&r.status)
	r.mu.Unlock()
}

// step runs one step of the runner under stepTimeout, recording it in the
// runner's status.
func (r *Runner) step(ctx context.Context, what string, f func(ctx context.Context) error) error {
	return r.stepFor(ctx, stepTimeout, what, f)
}

// stepFor is step with a timeout of its own; none when it is 0.
func (r *Runner) stepFor(ctx context.Context, timeout time.Duration, what string, f func(ctx context.Context) error) error {
	r.update(func(s *Status) { s.StepStarted = time.Now() })
	stepCtx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		stepCtx, cancel = context.WithTimeout(ctx, timeout)
	}
	err := f(stepCtx)
	cancel()
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("%s: no answer within %s: %w", what, timeout, err)
	}
	r.update(func(s *Status) { s.StepStarted = time.Time{} })
	return err
}

// following records that the runner follows the stream, or stands by: it
// is no longer failing.
func (r *Runner) following() {
	r.update(func(s *Status) { s.FailingSince, s.LastError = time.Time{}, "" })
}

// Prepare creates the projection's schema and checkpoint row.
func Prepare(ctx context.Context, pool *pgxpool.Pool, p Projection) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(p.Name())); err != nil {
			return err
		}
		return createSchema(ctx, tx, p, Schema(p))
	})
}

// Run applies events until ctx ends. Errors inside are logged and retried
// from the checkpoint; Run returns only when ctx is done.
// A runner whose steps keep failing (its database is down, say) waits
// twice as long after each failure, up to failureBackoffMax.
func (r *Runner) Run(ctx context.Context) error {
	backoff := failureBackoff
	for ctx.Err() == nil {
		err := r.lead(ctx)
		if err == nil || ctx.Err() != nil {
			continue
		}
		failing := false
		r.update(func(s *Status) {
			failing = !s.FailingSince.IsZero()
			if !failing {
				s.FailingSince = time.Now()
			}
			s.LastError = err.Error()
		})
		if !failing {
			backoff = failureBackoff // it followed before this failure
		}
		r.log.Error("projection stopped; restarting from checkpoint", "err", err, "retry_in", backoff)
		sleep(ctx, backoff)
		backoff = min(2*backoff, failureBackoffMax)
	}
	return nil
}

// lead takes the lease, then reads and applies until ctx ends or a batch
// fails. The lease is a session advisory lock on a connection of its own, so
// that holding it never takes a connection from the pool the batches need,
// and it is released when the connection closes, including when the process
// dies.
func (r *Runner) lead(ctx context.Context) error {
	var conn *pgx.Conn
	err := r.step(ctx, "lease connection", func(ctx context.Context) (err error) {
		conn, err = pgx.ConnectConfig(ctx, r.pool.Config().ConnConfig.Copy())
		return err
	})
	if err != nil {
		return fmt.Errorf("lease connection: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		var held bool
		err := r.step(ctx, "take lease", func(ctx context.Context) error {
			return conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, leaseKey(r.projection.Name())).Scan(&held)
		})
		if err != nil {
			return fmt.Errorf("take lease: %w", err)
		}
		if held {
			break
		}
		r.following() // standing by is no failure
		if !sleep(ctx, leaseRetry) {
			return nil
		}
	}
	r.update(func(s *Status) { s.Leading = true })
	defer r.update(func(s *Status) { s.Leading, s.Rebuilding = false, false })
	// The lease lives as long as its connection: once that is gone another
	// runner may take over, so this one stops following and competes for
	// the lease again.
	followCtx, stop := context.WithCancel(ctx)
	defer stop()
	lost := make(chan error, 1)
	var checker sync.WaitGroup
	checker.Go(func() {
		for sleep(followCtx, leaseCheckInterval) {
			pingCtx, cancel := context.WithTimeout(followCtx, leaseCheckInterval)
			err := conn.Ping(pingCtx)
			cancel()
			if err != nil && followCtx.Err() == nil {
				lost <- err
				stop()
				return
			}
		}
	})
	err = r.follow(followCtx)
	stop()
	checker.Wait() // the connection is closed only once nothing uses it
	select {
	case pingErr := <-lost:
		return fmt.Errorf("lease connection lost: %w", pingErr)
	default:
		return err
	}
}

// follow positions the consumer right after the checkpoint and applies what
// it delivers, in order.
func (r *Runner) follow(ctx context.Context) error {
	if err := r.step(ctx, "prepare schema", func(ctx context.Context) error { return Prepare(ctx, r.pool, r.projection) }); err != nil {
		return err
	}
	if err := r.sameStream(ctx); err != nil {
		return err
	}
	name := ConsumerName(r.projection)
	var checkpoint uint64
	var cons jetstream.Consumer
	err := r.step(ctx, "position consumer "+name, func(ctx context.Context) error {
		var err error
		if checkpoint, err = r.checkpoint(ctx); err != nil {
			return err
		}
		// Resetting drops any delivery state left by an earlier leader, so
		// nothing is delivered out of order or skipped after a takeover.
		if _, err := r.js.ResetConsumerToSequence(ctx, r.stream, name, checkpoint+1); err != nil {
			return fmt.Errorf("reset consumer %s to %d: %w", name, checkpoint+1, err)
		}
		if cons, err = r.js.Consumer(ctx, r.stream, name); err != nil {
			return fmt.Errorf("consumer %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	it, err := cons.Messages(streams.MessagesOptions(batchEventsMax)...)
	if err != nil {
		return fmt.Errorf("consume %s: %w", name, err)
	}
	r.update(func(s *Status) { s.Checkpoint = checkpoint })
	// A runner is past a failure once it applies a batch, or at once when
	// there is nothing to apply.
	if cons.CachedInfo().NumPending == 0 {
		r.following()
	}
	defer it.Stop()
	// Messages are decoded as they arrive, while the previous batch is
	// being applied.
	feed := make(chan delivery, batchEventsMax)
	feedErr := make(chan error, 1)
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		defer close(feed)
		for {
			msg, err := it.Next(jetstream.NextContext(ctx))
			if errors.Is(err, jetstream.ErrNoHeartbeat) {
				// The pull was lost with a node or its consumer's leader;
				// the next call pulls again. Anything delivered and lost
				// meanwhile shows as a gap (see inOrder).
				r.log.Warn("no heartbeat from the consumer; pulling again", "consumer", name)
				continue
			}
			if err != nil {
				if !errors.Is(err, context.Canceled) && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					feedErr <- err
				}
				return
			}
			select {
			case feed <- receive(msg):
			case <-stopped:
				return
			}
		}
	}()
	r.log.Info("projection following", "from", checkpoint+1)
	nextDelivery := uint64(1)
	var quiet quietStretch
	defer r.flushQuiet(ctx, &quiet)
	written := writtenCheckpoint{sequence: checkpoint, known: true}
	for {
		batch, ok := take(feed, quiet.wait(), batchLingerMax)
		if ok && batch == nil {
			written.known = false
			err := r.step(ctx, fmt.Sprintf("record checkpoint %d", quiet.last), func(ctx context.Context) error {
				return r.recordCheckpoint(ctx, quiet.last)
			})
			if err != nil {
				return err
			}
			quiet = quietStretch{}
			continue
		}
		if !ok {
			select {
			case err := <-feedErr:
				return fmt.Errorf("read %s: %w", name, err)
			default:
				return nil
			}
		}
		if nextDelivery, err = inOrder(batch, nextDelivery); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		last := batch[len(batch)-1].env.Sequence
		err := r.step(ctx, fmt.Sprintf("apply events up to %d", last), func(ctx context.Context) error { return r.commit(ctx, batch, &quiet, &written) })
		if err != nil {
			return err
		}
		r.update(func(s *Status) { s.Checkpoint = max(s.Checkpoint, last) })
		r.following()
	}
}

// delivery is one message from the consumer, decoded.
type delivery struct {
	msg jetstream.Msg
	// consumerSeq numbers the consumer's deliveries to any reader, from 1
	// after a reset (see inOrder).
	consumerSeq uint64
	decoded
	err error // unreadable metadata
}

func receive(msg jetstream.Msg) delivery {
	meta, err := msg.Metadata()
	if err != nil {
		return delivery{msg: msg, err: fmt.Errorf("message metadata: %w", err)}
	}
	return delivery{msg: msg, consumerSeq: meta.Sequence.Consumer, decoded: readEvent(msg.Subject(), msg.Data(), meta.Sequence.Stream)}
}

// inOrder checks that every delivery of a batch is readable and that this
// runner received every delivery the consumer made since the runner reset
// it, the next being want. A runner that lost
// its lease without noticing (its lease connection died, its pool did not)
// may still be pulling from the consumer beside the new leader; each then
// gets only some events, and applying one's share would move the
// checkpoint past events the other holds. The server numbers deliveries
// from 1 after a reset, so a gap means that another reader took some, or
// that deliveries were lost; a number from before the reset means that
// another runner reset the consumer since. Either way the runner stops
// before applying and starts over from its checkpoint.
func inOrder(batch []delivery, want uint64) (next uint64, err error) {
	for _, d := range batch {
		if d.err != nil {
			return want, d.err
		}
		if d.consumerSeq != want {
			return want, fmt.Errorf("delivery %d of the consumer came after %d: another reader took some, or the consumer was reset", d.consumerSeq, want-1)
		}
		want++
	}
	return want, nil
}

// take blocks for one message, then takes whatever else comes within
// lingerMax (batchLingerMax) of the feed running dry. With a wait above 0 it
// blocks that long at most for the first, and answers no batch but ok when
// nothing came.
func take(feed <-chan delivery, wait, lingerMax time.Duration) ([]delivery, bool) {
	var first delivery
	var ok bool
	if wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case first, ok = <-feed:
		case <-timer.C:
			return nil, true
		}
	} else {
		first, ok = <-feed
	}
	if !ok {
		return nil, false
	}
	batch := []delivery{first}
	var linger <-chan time.Time
	for len(batch) < batchEventsMax {
		select {
		case msg, ok := <-feed:
			if !ok {
				return batch, true
			}
			batch = append(batch, msg)
			continue
		default:
		}
		if linger == nil {
			timer := time.NewTimer(lingerMax)
			defer timer.Stop()
			linger = timer.C
		}
		select {
		case msg, ok := <-feed:
			if !ok {
				return batch, true
			}
			batch = append(batch, msg)
		case <-linger:
			return batch, true
		}
	}
	return batch, true
}

// commit applies a batch with its checkpoint in one transaction. When an
// event of the batch cannot be applied, the batch is applied again one
// event at a time, and the events that fail are set aside with the
// checkpoint; a failure of any other kind (the database went away, say)
// fails the batch, which is tried again from the checkpoint.
func (r *Runner) commit(ctx context.Context, batch []delivery, quiet *quietStretch, written *writtenCheckpoint) error {
	// inOrder has refused a batch with unreadable metadata.
	evs := make([]decoded, 0, len(batch))
	for _, d := range batch {
		evs = append(evs, d.decoded)
	}
	if r.passQuietly(evs, quiet) {
		if err := batch[len(batch)-1].msg.Ack(); err != nil {
			return fmt.Errorf("ack up to %d: %w", evs[len(evs)-1].env.Sequence, err)
		}
		return nil
	}
	name := r.projection.Name()
	done, err := r.commitSmall(ctx, evs, written)
	if err != nil {
		return err
	}
	var aside []setAside
	if !done {
		written.known = false
		// Four round trips: BEGIN, the preamble, the events with the
		// checkpoint, COMMIT; and one COPY per table when a large batch
		// creates aggregates.
		_, aside, err = commitBatch(ctx, r.pool, r.projection, Schema(r.projection), evs, r.begin,
			func(b *pgx.Batch, last uint64, aside []setAside) {
				queueSetAside(b, name, aside)
				queueCheckpoint(b, name, last)
			})
		if err != nil {
			return err
		}
	}
	for _, s := range aside {
		r.log.Error("event set aside: the projection cannot apply it and goes on without it",
			"sequence", s.sequence, "event_id", s.eventID, "type", s.typ, "subject", s.subject, "err", s.err)
	}
	if len(aside) > 0 {
		r.update(func(st *Status) { st.SetAside += len(aside) })
	}
	*quiet = quietStretch{}
	if err := batch[len(batch)-1].msg.Ack(); err != nil {
		return fmt.Errorf("ack up to %d: %w", evs[len(evs)-1].env.Sequence, err)
	}
	return nil
}

// passQuietly tells whether a Quiet projection's batch goes without a
// transaction: none of its events makes a statement, and the checkpoint was
// written recently enough. It counts the events it lets pass. It stops at
// the first event that makes a statement: the batch is then applied, and
// its statements made, the usual way.
func (r *Runner) passQuietly(evs []decoded, q *quietStretch) bool {
	if _, ok := r.projection.(Quiet); !ok {
		return false
	}
	if q.events+len(evs) > quietEventsMax || (q.events > 0 && time.Since(q.since) >= quietInterval) {
		return false
	}
	b := &pgx.Batch{}
	for _, d := range evs {
		if err := queueEvent(b, r.projection, nil, nil, d); err != nil || b.Len() > 0 {
			return false
		}
	}
	if q.events == 0 {
		q.since = time.Now()
	}
	q.events += len(evs)
	q.last = evs[len(evs)-1].env.Sequence
	return true
}

// recordCheckpoint moves the checkpoint forward to last, past events that
// made no statement, unless it is there already.
func (r *Runner) recordCheckpoint(ctx context.Context, last uint64) error {
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		checkpoint, err := r.begin(ctx, tx)
		if err != nil || checkpoint >= last {
			return err
		}
		b := &pgx.Batch{}
		queueCheckpoint(b, r.projection.Name(), last)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("projection %s: record checkpoint %d: %w", r.projection.Name(), last, err)
		}
		return nil
	})
}

// flushQuiet writes the checkpoint of events let pass as the runner stops.
// It is safe even when the runner lost its lease: the events between any
// checkpoint written since and last made no statement, for any runner.
func (r *Runner) flushQuiet(ctx context.Context, q *quietStretch) {
	if q.events == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), quietFlushTimeout)
	defer cancel()
	if err := r.recordCheckpoint(ctx, q.last); err != nil {
		r.log.Info("checkpoint not recorded as the projection stopped; its last events will be read again", "sequence", q.last, "err", err)
	}
}

// begin starts a transaction of the runner: it takes the projection's write
// lock, sets the search path and reads the checkpoint, in one round trip.
func (r *Runner) begin(ctx context.Context, tx pgx.Tx) (uint64, error) {
	var checkpoint int64
	pre := &pgx.Batch{}
	r.preamble(pre, &checkpoint)
	if err := tx.SendBatch(ctx, pre).Close(); err != nil {
		return 0, fmt.Errorf("projection %s: lock and read checkpoint: %w", r.projection.Name(), err)
	}
	return uint64(checkpoint), nil
}

// preamble queues what opens a transaction of the runner; checkpoint gets
// the projection's checkpoint.
func (r *Runner) preamble(b *pgx.Batch, checkpoint *int64) {
	name := r.projection.Name()
	r.settings(b)
	b.Queue(checkpointStatementsFor(name).read, name).
		QueryRow(func(row pgx.Row) error { return row.Scan(checkpoint) })
}

// settings queues what every transaction of the runner starts with, but
// the checkpoint.
func (r *Runner) settings(b *pgx.Batch) {
	// A crash can lose the last moments of commits; the checkpoint
	// goes with them and the events are applied again from the stream.
	b.Queue(`SET LOCAL synchronous_commit = off`)
	// The projection's write lock, as lockCheckpoint takes it.
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, lockKey(r.projection.Name()))
	// The search path is set before the statements that apply the events
	// are prepared: pgx prepares a batch's statements before it runs any
	// of them, so on a connection that has not prepared them yet they go
	// in a batch after this one.
	b.Queue("SET LOCAL search_path TO " + pgx.Identifier{Schema(r.projection)}.Sanitize())
}

// commitSmall applies a batch too small to fold in two round trips instead
// of commitBatch's four: BEGIN travels with the preamble, COMMIT with the
// statements and the checkpoint. Most batches are small (what came in while
// the last one was applied), and a round trip costs both sides more CPU than
// the statements of a few events. done is false, with nothing written, when
// the batch must go the general way: a large batch, or a statement that
// refused an event (the general way sets it aside).
func (r *Runner) commitSmall(ctx context.Context, evs []decoded, written *writtenCheckpoint) (done bool, err error) {
	if _, folds := r.projection.(Folder); folds && len(evs) >= foldEventsMin {
		return false, nil
	}
	name := r.projection.Name()
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("projection %s: connection: %w", name, err)
	}
	defer conn.Release()
	// A transaction left open or failed is rolled back; a connection that
	// cannot do that is closed by the pool on release, which ends it.
	rollback := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_, _ = conn.Exec(ctx, "ROLLBACK")
	}
	if written.known {
		if last, ok := r.commitOneTrip(ctx, conn, evs, written.sequence, rollback); ok {
			written.sequence = last
			return true, nil
		}
	}
	written.known = false
	var checkpoint int64
	pre := &pgx.Batch{}
	pre.Queue("BEGIN")
	r.preamble(pre, &checkpoint)
	if err := conn.SendBatch(ctx, pre).Close(); err != nil {
		rollback()
		return false, fmt.Errorf("projection %s: lock and read checkpoint: %w", name, err)
	}
	b := &pgx.Batch{}
	last, err := queueApply(b, r.projection, nil, nil, evs, uint64(checkpoint))
	if err != nil {
		rollback()
		if cannotApply(err) {
			return false, nil
		}
		return false, err
	}
	if last > uint64(checkpoint) {
		queueCheckpoint(b, name, last)
	}
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback()
		if cannotApply(err) {
			return false, nil
		}
		return false, fmt.Errorf("projection %s: apply batch up to %d: %w", name, last, err)
	}
	prepared := preparedOn(conn)
	for _, q := range b.QueuedQueries {
		prepared.add(q.SQL)
	}
	*written = writtenCheckpoint{sequence: max(last, uint64(checkpoint)), known: true}
	return true, nil
}

// writtenCheckpoint is the checkpoint a runner last wrote or read, when it
// knows it.
type writtenCheckpoint struct {
	sequence uint64
	known    bool
}

// commitOneTrip applies a small batch in one round trip where commitSmall
// takes two: it expects the checkpoint the runner last wrote instead of
// reading it, and moves it, after the events and under the projection's
// write lock taken first, with a statement that fails the transaction
// when it is elsewhere (another runner or a replay moved it). It runs only
// statements this connection has prepared before, under the projection's
// search path, as pgx prepares those it has not before the batch runs,
// under no search path. ok is false, with nothing written, when the batch
// must go commitSmall's way; any failure sends it there, where it is
// reported if it is not the checkpoint's.
func (r *Runner) commitOneTrip(ctx context.Context, conn *pgxpool.Conn, evs []decoded, expected uint64, rollback func()) (last uint64, ok bool) {
	last = evs[len(evs)-1].env.Sequence
	if last <= expected {
		return 0, false
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	r.settings(b)
	first := b.Len()
	if _, err := queueApply(b, r.projection, nil, nil, evs, expected); err != nil {
		return 0, false
	}
	prepared := preparedOn(conn)
	for _, q := range b.QueuedQueries[first:] {
		if !prepared.has(q.SQL) {
			return 0, false
		}
	}
	queueAdvance(b, r.projection.Name(), expected, last)
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback()
		prepared.forget()
		r.log.Debug("batch not applied in one round trip; applying it in two", "up_to", last, "err", err)
		return 0, false
	}
	return last, true
}

// sameStream makes sure the checkpoint counts in the stream that is there
// now. A read model built from another stream (its store was replaced, say)
// would skip the new stream's events up to the old checkpoint, so it is
// rebuilt from the first event instead. The stream is known by its creation
// time, stored to the nanosecond as the server reports it.
func (r *Runner) sameStream(ctx context.Context) error {
	var info *jetstream.StreamInfo
	var seq int64
	var created *int64
	err := r.step(ctx, "check stream "+r.stream, func(ctx context.Context) error {
		stream, err := r.js.Stream(ctx, r.stream)
		if err != nil {
			return fmt.Errorf("stream %s: %w", r.stream, err)
		}
		info = stream.CachedInfo()
		err = r.pool.QueryRow(ctx, `SELECT sequence, stream_created_unix_nanos FROM projection_checkpoints WHERE name = $1`,
			r.projection.Name()).Scan(&seq, &created)
		if err != nil {
			return fmt.Errorf("projection %s: read checkpoint: %w", r.projection.Name(), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	streamCreated := info.Created.UnixNano()
	if (created != nil && *created != streamCreated) || uint64(seq) > info.State.LastSeq {
		if err := r.rebuild(ctx, seq, created, info); err != nil {
			return err
		}
	}
	return r.step(ctx, "record stream", func(ctx context.Context) error {
		_, err := r.pool.Exec(ctx, `UPDATE projection_checkpoints SET stream_created_unix_nanos = $2 WHERE name = $1`,
			r.projection.Name(), streamCreated)
		return err
	})
}

// rebuild builds the read model again from the first event of the stream
// that is there now.
func (r *Runner) rebuild(ctx context.Context, checkpoint int64, created *int64, info *jetstream.StreamInfo) error {
	r.log.Warn("read model was built from another event stream; rebuilding it", "checkpoint", checkpoint,
		"stream_last", info.State.LastSeq, "stream_created", info.Created, "recorded_created_unix_nanos", created)
	var filter string
	err := r.step(ctx, "reset checkpoint", func(ctx context.Context) error {
		cons, err := r.js.Consumer(ctx, r.stream, ConsumerName(r.projection))
		if err != nil {
			return fmt.Errorf("consumer %s: %w", ConsumerName(r.projection), err)
		}
		filters := cons.CachedInfo().Config.FilterSubjects
		if len(filters) != 1 {
			return fmt.Errorf("projection %s: rebuild needs one filter subject, consumer has %v", r.projection.Name(), filters)
		}
		filter = filters[0]
		return r.resetCheckpoint(ctx)
	})
	if err != nil {
		return err
	}
	r.update(func(s *Status) { s.Rebuilding, s.Checkpoint = true, 0 })
	defer r.update(func(s *Status) { s.Rebuilding = false })
	// A replay reads the whole stream, for as long as that takes; each of
	// its reads and transactions has a deadline of its own.
	return r.stepFor(ctx, 0, "rebuild", func(ctx context.Context) error {
		_, err := Replay(ctx, r.pool, r.js, r.stream, r.projection, filter, nil)
		return err
	})
}

// resetCheckpoint moves the checkpoint back to the start, under the
// projection's write lock, so that a replay may rebuild from scratch.
func (r *Runner) resetCheckpoint(ctx context.Context) error {
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if _, err := lockCheckpoint(ctx, tx, r.projection.Name()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE projection_checkpoints SET sequence = 0 WHERE name = $1`, r.projection.Name())
		return err
	})
}

func (r *Runner) checkpoint(ctx context.Context) (uint64, error) {
	var seq int64
	err := r.pool.QueryRow(ctx, `SELECT sequence FROM projection_checkpoints WHERE name = $1`, r.projection.Name()).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("projection %s: read checkpoint: %w", r.projection.Name(), err)
	}
	return uint64(seq), nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// preparedKey is where a connection keeps the statements of projections
// that runners have run on it.
const preparedKey = "rafiki.projections.prepared"

// preparedMax bounds the statements a connection remembers; past it, it
// forgets them all, and each goes commitSmall's way once more.
const preparedMax = 4096

// preparedStatements are the statements a connection has prepared, each
// under the search path it runs with. Only the runner holding the
// connection reads or changes them.
type preparedStatements struct {
	sql map[string]struct{}
}

func preparedOn(conn *pgxpool.Conn) *preparedStatements {
	data := conn.Conn().PgConn().CustomData()
	p, _ := data[preparedKey].(*preparedStatements)
	if p == nil {
		p = &preparedStatements{sql: map[string]struct{}{}}
		data[preparedKey] = p
	}
	return p
}

func (p *preparedStatements) has(sql string) bool {
	_, ok := p.sql[sql]
	return ok
}

func (p *preparedStatements) add(sql string) {
	if len(p.sql) >= preparedMax {
		p.forget()
	}
	p.sql[sql] = struct{}{}
}

// forget is for a connection that may have prepared a statement again
// (pgx dropped it from its cache), under no search path.
func (p *preparedStatements) forget() {
	clear(p.sql)
}
