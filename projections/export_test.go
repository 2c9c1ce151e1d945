package projections

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/events"
)

// Build builds a projection's tables in a fresh schema from stored events
// (data[i] at stream sequence seqs[i]) the way a replay does before its
// swap, in batches of batch events, with a fold that writes its rows when
// it holds rowsMax of them. A projection that is no Folder is built with
// statements only. An event set aside fails it.
func Build(ctx context.Context, pool *pgxpool.Pool, p Projection, schema string, rowsMax, batch int, data [][]byte, seqs []uint64) error {
	return noneSetAside(BuildSettingAside(ctx, pool, p, schema, rowsMax, batch, false, data, seqs))
}

// BuildSettingAside is Build, careful or not as a replay's build is, and
// returns the sequences of the events set aside.
func BuildSettingAside(ctx context.Context, pool *pgxpool.Pool, p Projection, schema string, rowsMax, batch int, careful bool,
	data [][]byte, seqs []uint64) ([]uint64, error) {
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return createSchema(ctx, tx, p, schema) }); err != nil {
		return nil, err
	}
	b := newBuilder(pool, p, schema, rowsMax, careful)
	for evs := range batches(data, seqs, batch) {
		if err := b.add(ctx, evs.events); err != nil {
			return nil, err
		}
	}
	if err := b.finish(ctx); err != nil {
		return nil, err
	}
	return sequences(b.aside), nil
}

// CannotApply tells whether an error of a build is about an event, so that
// a replay builds again carefully.
func CannotApply(err error) bool { return cannotApply(err) }

func sequences(aside []setAside) []uint64 {
	var seqs []uint64
	for _, s := range aside {
		seqs = append(seqs, s.sequence)
	}
	return seqs
}

func noneSetAside(seqs []uint64, err error) error {
	if err == nil && len(seqs) > 0 {
		return fmt.Errorf("events set aside at %v", seqs)
	}
	return err
}

// BuildLive builds a projection's tables in a fresh schema from stored
// events as the runner applies them, one transaction per batch of batch
// events. An event set aside fails it.
func BuildLive(ctx context.Context, pool *pgxpool.Pool, p Projection, schema string, batch int, data [][]byte, seqs []uint64) error {
	return BuildRedelivered(ctx, pool, p, schema, batch, 0, data, seqs)
}

// BuildRedelivered is BuildLive with every batch after the first starting
// again with the last back events of the batch before, as a consumer
// redelivers them: the runner skips what its checkpoint has passed.
func BuildRedelivered(ctx context.Context, pool *pgxpool.Pool, p Projection, schema string, batch, back int, data [][]byte, seqs []uint64) error {
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return createSchema(ctx, tx, p, schema) }); err != nil {
		return err
	}
	b := newBuilder(pool, p, schema, 0, true)
	for from := 0; from < len(data); from += batch {
		start := max(0, from-back)
		to := min(len(data), from+batch)
		for evs := range batches(data[start:to], seqs[start:to], to-start) {
			if err := b.add(ctx, evs.events); err != nil {
				return err
			}
		}
	}
	return noneSetAside(sequences(b.aside), nil)
}

// batches decodes stored events in batches of n.
func batches(data [][]byte, seqs []uint64, n int) func(func(readBatch) bool) {
	return func(yield func(readBatch) bool) {
		for len(data) > 0 {
			k := min(n, len(data))
			evs := make([]decoded, 0, k)
			for i := range k {
				evs = append(evs, readEvent("", data[i], seqs[i]))
			}
			if !yield(readBatch{events: evs}) {
				return
			}
			data, seqs = data[k:], seqs[k:]
		}
	}
}

// Decode is the decoding of stored events the runner and replays use.
func Decode(data []byte, sequence uint64) (events.Envelope, events.Event, error, error) {
	d, err := decode(data, sequence)
	return d.env, d.ev, d.err, err
}

// ScanEnvelope reports whether decode reads an envelope in one pass.
func ScanEnvelope(data []byte) bool {
	_, ok := scanEnvelope(data)
	return ok
}

// ReplayKey is the advisory lock a replay of the projection named holds.
func ReplayKey(name string) int64 { return replayKey(name) }

// LeaseLock is the projection's lease as pg_locks shows it: classid and
// objid of the advisory lock on its 64-bit key.
func LeaseLock(name string) (classid, objid int64) {
	k := uint64(leaseKey(name))
	return int64(k >> 32), int64(k & 0xffffffff)
}

// SetStuckAfter changes how long a runner may fail before it is stuck, for
// one test; the returned func restores it.
func SetStuckAfter(d time.Duration) (restore func()) {
	old := stuckAfter
	stuckAfter = d
	return func() { stuckAfter = old }
}

// SetQuietInterval sets how long a Quiet projection waits before it writes
// its checkpoint; it returns the restore.
func SetQuietInterval(d time.Duration) (restore func()) {
	old := quietInterval
	quietInterval = d
	return func() { quietInterval = old }
}

// CreateLive makes p's live schema and tables and its checkpoint row.
func CreateLive(ctx context.Context, pool *pgxpool.Pool, p Projection) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return createSchema(ctx, tx, p, Schema(p)) })
}

// Committer applies events to a projection's live tables as its runner
// applies small batches, knowing the checkpoint it last wrote.
type Committer struct {
	r       *Runner
	written writtenCheckpoint
}

// NewCommitter is a committer that has not written or read the checkpoint.
func NewCommitter(pool *pgxpool.Pool, p Projection) *Committer {
	return &Committer{r: &Runner{pool: pool, projection: p, log: slog.New(slog.DiscardHandler), status: Status{Projection: p.Name()}}}
}

// Commit applies the events with these sequences.
func (c *Committer) Commit(ctx context.Context, sequences ...uint64) (bool, error) {
	evs := make([]decoded, 0, len(sequences))
	for _, s := range sequences {
		evs = append(evs, decoded{env: events.Envelope{Sequence: s, Type: "test.seen"}})
	}
	return c.r.commitSmall(ctx, evs, &c.written)
}
