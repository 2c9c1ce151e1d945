package testkit

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/projections"
)

// ReplayMatchesLive copies a projection's live tables aside, rebuilds the
// projection from the first event (which swaps fresh tables in), and fails
// the test unless every table holds the same rows as before. It returns
// each table's row count.
func ReplayMatchesLive(t testing.TB, pool *pgxpool.Pool, js jetstream.JetStream, stream string, p projections.Projection, filter string) map[string]int {
	t.Helper()
	ctx := context.Background()
	live, snapshot := projections.Schema(p), "snapshot_"+p.Name()
	rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, live)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) == 0 {
		t.Fatalf("tables of %s: %v %v", live, tables, err)
	}
	statements := []string{"DROP SCHEMA IF EXISTS " + snapshot + " CASCADE", "CREATE SCHEMA " + snapshot}
	for _, table := range tables {
		statements = append(statements, fmt.Sprintf("CREATE TABLE %s.%s AS SELECT * FROM %s.%s", snapshot, table, live, table))
	}
	for _, stmt := range statements {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := projections.Replay(ctx, pool, js, stream, p, filter, nil); err != nil {
		t.Fatalf("replay %s: %v", p.Name(), err)
	}
	counts := map[string]int{}
	for _, table := range tables {
		var before, after, differ int
		q := fmt.Sprintf(`SELECT (SELECT count(*) FROM %[1]s.%[3]s), (SELECT count(*) FROM %[2]s.%[3]s),
			(SELECT count(*) FROM ((SELECT * FROM %[1]s.%[3]s EXCEPT ALL SELECT * FROM %[2]s.%[3]s)
			UNION ALL (SELECT * FROM %[2]s.%[3]s EXCEPT ALL SELECT * FROM %[1]s.%[3]s)) d)`, snapshot, live, table)
		if err := pool.QueryRow(ctx, q).Scan(&before, &after, &differ); err != nil {
			t.Fatal(err)
		}
		if before != after || differ != 0 {
			t.Fatalf("%s.%s: live had %d rows, the replay has %d, %d rows differ", live, table, before, after, differ)
		}
		counts[table] = after
	}
	return counts
}
