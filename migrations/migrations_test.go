package migrations_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/testkit"
)

// Check passes only a database with every migration applied, and changes
// nothing, not even golang-migrate's version table.
func TestCheck(t *testing.T) {
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
	err := migrations.Check(ctx, url)
	if err == nil || !strings.Contains(err.Error(), "has none of the") || !strings.Contains(err.Error(), "rafiki migrate") {
		t.Fatalf("check of an empty database: %v", err)
	}
	if n := tables(); n != 0 {
		t.Fatalf("check created %d tables", n)
	}
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Check(ctx, url); err != nil {
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
		err := migrations.Check(ctx, url)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
