package projections_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

// batches counts the batches a pool sends, each one round trip.
type batches struct{ n atomic.Int64 }

func (b *batches) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	b.n.Add(1)
	return ctx
}
func (b *batches) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (b *batches) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
func (b *batches) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (b *batches) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func countedPool(t *testing.T) (*pgxpool.Pool, *batches) {
	t.Helper()
	url := testkit.NewDatabase(t)
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	count := &batches{}
	cfg.ConnConfig.Tracer = count
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, count
}

func appliedSequences(t *testing.T, pool *pgxpool.Pool, p projections.Projection) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT sequence FROM `+pgx.Identifier{projections.Schema(p), p.Name()}.Sanitize()+` ORDER BY sequence`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// A runner applies a small batch in one round trip once its connection has
// prepared the batch's statements: it knows the checkpoint it wrote last,
// and does not read it first.
func TestSmallBatchInOneRoundTrip(t *testing.T) {
	pool, count := countedPool(t)
	ctx := context.Background()
	p := seen{name: "seen_one"}
	if err := projections.CreateLive(ctx, pool, p); err != nil {
		t.Fatal(err)
	}
	c := projections.NewCommitter(pool, p)
	for s := uint64(1); s <= 3; s++ {
		if done, err := c.Commit(ctx, s); err != nil || !done {
			t.Fatalf("commit %d: %v %v", s, done, err)
		}
	}
	before := count.n.Load()
	for s := uint64(4); s <= 13; s++ {
		if done, err := c.Commit(ctx, s); err != nil || !done {
			t.Fatalf("commit %d: %v %v", s, done, err)
		}
	}
	if n := count.n.Load() - before; n != 10 {
		t.Fatalf("%d round trips for 10 batches", n)
	}
	if got := appliedSequences(t, pool, p); len(got) != 13 || got[12] != 13 {
		t.Fatalf("applied %v", got)
	}
}

// seenAll is seen whose table takes an event applied twice.
type seenAll struct{ seen }

func (s seenAll) Tables() []string {
	return []string{`CREATE TABLE IF NOT EXISTS ` + s.name + ` (sequence bigint NOT NULL)`}
}

// A checkpoint moved by another writer (a runner that took the lease over,
// a replay) fails the one-round-trip commit, which writes nothing; the
// batch then goes the way that reads the checkpoint, and the events the
// other writer applied are not applied twice.
func TestSmallBatchAfterAnotherWriter(t *testing.T) {
	pool, _ := countedPool(t)
	ctx := context.Background()
	p := seenAll{seen{name: "seen_two"}}
	if err := projections.CreateLive(ctx, pool, p); err != nil {
		t.Fatal(err)
	}
	mine, other := projections.NewCommitter(pool, p), projections.NewCommitter(pool, p)
	for s := uint64(1); s <= 3; s++ {
		if done, err := mine.Commit(ctx, s); err != nil || !done {
			t.Fatalf("commit %d: %v %v", s, done, err)
		}
	}
	if done, err := other.Commit(ctx, 4, 5); err != nil || !done {
		t.Fatalf("the other writer: %v %v", done, err)
	}
	// Mine still holds 3 as its checkpoint: the events up to 5 are the
	// other's, the 6th is new.
	if done, err := mine.Commit(ctx, 4, 5, 6); err != nil || !done {
		t.Fatalf("commit after the other writer: %v %v", done, err)
	}
	if done, err := mine.Commit(ctx, 7); err != nil || !done {
		t.Fatalf("commit 7: %v %v", done, err)
	}
	got := appliedSequences(t, pool, p)
	if len(got) != 7 || got[6] != 7 {
		t.Fatalf("applied %v, want 1 to 7 once each", got)
	}
	var checkpoint int64
	if err := pool.QueryRow(ctx, `SELECT sequence FROM projection_checkpoints WHERE name = $1`, p.Name()).Scan(&checkpoint); err != nil || checkpoint != 7 {
		t.Fatalf("checkpoint %d (%v), want 7", checkpoint, err)
	}
}
