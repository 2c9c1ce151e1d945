package projections_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

// seen records the sequence of every event it is given, in a table named
// as it is: projections write tables of their own, and a statement's text
// names them.
type seen struct{ name string }

func (s seen) Name() string { return s.name }
func (s seen) Tables() []string {
	return []string{`CREATE TABLE IF NOT EXISTS ` + s.name + ` (sequence bigint PRIMARY KEY)`}
}
func (s seen) Apply(b *pgx.Batch, env events.Envelope, _ events.Event) error {
	b.Queue(`INSERT INTO `+s.name+` (sequence) VALUES ($1)`, int64(env.Sequence))
	return nil
}

// Projections taking turns on one connection, each under its own search
// path, have their statements planned for the first executions only:
// Postgres plans a kept statement again whenever it runs under another
// search path than the one it was planned under, and planning the
// checkpoint's statements at every batch cost more than running them.
func TestProjectionsTakingTurnsPlanOnce(t *testing.T) {
	url := testkit.NewDatabase(t)
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	pool, plans := testkit.PlanningPool(t, url)
	ctx := context.Background()
	var live []projections.Projection
	var committers []*projections.Committer
	for _, name := range []string{"seen_a", "seen_b", "seen_c"} {
		p := seen{name: name}
		if err := projections.CreateLive(ctx, pool, p); err != nil {
			t.Fatal(err)
		}
		live = append(live, p)
		committers = append(committers, projections.NewCommitter(pool, p))
	}
	sequence := uint64(0)
	round := func() {
		t.Helper()
		for i, p := range live {
			sequence++
			done, err := committers[i].Commit(ctx, sequence)
			if err != nil || !done {
				t.Fatalf("%s: commit at %d: done %v, %v", p.Name(), sequence, done, err)
			}
		}
	}
	if n := testkit.PlannedAfterWarmUp(plans, 20, round); n != 0 {
		t.Fatalf("%d statements planned for 60 batches of 3 projections taking turns, want none", n)
	}
	for _, p := range live {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{projections.Schema(p), p.Name()}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 30 {
			t.Fatalf("%s: %d events applied, want 30", p.Name(), n)
		}
	}
}
