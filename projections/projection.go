// Package projections builds the Postgres read models from the event stream.
// Each projection owns one Postgres schema (rm_<name>), applies events in
// batches, and records the last applied stream sequence in the same
// transaction, so that redelivery never applies an event twice and a crash
// never skips one. Replay rebuilds a projection into a fresh schema and swaps
// it in atomically.
package projections

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/events"
)

// Projection turns events into rows.
type Projection interface {
	// Name identifies the projection: its schema is rm_<name>, its
	// consumer in streams.yaml is projection_<name>.
	Name() string
	// Tables creates the read model's tables. Statements use unqualified
	// names: they run with the search path set to the target schema.
	Tables() []string
	// Apply queues the statements that fold one event into the tables.
	Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error
}

// Schema is the Postgres schema a projection's live tables are in.
func Schema(p Projection) string { return "rm_" + p.Name() }

// ConsumerName is the durable consumer a projection reads.
func ConsumerName(p Projection) string { return "projection_" + p.Name() }

// lockKey is the advisory lock serialising a projection's writers: the live
// runner's batches and a replay's swap.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("rafiki.projection." + name))
	return int64(h.Sum64())
}

// leaseKey is the advisory lock held by the one runner that reads the
// projection's consumer.
func leaseKey(name string) int64 { return lockKey(name) ^ 0x5a5a5a5a }

// replayKey is the advisory lock held by the one replay of a projection
// that may run at a time: replays share the fresh schema they build in.
func replayKey(name string) int64 { return lockKey(name) ^ 0x3c3c3c3c }

