package projections_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

// stored is one event as the stream keeps it.
type stored struct {
	subject string
	data    []byte
}

// sealed is an event on an asset of tenant, as a handler would store it.
func sealed(t *testing.T, tenant, asset string, ev events.Event) stored {
	t.Helper()
	meta := events.Meta{AggregateType: "asset", AggregateID: asset, TenantID: tenant, CausationID: "test", Time: time.Now()}
	envs, err := events.Seal(meta, uuid.NewString(), 0, ev)
	if err != nil {
		t.Fatal(err)
	}
	data, err := events.Marshal(envs[0])
	if err != nil {
		t.Fatal(err)
	}
	return stored{subject: fmt.Sprintf("events.%s.asset.%s", tenant, asset), data: data}
}

// publish stores events straight on the stream, as no handler would, each
// under a message id of its own, so that the same event may be stored
// twice. It returns their sequences.
func publish(t *testing.T, js jetstream.JetStream, evs ...stored) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, s := range evs {
		ack, err := js.Publish(context.Background(), s.subject, s.data, jetstream.WithMsgID(uuid.NewString()))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ack.Sequence)
	}
	return seqs
}

// newAsset is the creation of an asset with its own ledger.
func newAsset(t *testing.T, tenant string, ledger int) stored {
	return sealed(t, tenant, uuid.NewString(), &events.AssetCreated{Code: fmt.Sprintf("C%d", ledger), Scale: 2, Ledger: uint32(ledger)})
}

type setAsideRow struct {
	sequence       uint64
	eventID, typ   *string
	subject, error string
	at             time.Time
}

