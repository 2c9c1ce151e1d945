package migrations_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/testkit"
)

// Check passes only a database with every migration of its set applied,
// and changes nothing, not even golang-migrate's version table.
func TestCheck(t *testing.T) {
	for _, set := range []struct {
		name  string
		up    func(string) error
		check func(context.Context, string) error
	}{
		{"backend", migrations.Up, migrations.Check},
		{"auth", migrations.UpAuth, migrations.CheckAuth},
	} {
		t.Run(set.name, func(t *testing.T) { testCheck(t, set.up, set.check) })
	}
}

func testCheck(t *testing.T, up func(string) error, check func(context.Context, string) error) {
	ctx := context.Background()
	url := testkit.NewDatabase(t)
	pool := testkit.Pool(t, url)
	tables := func() int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	err := check(ctx, url)
	if err == nil || !strings.Contains(err.Error(), "has none of the") || !strings.Contains(err.Error(), "rafiki migrate") {
		t.Fatalf("check of an empty database: %v", err)
	}
	if n := tables(); n != 0 {
		t.Fatalf("check created %d tables", n)
	}
	if err := up(url); err != nil {
		t.Fatal(err)
	}
	if err := check(ctx, url); err != nil {
		t.Fatalf("check of a migrated database: %v", err)
	}
	for _, tc := range []struct {
		name, update, want string
	}{
		{"behind", `UPDATE schema_migrations SET version = 1`, "is at migration 1, this build needs"},
		{"dirty", `UPDATE schema_migrations SET dirty = true`, "stopped half-way"},
		{"ahead", `UPDATE schema_migrations SET version = 1000000, dirty = false`, ""},
	} {
		if _, err := pool.Exec(ctx, tc.update); err != nil {
			t.Fatal(err)
		}
		err := check(ctx, url)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// The projections framework writes the same tables in both databases, so
// the auth set must define them exactly as the backend set ends up.
func TestAuthProjectionTablesMatchTheBackend(t *testing.T) {
	ctx := context.Background()
	columns := func(up func(string) error) string {
		t.Helper()
		url := testkit.NewDatabase(t)
		if err := up(url); err != nil {
			t.Fatal(err)
		}
		var out string
		err := testkit.Pool(t, url).QueryRow(ctx, `SELECT string_agg(format('%s.%s %s %s %s', table_name, column_name, data_type,
				is_nullable, coalesce(column_default, '')), E'\n' ORDER BY table_name, column_name)
			FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name IN ('projection_checkpoints', 'projection_set_aside')`).Scan(&out)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	backend, auth := columns(migrations.Up), columns(migrations.UpAuth)
	if backend != auth || !strings.Contains(auth, "stream_created_unix_nanos") || !strings.Contains(auth, "projection_set_aside.error") {
		t.Fatalf("backend:\n%s\nauth:\n%s", backend, auth)
	}
}

// Up leaves alone a database whose version table another application's
// golang-migrate keeps, and one a newer build migrated further, saying
// which it is.
func TestUpRefusesDatabasesNotItsOwn(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, setup, want string
		version           int64
	}{
		{"another application's", `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
			INSERT INTO schema_migrations VALUES (3, false); CREATE TABLE ledger_accounts (id int)`, "another application's migrations", 3},
		{"a newer build's", `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
			INSERT INTO schema_migrations VALUES (99, false); CREATE TABLE projection_checkpoints (name text)`, "newer than this build's", 99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := testkit.NewDatabase(t)
			pool := testkit.Pool(t, url)
			if _, err := pool.Exec(ctx, tc.setup); err != nil {
				t.Fatal(err)
			}
			if err := migrations.Up(url); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Up: %v, want %q", err, tc.want)
			}
			var version int64
			var dirty bool
			if err := pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations`).Scan(&version, &dirty); err != nil {
				t.Fatal(err)
			}
			if version != tc.version || dirty {
				t.Fatalf("the version table is at %d (dirty %t) after Up, was %d", version, dirty, tc.version)
			}
		})
	}
}
