package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/ledger/ledgertest"
	"github.com/rafiki-go/rafiki/ledger/postgres"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/testkit"
)

// database creates a fresh, migrated database and returns a pool on it.
func database(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := testkit.NewDatabase(t)
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	return testkit.Pool(t, url)
}

// open starts a Ledger that the test closes.
func open(t testing.TB, pool *pgxpool.Pool, opts postgres.Options) *postgres.Ledger {
	t.Helper()
	l, err := postgres.New(context.Background(), pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// reopenable lets the contract's crash test start a second Ledger on the
// same database, as a restarted process would.
type reopenable struct {
	*postgres.Ledger
	pool *pgxpool.Pool
}

func (r reopenable) Reopen(t *testing.T) ledger.Ledger {
	return open(t, r.pool, postgres.Options{})
}

func TestContract(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledger.Ledger {
		pool := database(t)
		return reopenable{Ledger: open(t, pool, postgres.Options{}), pool: pool}
	})
}

// fixture is an asset with a funded account and a destination.
type fixture struct {
	asset       uuid.UUID
	number      uint32
	source      ledger.Account
	destination ledger.Account
}

func newFixture(t *testing.T, l ledger.Ledger, funds uint64) fixture {
	t.Helper()
	ctx := context.Background()
	f := fixture{asset: uuid.New(), number: 1}
	if err := l.CreateAssetAccounts(ctx, f.asset, f.number); err != nil {
		t.Fatal(err)
	}
	f.source = ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: f.asset, Ledger: f.number}
	f.destination = ledger.Account{ID: uuid.New(), Type: ledger.Incoming, AssetID: f.asset, Ledger: f.number}
	for _, a := range []ledger.Account{f.source, f.destination} {
		if err := l.CreateLiquidityAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: f.source, Amount: funds}); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestTwoLedgersRace: two Ledgers on one database, as two processes,
// race to spend one account's money; the row locks let exactly the funded
// transfers through.
func TestTwoLedgersRace(t *testing.T) {
	const (
		transfersEach = 300
		fundedFor     = 250
		amount        = 3
	)
	pool := database(t)
	// Separate pools: the second process does not share connections.
	other := testkit.Pool(t, pool.Config().ConnString())
	ledgers := []*postgres.Ledger{open(t, pool, postgres.Options{}), open(t, other, postgres.Options{})}
	f := newFixture(t, ledgers[0], fundedFor*amount)
	ctx := context.Background()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		pendings []struct {
			l *postgres.Ledger
			p ledger.PendingTransfer
		}
		refused atomic.Int64
	)
	for i := range 2 * transfersEach {
		l := ledgers[i%2]
		wg.Go(func() {
			p, err := l.Transfer(ctx, ledger.TransferRequest{
				ID: uuid.New(), Source: f.source, Destination: f.destination,
				SourceAmount: amount, Timeout: time.Minute,
			})
			switch {
			case err == nil:
				mu.Lock()
				pendings = append(pendings, struct {
					l *postgres.Ledger
					p ledger.PendingTransfer
				}{ledgers[(i+1)%2], p}) // posted by the other process
				mu.Unlock()
			case errors.Is(err, ledger.ErrInsufficientBalance):
				refused.Add(1)
			default:
				t.Errorf("Transfer: %v", err)
			}
		})
	}
	wg.Wait()
	if len(pendings) != fundedFor {
		t.Fatalf("%d transfers succeeded (%d refused), want %d", len(pendings), refused.Load(), fundedFor)
	}
	for _, p := range pendings {
		wg.Go(func() {
			if err := p.l.Post(ctx, p.p); err != nil {
				t.Errorf("Post: %v", err)
			}
		})
	}
	wg.Wait()
	if got, err := ledgers[1].TotalReceived(ctx, f.destination.ID); err != nil || got != fundedFor*amount {
		t.Errorf("TotalReceived = %d, %v; want %d", got, err, fundedFor*amount)
	}
	postgres.Consistent(t, ledgers[0])
}

