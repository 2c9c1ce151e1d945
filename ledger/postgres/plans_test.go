package postgres

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/testkit"
)

// An account is made, and an existing one found, by its primary key, also
// with plans made while the table was small and without statistics: a scan
// of the whole table for each account made would cost more with every
// payment ever made.
func TestAccountsFoundByIndex(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	if _, err := l.pool.Exec(ctx, `ALTER TABLE ledger_accounts SET (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	asset := uuid.New()
	if err := l.CreateAssetAccounts(ctx, asset, 1); err != nil {
		t.Fatal(err)
	}
	made := func(n int) {
		t.Helper()
		if _, err := l.pool.Exec(ctx, `INSERT INTO ledger_accounts (id, ledger, code, flags, asset_id)
			SELECT gen_random_uuid(), 1, 1, 0, $1 FROM generate_series(1, $2)`, asset, n); err != nil {
			t.Fatal(err)
		}
	}
	create := func(n int) {
		t.Helper()
		for range n {
			a := ledger.Account{ID: uuid.New(), Type: ledger.Incoming, AssetID: asset, Ledger: 1}
			if err := l.CreateLiquidityAccount(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	made(300)
	create(20) // enough for Postgres to keep a generic plan
	made(20000)
	before := testkit.SeqScans(t, l.pool, "ledger_accounts")
	create(10)
	if after := testkit.SeqScans(t, l.pool, "ledger_accounts"); after != before {
		t.Fatalf("%d scans of the whole accounts table for 10 accounts made", after-before)
	}
}

// A balance read and an account made are planned for their first
// executions only: planning either again at every call costs Postgres more
// than running it.
func TestReadsAndAccountsPlannedOnce(t *testing.T) {
	url := testkit.NewDatabase(t)
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	pool, plans := testkit.PlanningPool(t, url)
	l, err := New(context.Background(), pool, Options{NoSweep: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	ctx := context.Background()
	asset := uuid.New()
	if err := l.CreateAssetAccounts(ctx, asset, 1); err != nil {
		t.Fatal(err)
	}
	// With statistics of a table of many accounts, Postgres estimates the
	// plan for any number of accounts dearer than the one for one account.
	if _, err := pool.Exec(ctx, `INSERT INTO ledger_accounts (id, ledger, code, flags, asset_id)
		SELECT gen_random_uuid(), 1, 1, 0, $1 FROM generate_series(1, 20000)`, asset); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE ledger_accounts`); err != nil {
		t.Fatal(err)
	}
	round := func() {
		t.Helper()
		a := ledger.Account{ID: uuid.New(), Type: ledger.Incoming, AssetID: asset, Ledger: 1}
		if err := l.CreateLiquidityAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := l.TotalReceived(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := testkit.PlannedAfterWarmUp(plans, 20, round); n != 0 {
		t.Fatalf("%d statements planned for 20 accounts made and read, want none", n)
	}
}