// createSchema makes the schema and tables if they do not exist.
func createSchema(ctx context.Context, tx pgx.Tx, p Projection, schema string) error {
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("projection %s: create schema %s: %w", p.Name(), schema, err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("projection %s: search path: %w", p.Name(), err)
	}
	for _, ddl := range p.Tables() {
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("projection %s: %s: %w", p.Name(), ddl, err)
		}
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO public.projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING`, p.Name()); err != nil {
		return fmt.Errorf("projection %s: checkpoint row: %w", p.Name(), err)
	}
	return nil
}

// decoded is one event read from the stream, decoded ahead of the
// transaction that applies it so that decoding overlaps the database work.
type decoded struct {
	env     events.Envelope
	ev      events.Event
	subject string
	// err is the event's decoding error (the envelope's too, when only its
	// sequence is known); the event is set aside when it would be applied.
	err error
}

// readEvent decodes a stored message. An unreadable envelope is no error
// here: the event it was is set aside, known by its sequence and subject.
func readEvent(subject string, data []byte, sequence uint64) decoded {
	d, err := decode(data, sequence)
	if err != nil {
		d = decoded{env: events.Envelope{Sequence: sequence}, err: err}
	}
	d.subject = subject
	return d
}

// A batch of at least this many events folds the aggregates it creates and
// copies their rows in; a smaller one applies statements only, since each
// COPY costs round trips of its own.
const foldEventsMin = 64

// applyEvents applies the events with sequence above the checkpoint inside
// tx, whose search path is the schema already. When the projection is a
// Folder and the batch is large, the aggregates the batch creates are
// folded, and their rows are copied in after the statements of the other
// events, as a replay does; when it is also a Patcher, the changes to the
// other aggregates are patched, and the patch's statements follow the
// other events' statements. queue, when set, queues more statements after
// the events'. It returns the sequence of the last event applied, or the
// checkpoint when there is none.
func applyEvents(ctx context.Context, tx pgx.Tx, p Projection, schema string, evs []decoded, checkpoint uint64,
	queue func(b *pgx.Batch, last uint64)) (uint64, error) {
	var fold Fold
	var patch Patch
	if f, ok := p.(Folder); ok && len(evs) >= foldEventsMin {
		fold = f.NewFold()
		if pf, ok := p.(Patcher); ok {
			patch = pf.NewPatch()
		}
	}
	b := &pgx.Batch{}
	last, err := queueApply(b, p, fold, patch, evs, checkpoint)
	if err != nil || last == checkpoint {
		return checkpoint, err
	}
	if patch != nil {
		if err := patch.Queue(b); err != nil {
			return 0, fmt.Errorf("projection %s: apply batch up to %d: %w", p.Name(), last, err)
		}
	}
	if queue != nil {
		queue(b, last)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return 0, fmt.Errorf("projection %s: apply batch up to %d: %w", p.Name(), last, err)
		}
	}
	if fold != nil {
		if err := writeFold(ctx, tx, schema, fold); err != nil {
			return 0, fmt.Errorf("projection %s: apply batch up to %d: %w", p.Name(), last, err)
		}
	}
	return last, nil
}

// queueApply queues the statements that fold events with sequence above the
// checkpoint, or folds them into fold or patch when they take them. It
// returns the sequence of the last event queued or folded, or the
// checkpoint when there is none.
func queueApply(b *pgx.Batch, p Projection, fold Fold, patch Patch, evs []decoded, checkpoint uint64) (uint64, error) {
	last := checkpoint
	for _, d := range evs {
		if d.env.Sequence <= last {
			continue
		}
		if err := queueEvent(b, p, fold, patch, d); err != nil {
			return 0, err
		}
		last = d.env.Sequence
	}
	return last, nil
}

// queueEvent folds one event into fold, when there is one and it holds the
// event's aggregate, or else into patch, when there is one and it takes the
// event, or queues the event's statements.
// Its errors are eventErrors (the event cannot be applied), but for those
// that may pass.
func queueEvent(b *pgx.Batch, p Projection, fold Fold, patch Patch, d decoded) error {
	err := foldOrQueue(b, p, fold, patch, d)
	var later *mayPass
	if err == nil || errors.As(err, &later) {
		return err
	}
	return &eventError{err}
}

func foldOrQueue(b *pgx.Batch, p Projection, fold Fold, patch Patch, d decoded) error {
	if d.err != nil {
		return fmt.Errorf("projection %s: at %d: %w", p.Name(), d.env.Sequence, d.err)
	}
	if fold != nil {
		held, err := fold.Add(d.env, d.ev)
		if err != nil {
			return fmt.Errorf("projection %s: fold %s at %d: %w", p.Name(), d.env.Type, d.env.Sequence, err)
		}
		if held {
			return nil
		}
	}
	if patch != nil {
		taken, err := patch.Add(d.env, d.ev)
		if err != nil {
			return fmt.Errorf("projection %s: patch %s at %d: %w", p.Name(), d.env.Type, d.env.Sequence, err)
		}
		if taken {
			return nil
		}
	}
	if err := p.Apply(b, d.env, d.ev); err != nil {
		return fmt.Errorf("projection %s: apply %s at %d: %w", p.Name(), d.env.Type, d.env.Sequence, err)
	}
	return nil
}

// checkpointStatements are the statements that read and record one
// projection's checkpoint. Their texts carry the projection's name, so that
// each projection has prepared statements of its own on a connection: they
// run with the projection's search path set, and Postgres plans a prepared
// statement again (and parses it again) whenever it runs under another
// search path than its plan's, which projections taking turns on the pool's
// connections made the case for about half of them.
type checkpointStatements struct {
	read, write, notify string
	// advance moves the checkpoint from an expected sequence ($2) to the
	// next ($3) and tells waiting readers ($4, $5), or fails the
	// transaction when the checkpoint is elsewhere: Postgres's division
	// by zero is the failure, as plain SQL cannot raise one of its own.
	advance string
}

var checkpointSQL sync.Map // projection name → checkpointStatements

func checkpointStatementsFor(name string) checkpointStatements {
	if s, ok := checkpointSQL.Load(name); ok {
		return s.(checkpointStatements)
	}
	tag := " /* " + strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name) + " */"
	s := checkpointStatements{
		read:   `SELECT sequence FROM public.projection_checkpoints WHERE name = $1` + tag,
		write:  `UPDATE public.projection_checkpoints SET sequence = $2, updated_at = now() WHERE name = $1` + tag,
		notify: `SELECT pg_notify($1, $2)` + tag,
		advance: `WITH moved AS (UPDATE public.projection_checkpoints SET sequence = $3, updated_at = now()
				WHERE name = $1 AND sequence = $2 RETURNING name)
			SELECT pg_notify($4, $5) FROM (SELECT 1 / count(*) AS one FROM moved) AS checked WHERE checked.one = 1` + tag,
	}
	checkpointSQL.Store(name, s)
	return s
}

// queueCheckpoint queues recording the checkpoint and telling waiting
// readers.
func queueCheckpoint(b *pgx.Batch, name string, sequence uint64) {
	sql := checkpointStatementsFor(name)
	b.Queue(sql.write, name, int64(sequence))
	b.Queue(sql.notify, notifyChannel, notification(name, sequence))
}

// queueAdvance queues moving the checkpoint from expected to sequence, which
// fails the transaction when the checkpoint is not at expected, and telling
// waiting readers.
func queueAdvance(b *pgx.Batch, name string, expected, sequence uint64) {
	b.Queue(checkpointStatementsFor(name).advance, name, int64(expected), int64(sequence), notifyChannel, notification(name, sequence))
}

func notification(name string, sequence uint64) string {
	return name + ":" + strconv.FormatUint(sequence, 10)
}

// lockCheckpoint takes the projection's write lock for the transaction and
// reads its checkpoint.
func lockCheckpoint(ctx context.Context, tx pgx.Tx, name string) (uint64, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(name)); err != nil {
		return 0, fmt.Errorf("projection %s: lock: %w", name, err)
	}
	var seq int64
	err := tx.QueryRow(ctx, checkpointStatementsFor(name).read, name).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("projection %s: read checkpoint: %w", name, err)
	}
	return uint64(seq), nil
}
