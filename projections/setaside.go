package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The most events a projection keeps set aside. Past it the runner stops
// on the next event it cannot apply, and a replay fails, instead of setting
// aside more: that many failing events point at a broken projection, whose
// read model should not go on as if they were few.
const setAsideMax = 10_000

// setAside is an event a projection cannot apply. The projection goes on
// without it; the event stays in projection_set_aside until a replay
// applies it.
type setAside struct {
	sequence uint64
	eventID  uuid.UUID // uuid.Nil when the envelope is unreadable
	typ      string
	subject  string
	err      error
}

func newSetAside(d decoded, err error) setAside {
	return setAside{sequence: d.env.Sequence, eventID: d.env.ID, typ: d.env.Type, subject: d.subject, err: err}
}

// eventError is an event a projection cannot take: it does not decode, or
// the projection's Apply, Fold or Patch refused it. Those are pure
// functions of the event, so trying again gives the same error.
type eventError struct{ err error }

func (e *eventError) Error() string { return e.err.Error() }
func (e *eventError) Unwrap() error { return e.err }

// mayPass is an error applying an event that does not come from the event
// (a data key that could not be read just now): the batch is tried again,
// and the event is never set aside for it.
type mayPass struct{ err error }

func (e *mayPass) Error() string { return e.err.Error() }
func (e *mayPass) Unwrap() error { return e.err }

// cannotApply tells whether err is about the events being applied, so that
// it fails the same way every time: an eventError, or Postgres refusing a
// value (class 22, data exception) or a row (class 23, integrity
// constraint violation). Anything else (a lost connection, a deadline, a
// serialization failure, a deadlock) may pass, and the batch is tried
// again as it is.
func cannotApply(err error) bool {
	var ee *eventError
	if errors.As(err, &ee) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && len(pg.Code) == 5 {
		class := pg.Code[:2]
		return class == "22" || class == "23"
	}
	return false
}

// commitBatch applies the events after the checkpoint in one transaction:
// begin opens it (locks, search path) and returns the checkpoint, queue
// (when set) adds the statements that end it with the last sequence
// applied and the events set aside. When an event cannot be applied, the
// transaction is rolled back and the events are applied again one at a time
// in another, where those that fail are set aside. Rows folded and copied
// in cannot tell which event failed, which is why the batch goes again. It
// returns the last sequence applied or set aside, and the events set aside.
func commitBatch(ctx context.Context, pool *pgxpool.Pool, p Projection, schema string, evs []decoded,
	begin func(ctx context.Context, tx pgx.Tx) (uint64, error),
	queue func(b *pgx.Batch, last uint64, aside []setAside)) (uint64, []setAside, error) {
	var last uint64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		checkpoint, err := begin(ctx, tx)
		if err != nil {
			return err
		}
		var end func(*pgx.Batch, uint64)
		if queue != nil {
			end = func(b *pgx.Batch, last uint64) { queue(b, last, nil) }
		}
		last, err = applyEvents(ctx, tx, p, schema, evs, checkpoint, end)
		return err
	})
	if err == nil || !cannotApply(err) {
		return last, nil, err
	}
	var aside []setAside
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		checkpoint, err := begin(ctx, tx)
		if err != nil {
			return err
		}
		if last, aside, err = applyOneByOne(ctx, tx, p, evs, checkpoint); err != nil || last == checkpoint || queue == nil {
			return err
		}
		b := &pgx.Batch{}
		queue(b, last, aside)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("projection %s: record up to %d: %w", p.Name(), last, err)
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return last, aside, nil
}

// applyOneByOne applies the events after checkpoint inside tx (whose search
// path is the projection's schema) one at a time, each under a savepoint,
// with statements only. An event that cannot be applied is rolled back to
// its savepoint and returned set aside; any other failure ends it. It
// returns the sequence of the last event applied or set aside.
func applyOneByOne(ctx context.Context, tx pgx.Tx, p Projection, evs []decoded, checkpoint uint64) (uint64, []setAside, error) {
	last := checkpoint
	var aside []setAside
	for _, d := range evs {
		if d.env.Sequence <= last {
			continue
		}
		last = d.env.Sequence
		b := &pgx.Batch{}
		b.Queue(`SAVEPOINT one_event`)
		if err := queueEvent(b, p, nil, nil, d); err != nil {
			aside = append(aside, newSetAside(d, err))
			continue
		}
		if b.Len() == 1 {
			continue // the projection ignores the event
		}
		b.Queue(`RELEASE SAVEPOINT one_event`)
		err := tx.SendBatch(ctx, b).Close()
		if err == nil {
			continue
		}
		if !cannotApply(err) {
			return 0, nil, fmt.Errorf("projection %s: apply %s at %d: %w", p.Name(), d.env.Type, d.env.Sequence, err)
		}
		// Without arguments, on the simple protocol: an aborted
		// transaction prepares nothing.
		if _, uerr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT one_event; RELEASE SAVEPOINT one_event`); uerr != nil {
			return 0, nil, fmt.Errorf("projection %s: undo %s at %d: %w", p.Name(), d.env.Type, d.env.Sequence, uerr)
		}
		aside = append(aside, newSetAside(d, fmt.Errorf("projection %s: apply %s at %d: %w", p.Name(), d.env.Type, d.env.Sequence, err)))
	}
	return last, aside, nil
}

// queueSetAside queues recording events set aside. An event set aside
// again (the runner tried its batch again after a failure) keeps one row,
// with the latest error. Recording more than setAsideMax of a projection's
// fails.
func queueSetAside(b *pgx.Batch, name string, aside []setAside) {
	if len(aside) == 0 {
		return
	}
	for _, s := range aside {
		var id *uuid.UUID
		if s.eventID != uuid.Nil {
			id = &s.eventID
		}
		b.Queue(`INSERT INTO public.projection_set_aside (projection, sequence, event_id, event_type, subject, error)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (projection, sequence) DO UPDATE SET event_id = EXCLUDED.event_id, event_type = EXCLUDED.event_type,
				subject = EXCLUDED.subject, error = EXCLUDED.error, set_aside_at = now()`,
			name, int64(s.sequence), id, nullable(s.typ), s.subject, s.err.Error())
	}
	b.Queue(`SELECT count(*) FROM public.projection_set_aside WHERE projection = $1`, name).QueryRow(func(row pgx.Row) error {
		var held int
		if err := row.Scan(&held); err != nil {
			return err
		}
		if held > setAsideMax {
			return fmt.Errorf("projection %s: more than %d events cannot be applied: the projection is broken; fix it and replay", name, setAsideMax)
		}
		return nil
	})
}

// SetAsideCounts is the number of events each projection has set aside,
// for projections with any.
func SetAsideCounts(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) (map[string]int, error) {
	rows, err := q.Query(ctx, `SELECT projection, count(*) FROM projection_set_aside GROUP BY projection`)
	if err != nil {
		return nil, fmt.Errorf("count events set aside: %w", err)
	}
	counts := map[string]int{}
	var name string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error {
		counts[name] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count events set aside: %w", err)
	}
	return counts, nil
}
