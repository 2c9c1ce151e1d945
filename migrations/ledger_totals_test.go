package migrations_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/source/file" // registers file://

	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/testkit"
)

// Migration 9 widens the ledger's account totals of an installation that
// has them: every total kept, and afterwards one past 2^63-1 stored.
func TestLedgerTotalsWidenWithTheirValues(t *testing.T) {
	ctx := context.Background()
	url := testkit.NewDatabase(t)
	m, err := migrate.New("file://backend", "pgx5://"+strings.TrimPrefix(strings.TrimPrefix(url, "postgresql://"), "postgres://"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(8); err != nil {
		t.Fatal(err)
	}
	if srcErr, dbErr := m.Close(); srcErr != nil || dbErr != nil {
		t.Fatal(errors.Join(srcErr, dbErr))
	}
	pool := testkit.Pool(t, url)
	if _, err := pool.Exec(ctx, `INSERT INTO ledger_accounts (id, ledger, code, flags, asset_id, debits_pending, debits_posted, credits_pending, credits_posted)
		VALUES ('00000000-0000-0000-0000-000000000001', 1, 1, 2, gen_random_uuid(), 1, 9223372036854775806, 3, 9223372036854775807)`); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	var totals string
	if err := pool.QueryRow(ctx, `SELECT concat_ws(' ', debits_pending, debits_posted, credits_pending, credits_posted) FROM ledger_accounts`).Scan(&totals); err != nil {
		t.Fatal(err)
	}
	if totals != "1 9223372036854775806 3 9223372036854775807" {
		t.Fatalf("totals after the migration: %s", totals)
	}
	if _, err := pool.Exec(ctx, `UPDATE ledger_accounts SET credits_posted = 340282366920938463463374607431768211455`); err != nil {
		t.Fatalf("a 128-bit total: %v", err)
	}
}
