package projections

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/events"
)

// Folder is a projection that can also build its tables from nothing in
// memory. A replay into a fresh schema folds each aggregate's events into
// the aggregate's final rows and writes them with COPY, instead of running
// one or more statements per event. The result must equal what Apply gives
// for the same events.
type Folder interface {
	Projection
	// NewFold returns an empty fold.
	NewFold() Fold
}

// Fold holds the rows of the aggregates whose creation it folded since it
// was last flushed, as they are after the last event folded.
//
// An aggregate is held from the event that creates it until the next
// flush. The events of an aggregate that is not held (its rows were flushed
// already) are not folded: Add reports false and the caller applies them
// with Apply, to rows that are in the tables by then. The caller runs those
// statements before it copies the rows held, so that a unique key a
// statement frees (a peer's released token, say) is free before a held row
// takes it. Otherwise the rows of different aggregates must not depend on
// each other: the read models have no foreign keys, and no statement reads
// another aggregate's rows. A fold relies on what the handlers guarantee:
// an aggregate's first event creates it. An event stored twice (a creation,
// a fee) changes nothing the second time, as the statements' ON CONFLICT
// DO NOTHING; one that repeats the creation of an aggregate the fold no
// longer holds fails the COPY, and the events are applied with statements
// instead (see builder).
type Fold interface {
	// Add folds one event. It returns false, and changes nothing, when the
	// event is about an aggregate the fold does not hold. Events the
	// projection ignores are reported as folded. An event it cannot fold
	// (an id that is no uuid) is an error, and changes nothing either: the
	// event is set aside.
	Add(env events.Envelope, ev events.Event) (bool, error)
	// Rows is the number of table rows held.
	Rows() int
	// Flush returns the rows held, table by table, and empties the fold.
	Flush() []CopyRows
}

// Patcher is a Folder that can also fold the events of a batch that change
// aggregates whose rows are in the tables already (created by an earlier
// batch) into set-based statements, one per table and kind of change,
// instead of one or more statements per event. The result must equal what
// Apply gives for the same events.
type Patcher interface {
	Folder
	// NewPatch returns an empty patch.
	NewPatch() Patch
}

// Patch holds, per aggregate, what a batch's events change in rows that are
// in the tables already, as a change applied after the batch's other
// statements. Once it took an event of an aggregate it must take every later
// event of that aggregate in the batch, so that no statement of the
// aggregate runs before the change of events that came earlier. The
// aggregates it patches must not depend on rows the batch's other
// statements change.
type Patch interface {
	// Add folds one event of an aggregate the batch does not create. It
	// returns false, and changes nothing, when the event must be applied
	// with statements. Events the projection ignores are reported as
	// folded. An error changes nothing either.
	Add(env events.Envelope, ev events.Event) (bool, error)
	// Queue queues the statements that apply the changes held, and
	// empties the patch.
	Queue(b *pgx.Batch) error
}

// CopyRows are rows of one of a projection's tables, for COPY.
type CopyRows struct {
	Table   string
	Columns []string
	Count   int // rows in Rows
	Rows    pgx.CopyFromSource
}

// held is the aggregates a fold holds, by id and in the order of their
// creation, so that flushes write rows in stream order.
type held[T any] struct {
	byID  map[string]*T
	order []*T
}

// add holds a new aggregate. An aggregate created again (its creation
// stored twice) is not: add reports false and the first stays, as the
// statement path's ON CONFLICT DO NOTHING keeps the first row.
func (h *held[T]) add(id string, v *T) bool {
	if h.byID == nil {
		h.byID = map[string]*T{}
	}
	if _, dup := h.byID[id]; dup {
		return false
	}
	h.byID[id] = v
	h.order = append(h.order, v)
	return true
}

func (h *held[T]) get(id string) (*T, bool) {
	v, ok := h.byID[id]
	return v, ok
}

// take returns the aggregates held, in order, and forgets them.
func (h *held[T]) take() []*T {
	out := h.order
	h.byID, h.order = nil, nil
	return out
}

// copyRows is a COPY source of one row per element of items.
func copyRows[T any](table string, columns []string, items []*T, row func(*T, []any)) CopyRows {
	values := make([]any, len(columns))
	i := 0
	return CopyRows{Table: table, Columns: columns, Count: len(items), Rows: pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(items) {
			return nil, nil
		}
		row(items[i], values)
		i++
		return values, nil
	})}
}

// copyChildren is a COPY source of the rows each parent holds in a slice.
func copyChildren[P, C any](table string, columns []string, parents []*P, children func(*P) []C, row func(*P, *C, int, []any)) CopyRows {
	values := make([]any, len(columns))
	count := 0
	for _, parent := range parents {
		count += len(children(parent))
	}
	p, c := 0, 0
	return CopyRows{Table: table, Columns: columns, Count: count, Rows: pgx.CopyFromFunc(func() ([]any, error) {
		for p < len(parents) {
			kids := children(parents[p])
			if c < len(kids) {
				row(parents[p], &kids[c], c, values)
				c++
				return values, nil
			}
			p, c = p+1, 0
		}
		return nil, nil
	})}
}