// TestRacingRetries: the same transfer request sent through two Ledgers at
// once is applied once.
func TestRacingRetries(t *testing.T) {
	pool := database(t)
	other := testkit.Pool(t, pool.Config().ConnString())
	ledgers := []*postgres.Ledger{open(t, pool, postgres.Options{}), open(t, other, postgres.Options{})}
	f := newFixture(t, ledgers[0], 1_000)
	ctx := context.Background()
	for range 50 {
		req := ledger.TransferRequest{
			ID: uuid.New(), Source: f.source, Destination: f.destination,
			SourceAmount: 2, DestinationAmount: 1, Timeout: time.Minute,
		}
		var created, exists atomic.Int64
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				_, err := ledgers[i%2].Transfer(ctx, req)
				switch {
				case err == nil:
					created.Add(1)
				case errors.Is(err, ledger.ErrTransferExists):
					exists.Add(1)
				default:
					t.Errorf("Transfer: %v", err)
				}
			})
		}
		wg.Wait()
		if created.Load() != 1 || exists.Load() != 3 {
			t.Fatalf("created %d times, existing %d times; want 1 and 3", created.Load(), exists.Load())
		}
	}
	if got, err := ledgers[0].Balance(ctx, f.source.ID); err != nil || got != 1_000-50*2 {
		t.Errorf("Balance = %d, %v; want %d", got, err, 1_000-50*2)
	}
	postgres.Consistent(t, ledgers[0])
}

// TestExpiredUnswept: decisions and reads treat an expired transfer as
// voided before the sweep has voided it in the table; the sweep then does.
func TestExpiredUnswept(t *testing.T) {
	pool := database(t)
	l := open(t, pool, postgres.Options{SweepInterval: time.Hour})
	f := newFixture(t, l, 10)
	ctx := context.Background()
	w := ledger.Withdrawal{ID: uuid.New(), Account: f.source, Amount: 10, Timeout: 100 * time.Millisecond}
	if err := l.Withdraw(ctx, w); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	var state string
	if err := pool.QueryRow(ctx, `SELECT state FROM ledger_transfers WHERE id = $1`, w.ID).Scan(&state); err != nil || state != "PENDING" {
		t.Fatalf("stored state = %q, %v; want PENDING (not swept yet)", state, err)
	}
	if got, err := l.Balance(ctx, f.source.ID); err != nil || got != 10 {
		t.Fatalf("Balance = %d, %v; want 10", got, err)
	}
	// The expired withdrawal's 10 may be spent again, in one batch with
	// its own (refused) post.
	p, err := l.Transfer(ctx, ledger.TransferRequest{
		ID: uuid.New(), Source: f.source, Destination: f.destination, SourceAmount: 10, Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.PostWithdrawal(ctx, w.ID); !errors.Is(err, ledger.ErrTransferExpired) {
		t.Fatalf("PostWithdrawal = %v, want %v", err, ledger.ErrTransferExpired)
	}
	if err := l.Post(ctx, p); err != nil {
		t.Fatal(err)
	}
	postgres.Consistent(t, l)

	// A Ledger that must change nothing (rafiki ledger check's) leaves it.
	open(t, pool, postgres.Options{SweepInterval: 10 * time.Millisecond, NoSweep: true})
	time.Sleep(300 * time.Millisecond)
	if err := pool.QueryRow(ctx, `SELECT state FROM ledger_transfers WHERE id = $1`, w.ID).Scan(&state); err != nil || state != "PENDING" {
		t.Fatalf("stored state under a ledger that does not sweep = %q, %v; want PENDING", state, err)
	}

	// A Ledger with a short interval sweeps it.
	open(t, pool, postgres.Options{SweepInterval: 50 * time.Millisecond})
	testkit.Eventually(t, 5*time.Second, func() bool {
		var pending int64
		err := pool.QueryRow(ctx, `SELECT debits_pending FROM ledger_accounts WHERE id = $1`, f.source.ID).Scan(&pending)
		return err == nil && pending == 0
	}, "the sweep did not release the expired withdrawal")
	if err := pool.QueryRow(ctx, `SELECT state FROM ledger_transfers WHERE id = $1`, w.ID).Scan(&state); err != nil || state != "EXPIRED" {
		t.Fatalf("stored state = %q, %v; want EXPIRED", state, err)
	}
	if err := l.VoidWithdrawal(ctx, w.ID); !errors.Is(err, ledger.ErrTransferExpired) {
		t.Fatalf("VoidWithdrawal after the sweep = %v, want %v", err, ledger.ErrTransferExpired)
	}
	if got, err := l.Balance(ctx, f.destination.ID); err != nil || got != 10 {
		t.Fatalf("destination Balance = %d, %v; want 10", got, err)
	}
	postgres.Consistent(t, l)
}

// TestAccountsMustMatch: creating an account again with other properties
// fails, and creates nothing.
func TestAccountsMustMatch(t *testing.T) {
	pool := database(t)
	l := open(t, pool, postgres.Options{})
	ctx := context.Background()
	asset := uuid.New()
	if err := l.CreateAssetAccounts(ctx, asset, 7); err != nil {
		t.Fatal(err)
	}
	if err := l.CreateAssetAccounts(ctx, uuid.New(), 7); err == nil {
		t.Fatal("a second asset on ledger 7 was accepted")
	}
	a := ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: asset, Ledger: 7}
	if err := l.CreateLiquidityAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.Type = ledger.Outgoing
	if err := l.CreateLiquidityAccount(ctx, a); err == nil {
		t.Fatal("an account was created again with another type")
	}
	if err := l.CreateLiquidityAccount(ctx, ledger.Account{ID: uuid.New(), Type: ledger.Settlement, AssetID: asset, Ledger: 7}); err == nil {
		t.Fatal("a settlement account was created as a liquidity account")
	}
	// A deposit that names the wrong ledger for its account.
	err := l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: ledger.Account{ID: a.ID, AssetID: asset, Ledger: 8}, Amount: 1})
	if !errors.Is(err, ledger.ErrUnknownSourceAccount) {
		t.Fatalf("deposit from a ledger without settlement account = %v, want %v", err, ledger.ErrUnknownSourceAccount)
	}
	if err := l.CreateAssetAccounts(ctx, uuid.New(), 8); err != nil {
		t.Fatal(err)
	}
	err = l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: ledger.Account{ID: a.ID, AssetID: asset, Ledger: 8}, Amount: 1})
	if !errors.Is(err, ledger.ErrDifferentAssets) {
		t.Fatalf("deposit across ledgers = %v, want %v", err, ledger.ErrDifferentAssets)
	}
	postgres.Consistent(t, l)
}