func setAsideRows(t *testing.T, pool *pgxpool.Pool, projection string) []setAsideRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT sequence, event_id::text, event_type, subject, error, set_aside_at
		FROM projection_set_aside WHERE projection = $1 ORDER BY sequence`, projection)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (setAsideRow, error) {
		var r setAsideRow
		var seq int64
		err := row.Scan(&seq, &r.eventID, &r.typ, &r.subject, &r.error, &r.at)
		r.sequence = uint64(seq)
		return r, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, pool *pgxpool.Pool, query string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An event the projection cannot apply, in the middle of the stream, is set
// aside with its error, and the projection goes on: the events after it are
// applied, the checkpoint passes it, the readiness check tells of it, and
// a replay sets it aside again. Whether the runner follows the stream (small
// batches, applied with statements) or catches up (large batches, folded)
// makes no difference.
func TestEventThatCannotBeAppliedIsSetAside(t *testing.T) {
	tenant := uuid.NewString()
	for _, c := range []struct {
		name   string
		poison func(t *testing.T) stored
		err    string // in the error recorded
		known  bool   // the envelope is readable: its id and type are recorded
		// in the error a replay records, when it differs: a replay's fold
		// checks ids itself
		replayErr string
	}{
		{"id is no uuid", func(t *testing.T) stored {
			return sealed(t, tenant, "not-a-uuid", &events.AssetCreated{Code: "X", Scale: 2, Ledger: 9999})
		}, "invalid input syntax for type uuid", true, `invalid uuid "not-a-uuid"`},
		{"payload does not decode", func(t *testing.T) stored {
			s := sealed(t, tenant, uuid.NewString(), &events.AssetCreated{Code: "X", Scale: 2, Ledger: 9999})
			s.data = []byte(strings.Replace(string(s.data), `"code":"X"`, `"code":5`, 1))
			return s
		}, "decode event", true, ""},
		{"envelope does not decode", func(t *testing.T) stored {
			return stored{subject: fmt.Sprintf("events.%s.asset.%s", tenant, uuid.NewString()), data: []byte("not an envelope")}
		}, "decode envelope", false, ""},
		{"ledger taken twice", func(t *testing.T) stored { return newAsset(t, tenant, 1) },
			"duplicate key value violates unique constraint", true, ""},
	} {
		for _, following := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/following=%v", c.name, following), func(t *testing.T) {
				e := setup(t)
				ctx := context.Background()
				log, logs := capture()
				runner := projections.NewRunner(e.pool, e.nats.JS, "EVENTS", projections.Assets{}, log)
				before, after := 150, 150
				if following {
					before, after = 5, 5
					defer runUntil(runner)()
				}
				var good []stored
				for i := range before + after {
					good = append(good, newAsset(t, tenant, i+1))
				}
				first := publish(t, e.nats.JS, good[:before]...)
				if following {
					testkit.Eventually(t, 10*time.Second, func() bool { return checkpoint(t, e.pool, "assets") == first[before-1] }, "caught up")
				}
				poison := c.poison(t)
				bad := publish(t, e.nats.JS, poison)[0]
				publish(t, e.nats.JS, good[before:]...)
				// An event on an asset created before the poison, after it.
				changed := sealed(t, tenant, strings.Split(good[0].subject, ".")[3], &events.AssetThresholdsSet{LiquidityThreshold: ptr(uint64(7))})
				last := publish(t, e.nats.JS, changed)[0]
				if !following {
					defer runUntil(runner)()
				}
				testkit.Eventually(t, 20*time.Second, func() bool { return checkpoint(t, e.pool, "assets") == last },
					"the checkpoint did not pass the event at %d (at %d, status %+v)", bad, checkpoint(t, e.pool, "assets"), runner.Status())
				if n := count(t, e.pool, `SELECT count(*) FROM rm_assets.assets`); n != before+after {
					t.Fatalf("%d assets, want %d", n, before+after)
				}
				if n := count(t, e.pool, `SELECT count(*) FROM rm_assets.assets WHERE liquidity_threshold = 7`); n != 1 {
					t.Fatalf("the event after the one set aside was not applied")
				}
				checkSetAside(t, e.pool, bad, poison, c.err, c.known)
				if s := runner.Status(); s.SetAside != 1 || s.Stuck(time.Now()) != "" || !s.FailingSince.IsZero() {
					t.Fatalf("runner status %+v", s)
				}
				if line := fmt.Sprintf("sequence=%d", bad); !strings.Contains(logs.String(), line) || !strings.Contains(logs.String(), "event set aside") {
					t.Fatalf("no log of the event set aside (%s):\n%s", line, logs)
				}
				report := app.ProjectionsCheck([]*projections.Runner{runner}, e.pool).Run(ctx)
				var note app.Note
				if !errors.As(report, &note) || !strings.Contains(string(note), "assets 1") {
					t.Fatalf("readiness check: %v, want a passing note of 1 event of assets set aside", report)
				}
				// A replay tries it again, and sets it aside again.
				testkit.ReplayMatchesLive(t, e.pool, e.nats.JS, "EVENTS", projections.Assets{}, "events.*.asset.>")
				if c.replayErr == "" {
					c.replayErr = c.err
				}
				checkSetAside(t, e.pool, bad, poison, c.replayErr, c.known)
				more := publish(t, e.nats.JS, newAsset(t, tenant, 5000))[0]
				testkit.Eventually(t, 10*time.Second, func() bool { return checkpoint(t, e.pool, "assets") == more }, "following after the replay")
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }

// checkSetAside checks that the one event set aside is the one at seq.
func checkSetAside(t *testing.T, pool *pgxpool.Pool, seq uint64, s stored, err string, known bool) {
	t.Helper()
	rows := setAsideRows(t, pool, "assets")
	if len(rows) != 1 {
		t.Fatalf("set aside: %+v, want the event at %d", rows, seq)
	}
	r := rows[0]
	if r.sequence != seq || r.subject != s.subject || !strings.Contains(r.error, err) {
		t.Fatalf("set aside: %d %s %q; want %d %s and an error with %q", r.sequence, r.subject, r.error, seq, s.subject, err)
	}
	if known {
		env, uerr := events.Unmarshal(s.data, seq)
		if uerr != nil {
			t.Fatal(uerr)
		}
		if r.eventID == nil || *r.eventID != env.ID.String() || r.typ == nil || *r.typ != env.Type {
			t.Fatalf("set aside event %v of type %v, want %s %s", r.eventID, r.typ, env.ID, env.Type)
		}
	} else if r.eventID != nil || r.typ != nil {
		t.Fatalf("set aside an unreadable envelope as event %v of type %v", r.eventID, r.typ)
	}
}

// A fee set again with the same idempotency key after the stream's
// duplicate window is stored twice, with the same event and fee ids. The
// second is no failure and changes nothing: nothing is set aside, the
// checkpoint passes it, the fee set in between stays the latest.
func TestFeeStoredTwiceChangesNothing(t *testing.T) {
	e := setup(t)
	tenant, asset := uuid.NewString(), uuid.NewString()
	defer runUntil(projections.NewRunner(e.pool, e.nats.JS, "EVENTS", projections.Assets{}, slog.New(slog.DiscardHandler)))()
	fee := sealed(t, tenant, asset, &events.FeeSet{FeeID: uuid.NewString(), Type: "SENDING", Fixed: 1, BasisPoints: 2})
	seqs := publish(t, e.nats.JS,
		sealed(t, tenant, asset, &events.AssetCreated{Code: "USD", Scale: 2, Ledger: 1}),
		fee,
		sealed(t, tenant, asset, &events.FeeSet{FeeID: uuid.NewString(), Type: "SENDING", Fixed: 3, BasisPoints: 4}),
		fee,
		sealed(t, tenant, asset, &events.AssetThresholdsSet{LiquidityThreshold: ptr(uint64(7))}))
	last := seqs[len(seqs)-1]
	testkit.Eventually(t, 10*time.Second, func() bool { return checkpoint(t, e.pool, "assets") == last },
		"the checkpoint did not pass the fee stored twice (at %d)", checkpoint(t, e.pool, "assets"))
	if rows := setAsideRows(t, e.pool, "assets"); len(rows) != 0 {
		t.Fatalf("set aside: %+v", rows)
	}
	var fixed, n int
	if err := e.pool.QueryRow(context.Background(), `SELECT (SELECT fixed FROM rm_assets.fees ORDER BY sequence DESC LIMIT 1),
		(SELECT count(*) FROM rm_assets.fees)`).Scan(&fixed, &n); err != nil {
		t.Fatal(err)
	}
	if fixed != 3 || n != 2 {
		t.Fatalf("latest fee %d of %d fees; want 3 of 2", fixed, n)
	}
	testkit.ReplayMatchesLive(t, e.pool, e.nats.JS, "EVENTS", projections.Assets{}, "events.*.asset.>")
}

// flaky is the assets projection, with statements only, whose Apply fails
// on one asset's creation while told to: refusing it, as a projection that
// cannot apply an event does, or queueing a statement that fails as a lost
// serialization race does, which may pass.
type flaky struct {
	asset string
	mode  *atomic.Int32
}

const (
	applies = iota
	refuses
	failsTransiently
)

func (flaky) Name() string     { return projections.Assets{}.Name() }
func (flaky) Tables() []string { return projections.Assets{}.Tables() }

func (f flaky) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	if _, created := ev.(*events.AssetCreated); created && env.AggregateID == f.asset {
		switch f.mode.Load() {
		case refuses:
			return errors.New("this build cannot apply it")
		case failsTransiently:
			b.Queue(`DO $$ BEGIN RAISE EXCEPTION 'could not serialize access' USING ERRCODE = 'serialization_failure'; END $$`)
		}
	}
	return projections.Assets{}.Apply(b, env, ev)
}

// A failure that may pass (here a serialization failure) sets nothing
// aside: the runner tries the batch again until it passes.
func TestTransientFailureIsNotSetAside(t *testing.T) {
	e := setup(t)
	tenant, asset := uuid.NewString(), uuid.NewString()
	mode := &atomic.Int32{}
	mode.Store(failsTransiently)
	runner := projections.NewRunner(e.pool, e.nats.JS, "EVENTS", flaky{asset: asset, mode: mode}, slog.New(slog.DiscardHandler))
	defer runUntil(runner)()
	seqs := publish(t, e.nats.JS, newAsset(t, tenant, 1),
		sealed(t, tenant, asset, &events.AssetCreated{Code: "USD", Scale: 2, Ledger: 2}), newAsset(t, tenant, 3))
	testkit.Eventually(t, 10*time.Second, func() bool { return strings.Contains(runner.Status().LastError, "could not serialize") },
		"the runner did not fail: %+v", runner.Status())
	time.Sleep(2 * time.Second) // a few more tries
	if rows := setAsideRows(t, e.pool, "assets"); len(rows) != 0 || checkpoint(t, e.pool, "assets") >= seqs[1] {
		t.Fatalf("after a transient failure: set aside %+v, checkpoint %d (the event is at %d)", rows, checkpoint(t, e.pool, "assets"), seqs[1])
	}
	mode.Store(applies)
	testkit.Eventually(t, 10*time.Second, func() bool { return checkpoint(t, e.pool, "assets") == seqs[2] }, "caught up once it passed")
	if n := count(t, e.pool, `SELECT count(*) FROM rm_assets.assets`); n != 3 {
		t.Fatalf("%d assets, want 3", n)
	}
	if rows := setAsideRows(t, e.pool, "assets"); len(rows) != 0 {
		t.Fatalf("set aside: %+v", rows)
	}
}

// An event set aside is applied by a replay once the projection can apply
// it (the code was fixed): its row goes; a replay before the fix sets it
// aside again. Events of the same aggregate after it, which found no row
// while it was set aside, are applied too. One that comes in during the
// replay, and that the replay's swap applies, is set aside there.
func TestReplayAppliesWhatWasSetAsideOnceFixed(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	tenant, asset := uuid.NewString(), uuid.NewString()
	mode := &atomic.Int32{}
	mode.Store(refuses)
	p := flaky{asset: asset, mode: mode}
	runner := projections.NewRunner(e.pool, e.nats.JS, "EVENTS", p, slog.New(slog.DiscardHandler))
	defer runUntil(runner)()
	seqs := publish(t, e.nats.JS, newAsset(t, tenant, 1),
		sealed(t, tenant, asset, &events.AssetCreated{Code: "USD", Scale: 2, Ledger: 2}), newAsset(t, tenant, 3),
		sealed(t, tenant, asset, &events.AssetThresholdsSet{LiquidityThreshold: ptr(uint64(7))}))
	testkit.Eventually(t, 10*time.Second, func() bool { return checkpoint(t, e.pool, "assets") == seqs[3] }, "caught up")
	rows := setAsideRows(t, e.pool, "assets")
	if len(rows) != 1 || rows[0].sequence != seqs[1] || !strings.Contains(rows[0].error, "this build cannot apply it") {
		t.Fatalf("set aside %+v, want the event at %d", rows, seqs[1])
	}
	replay := func(during func()) projections.Progress {
		var last projections.Progress
		if _, err := projections.Replay(ctx, e.pool, e.nats.JS, "EVENTS", p, "events.*.asset.>", func(pr projections.Progress) {
			if last.Sequence == 0 && during != nil {
				during()
			}
			last = pr
		}); err != nil {
			t.Fatal(err)
		}
		return last
	}
	var poison uint64
	if pr := replay(func() {
		poison = publish(t, e.nats.JS, sealed(t, tenant, "not-a-uuid", &events.AssetCreated{Code: "X", Scale: 2, Ledger: 9}))[0]
	}); pr.SetAside != 2 || pr.Sequence != poison {
		t.Fatalf("a replay before the fix reported %d events set aside up to %d, want 2 up to %d", pr.SetAside, pr.Sequence, poison)
	}
	again := setAsideRows(t, e.pool, "assets")
	if len(again) != 2 || again[0].sequence != seqs[1] || again[0].at.Before(rows[0].at) ||
		again[1].sequence != poison || !strings.Contains(again[1].error, "invalid input syntax for type uuid") {
		t.Fatalf("after a replay before the fix: set aside %+v, want the events at %d and %d", again, seqs[1], poison)
	}

	mode.Store(applies)
	if pr := replay(nil); pr.SetAside != 1 {
		t.Fatalf("a replay after the fix reported %d events set aside, want 1", pr.SetAside)
	}
	if rows := setAsideRows(t, e.pool, "assets"); len(rows) != 1 || rows[0].sequence != poison {
		t.Fatalf("set aside after the fix: %+v, want only the event at %d", rows, poison)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM rm_assets.assets WHERE id = $1 AND liquidity_threshold = 7`, asset); n != 1 {
		t.Fatal("the asset set aside is not in the read model with its later change")
	}
	more := publish(t, e.nats.JS, newAsset(t, tenant, 4))[0]
	testkit.Eventually(t, 10*time.Second, func() bool { return checkpoint(t, e.pool, "assets") == more }, "following after the replay")
	if n := count(t, e.pool, `SELECT count(*) FROM rm_assets.assets`); n != 4 {
		t.Fatalf("%d assets, want 4", n)
	}
}