// pgUUID parses an id for a uuid column, which COPY writes in binary.
func pgUUID(s string) (pgtype.UUID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return pgtype.UUID{}, fmt.Errorf("invalid uuid %q: %w", s, err)
	}
	return pgtype.UUID{Bytes: u, Valid: true}, nil
}

// writeFold writes the rows a fold holds into schema and empties it.
func writeFold(ctx context.Context, tx pgx.Tx, schema string, f Fold) error {
	for _, t := range f.Flush() {
		if t.Count == 0 {
			continue
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{schema, t.Table}, t.Columns, t.Rows); err != nil {
			return fmt.Errorf("copy into %s: %w", t.Table, err)
		}
	}
	return nil
}

// builder writes a replay's events into its fresh schema. A Folder's events
// are folded in memory, and the rows are copied in when the fold holds
// rowsMax of them and at the end; the events the fold does not take, and
// all events of other projections, are applied with statements, in one
// transaction per batch. An event the fold or the projection refuses is
// set aside; a write that fails on an event cannot tell which, and fails
// the build. A careful builder applies each batch as the runner does
// instead (folding only within the batch), and a batch that fails one
// event at a time, setting aside those that fail.
type builder struct {
	pool    *pgxpool.Pool
	p       Projection
	schema  string
	fold    Fold // nil when the projection is no Folder, or careful
	rowsMax int
	careful bool
	last    uint64 // last sequence folded, applied or set aside
	stmts   *pgx.Batch
	aside   []setAside
}

func newBuilder(pool *pgxpool.Pool, p Projection, schema string, rowsMax int, careful bool) *builder {
	b := &builder{pool: pool, p: p, schema: schema, rowsMax: rowsMax, careful: careful, stmts: &pgx.Batch{}}
	if f, ok := p.(Folder); ok && !careful {
		b.fold = f.NewFold()
	}
	return b
}

// add folds or applies the events after b.last, in order.
func (b *builder) add(ctx context.Context, evs []decoded) error {
	if b.careful {
		return b.applyBatch(ctx, evs)
	}
	for _, d := range evs {
		if d.env.Sequence <= b.last {
			continue
		}
		// A fold that refuses an event has not changed; the statements the
		// projection queued before it refused are dropped.
		queued := len(b.stmts.QueuedQueries)
		if err := queueEvent(b.stmts, b.p, b.fold, nil, d); err != nil {
			b.stmts.QueuedQueries = b.stmts.QueuedQueries[:queued]
			if err := b.setAside(newSetAside(d, err)); err != nil {
				return err
			}
		}
		b.last = d.env.Sequence
		if b.fold != nil && b.fold.Rows() >= b.rowsMax {
			if err := b.write(ctx, true); err != nil {
				return err
			}
		}
	}
	if b.stmts.Len() == 0 {
		return nil
	}
	return b.write(ctx, false)
}

func (b *builder) setAside(aside ...setAside) error {
	if len(b.aside)+len(aside) > setAsideMax {
		return fmt.Errorf("projection %s: more than %d events cannot be applied: the projection is broken", b.p.Name(), setAsideMax)
	}
	b.aside = append(b.aside, aside...)
	return nil
}

// applyBatch applies the events after b.last as the runner does.
func (b *builder) applyBatch(ctx context.Context, evs []decoded) error {
	var last uint64
	var aside []setAside
	err := withTimeout(ctx, func(ctx context.Context) (err error) {
		last, aside, err = commitBatch(ctx, b.pool, b.p, b.schema, evs, b.prepare, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("projection %s: %w", b.p.Name(), err)
	}
	b.last = last
	return b.setAside(aside...)
}

// prepare sets up a transaction of the builder: its search path is the
// schema.
func (b *builder) prepare(ctx context.Context, tx pgx.Tx) (uint64, error) {
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return 0, err
	}
	// Set on its own: pgx prepares a batch's statements before it runs any
	// of them.
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+pgx.Identifier{b.schema}.Sanitize()); err != nil {
		return 0, err
	}
	return b.last, nil
}

// finish writes the rows the fold still holds.
func (b *builder) finish(ctx context.Context) error {
	if b.stmts.Len() == 0 && (b.fold == nil || b.fold.Rows() == 0) {
		return nil
	}
	return b.write(ctx, b.fold != nil)
}

// write applies the statements queued, then copies the rows the fold holds
// when asked to. The statements are about aggregates whose rows are in the
// tables already, so they may go first.
func (b *builder) write(ctx context.Context, copyFold bool) error {
	err := beginWithTimeout(ctx, b.pool, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := b.prepare(ctx, tx); err != nil {
			return err
		}
		if b.stmts.Len() > 0 {
			if err := tx.SendBatch(ctx, b.stmts).Close(); err != nil {
				return fmt.Errorf("apply batch up to %d: %w", b.last, err)
			}
			b.stmts = &pgx.Batch{}
		}
		if copyFold {
			return writeFold(ctx, tx, b.schema, b.fold)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("projection %s: %w", b.p.Name(), err)
	}
	return nil
}