// TestClose: writes after Close fail; reads still work.
func TestClose(t *testing.T) {
	pool := database(t)
	l := open(t, pool, postgres.Options{})
	f := newFixture(t, l, 10)
	l.Close()
	ctx := context.Background()
	err := l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: f.source, Amount: 1})
	if !errors.Is(err, postgres.ErrClosed) {
		t.Fatalf("Deposit after Close = %v, want %v", err, postgres.ErrClosed)
	}
	if got, err := l.Balance(ctx, f.source.ID); err != nil || got != 10 {
		t.Fatalf("Balance after Close = %d, %v", got, err)
	}
}

// TestCallerGivesUp: a caller whose context ends gets its error; the
// others in the batch are unaffected.
func TestCallerGivesUp(t *testing.T) {
	pool := database(t)
	l := open(t, pool, postgres.Options{})
	f := newFixture(t, l, 100)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	err := l.Deposit(cancelled, ledger.Deposit{ID: uuid.New(), Account: f.source, Amount: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Deposit with a cancelled context = %v", err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := l.Deposit(context.Background(), ledger.Deposit{ID: uuid.New(), Account: f.source, Amount: 1}); err != nil {
				t.Errorf("Deposit: %v", err)
			}
		})
	}
	wg.Wait()
	if got, err := l.Balance(context.Background(), f.source.ID); err != nil || got != 120 {
		t.Fatalf("Balance = %d, %v; want 120", got, err)
	}
	postgres.Consistent(t, l)
}

// TestFaultIsolation: when Postgres refuses a batch, only the request at
// fault fails. A trigger makes Postgres skip one account's update; the
// batch's check of what it wrote fails the transaction before its commit,
// and the requests are applied again one at a time.
func TestFaultIsolation(t *testing.T) {
	pool := database(t)
	l := open(t, pool, postgres.Options{})
	f := newFixture(t, l, 10)
	ctx := context.Background()
	accounts := make([]ledger.Account, 20)
	for i := range accounts {
		accounts[i] = ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: f.asset, Ledger: f.number}
		if err := l.CreateLiquidityAccount(ctx, accounts[i]); err != nil {
			t.Fatal(err)
		}
	}
	victim := accounts[7].ID
	_, err := pool.Exec(ctx, `
CREATE FUNCTION skip_victim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = '`+victim.String()+`' THEN RETURN NULL; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER skip_victim BEFORE UPDATE ON ledger_accounts FOR EACH ROW EXECUTE FUNCTION skip_victim();`)
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]error, len(accounts))
	var wg sync.WaitGroup
	for i, a := range accounts {
		wg.Go(func() { errs[i] = l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: a, Amount: 1}) })
	}
	wg.Wait()
	for i, a := range accounts {
		want := uint64(1)
		if a.ID == victim {
			if errs[i] == nil {
				t.Error("the deposit whose update Postgres skipped succeeded")
			}
			want = 0
		} else if errs[i] != nil {
			t.Errorf("deposit %d failed with the victim's: %v", i, errs[i])
		}
		if got, err := l.Balance(ctx, a.ID); err != nil || got != want {
			t.Errorf("Balance(%d) = %d, %v; want %d", i, got, err, want)
		}
	}
	if _, err := pool.Exec(ctx, `DROP TRIGGER skip_victim ON ledger_accounts`); err != nil {
		t.Fatal(err)
	}
	postgres.Consistent(t, l)
}

// TestCheckNamesDriftedAccounts corrupts one account's stored totals, as a
// bad write or a restore gone wrong would, and expects Check to name it.
func TestCheckNamesDriftedAccounts(t *testing.T) {
	pool := database(t)
	ctx := context.Background()
	l := open(t, pool, postgres.Options{})
	asset := uuid.New()
	if err := l.CreateAssetAccounts(ctx, asset, 9); err != nil {
		t.Fatal(err)
	}
	account := ledger.Account{ID: asset, Type: ledger.Asset, AssetID: asset, Ledger: 9}
	if err := l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: account, Amount: 100}); err != nil {
		t.Fatal(err)
	}
	if imbalances, err := l.Check(ctx); err != nil || len(imbalances) != 0 {
		t.Fatalf("healthy ledger: %v %v", imbalances, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = $1`, asset); err != nil {
		t.Fatal(err)
	}
	imbalances, err := l.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(imbalances) != 1 || imbalances[0].Ledger != 9 || len(imbalances[0].Accounts) != 1 || imbalances[0].Accounts[0] != asset {
		t.Fatalf("imbalances %+v, want ledger 9 naming account %s", imbalances, asset)
	}
}

// TestCheckNamesAccountsOfBrokenRows: rows that break the ledger's rules,
// written around it (the tables hold no CHECKs), are named by Check even
// where the totals add up.
func TestCheckNamesAccountsOfBrokenRows(t *testing.T) {
	tests := []struct {
		name  string
		sql   string // $1 and $2: two accounts of ledger 1
		named int    // how many of the two Check names
	}{
		{name: "transfer in an unknown state", named: 2, sql: `
INSERT INTO ledger_transfers (id, group_id, debit_account_id, credit_account_id, amount, ledger, code, state, timeout_ms, created_at)
VALUES (gen_random_uuid(), gen_random_uuid(), $1, $2, 5, 1, 1, 'LOST', 0, now())`},
		{name: "two-phase transfer without expiry", named: 2, sql: `
INSERT INTO ledger_transfers (id, group_id, debit_account_id, credit_account_id, amount, ledger, code, state, timeout_ms, created_at)
VALUES (gen_random_uuid(), gen_random_uuid(), $1, $2, 5, 1, 1, 'VOIDED', 1000, now())`},
		{name: "zero amount", named: 2, sql: `
INSERT INTO ledger_transfers (id, group_id, debit_account_id, credit_account_id, amount, ledger, code, state, timeout_ms, created_at)
VALUES (gen_random_uuid(), gen_random_uuid(), $1, $2, 0, 1, 1, 'POSTED', 0, now())`},
		{name: "liquidity account overdrawn, totals matching", named: 1, sql: `
WITH t AS (
    INSERT INTO ledger_transfers (id, group_id, debit_account_id, credit_account_id, amount, ledger, code, state, timeout_ms, created_at)
    VALUES (gen_random_uuid(), gen_random_uuid(), $1, $2, 1000, 1, 1, 'POSTED', 0, now()))
UPDATE ledger_accounts SET debits_posted = debits_posted + CASE WHEN id = $1 THEN 1000 ELSE 0 END,
                           credits_posted = credits_posted + CASE WHEN id = $2 THEN 1000 ELSE 0 END
WHERE id IN ($1, $2)`},
		{name: "account without a type", named: 1, sql: `
UPDATE ledger_accounts SET code = 0 WHERE id = $1 AND $2::uuid IS NOT NULL`},
		{name: "total moved past 64 bits", named: 1, sql: `
UPDATE ledger_accounts SET credits_posted = credits_posted + 18446744073709551616 WHERE id = $2 AND $1::uuid IS NOT NULL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := database(t)
			ctx := context.Background()
			l := open(t, pool, postgres.Options{})
			f := newFixture(t, l, 10)
			if imbalances, err := l.Check(ctx); err != nil || len(imbalances) != 0 {
				t.Fatalf("healthy ledger: %v %v", imbalances, err)
			}
			if _, err := pool.Exec(ctx, tt.sql, f.source.ID, f.destination.ID); err != nil {
				t.Fatal(err)
			}
			imbalances, err := l.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(imbalances) != 1 || len(imbalances[0].Accounts) != tt.named {
				t.Fatalf("imbalances %+v, want %d of the accounts named", imbalances, tt.named)
			}
		})
	}
}
