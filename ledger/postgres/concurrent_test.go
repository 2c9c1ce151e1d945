package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rafiki-go/rafiki/ledger"
)

// otherInsert is another process's batch, uncommitted: it holds the locks
// of its accounts and of alsoLocked, and has inserted a transfer id from
// debit to credit, pending for a minute or posted.
func otherInsert(t *testing.T, l *Ledger, id uuid.UUID, debit, credit ledger.Account, amount int64, pending bool, alsoLocked ...ledger.Account) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	locked := []uuid.UUID{debit.ID, credit.ID}
	for _, a := range alsoLocked {
		locked = append(locked, a.ID)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM ledger_accounts WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`, raws(locked)); err != nil {
		t.Fatal(err)
	}
	state, timeoutMs, debits, credits := "POSTED", 0, "debits_posted", "credits_posted"
	if pending {
		state, timeoutMs, debits, credits = "PENDING", 60_000, "debits_pending", "credits_pending"
	}
	if _, err := tx.Exec(ctx, `
INSERT INTO ledger_transfers (id, group_id, debit_account_id, credit_account_id, amount, ledger, code, state, timeout_ms, created_at, expires_at)
VALUES ($1, $1, $2, $3, $4, 1, 1, $5, $6::bigint, now(), CASE WHEN $6::bigint > 0 THEN now() + $6::bigint * interval '1 millisecond' END)`,
		raw(&id), raw(&debit.ID), raw(&credit.ID), amount, state, timeoutMs); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE ledger_accounts SET `+debits+` = `+debits+` + $2 WHERE id = $1`, raw(&debit.ID), amount); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE ledger_accounts SET `+credits+` = `+credits+` + $2 WHERE id = $1`, raw(&credit.ID), amount); err != nil {
		t.Fatal(err)
	}
	return tx
}

type runResult struct {
	errs []error
	err  error
	took time.Duration
}

func runAsync(ctx context.Context, l *Ledger, ops ...*operation) chan runResult {
	done := make(chan runResult, 1)
	go func() {
		start := time.Now()
		errs, err := l.run(ctx, ops)
		if err == nil {
			l.legs.remember(ops, errs)
		}
		done <- runResult{errs, err, time.Since(start)}
	}()
	return done
}

// A refused create whose id another transaction is inserting, uncommitted,
// on other accounts: the lookup neither blocks nor sees it, and answers the
// refusal, as the looked-up path does (that transaction is ordered after
// this one). Once it commits, the same create is existing.
func TestRefusedWhileOtherInsertsUncommitted(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 4)
	x := uuid.New()
	other := otherInsert(t, l, x, a[2], a[3], 5, false)
	r := <-runAsync(ctx, l, withdrawOp(x, a[0], 5_000, 0))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.took > 2*time.Second {
		t.Errorf("refused create waited %s for the uncommitted insert", r.took)
	}
	wantErrs(t, "first attempt", r.errs, ledger.ErrInsufficientBalance)
	wantErrs(t, "looked up", referenceDecisions(t, l, []*operation{withdrawOp(x, a[0], 5_000, 0)}), ledger.ErrInsufficientBalance)
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r = <-runAsync(ctx, l, withdrawOp(x, a[0], 5_000, 0))
	if r.err != nil {
		t.Fatal(r.err)
	}
	wantErrs(t, "after the commit", r.errs, ledger.ErrTransferExists)
	wantBalances(t, l, a, 1_000, 1_000, 995, 1_005)
	wantTotalsMatchTransfers(t, l)
}

// An allowed create whose id another transaction is inserting: the insert
// waits for it; committed, the batch runs again and answers existing (the
// rest of the batch applied once); rolled back, the create goes through.
func TestAllowedWhileOtherInsertsUncommitted(t *testing.T) {
	for _, commit := range []bool{true, false} {
		t.Run(map[bool]string{true: "commit", false: "rollback"}[commit], func(t *testing.T) {
			l := openLedger(t)
			ctx := context.Background()
			a := funded(t, l, 4)
			x := uuid.New()
			other := otherInsert(t, l, x, a[2], a[3], 5, false)
			done := runAsync(ctx, l, withdrawOp(x, a[0], 1, 0), withdrawOp(uuid.New(), a[1], 7, 0), withdrawOp(uuid.New(), a[0], 5_000, 0))
			time.Sleep(300 * time.Millisecond)
			select {
			case r := <-done:
				t.Fatalf("batch did not wait for the uncommitted insert: %v %v", r.errs, r.err)
			default:
			}
			var err error
			if commit {
				err = other.Commit(ctx)
			} else {
				err = other.Rollback(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			if commit {
				wantErrs(t, "batch", r.errs, ledger.ErrTransferExists, nil, ledger.ErrInsufficientBalance)
				wantBalances(t, l, a, 1_000, 993, 995, 1_005)
			} else {
				wantErrs(t, "batch", r.errs, nil, nil, ledger.ErrInsufficientBalance)
				wantBalances(t, l, a, 999, 993, 1_000, 1_000)
			}
			wantTotalsMatchTransfers(t, l)
		})
	}
}

// The lookup fails in Postgres (a deadlock: another transaction holds the
// transfers table and then wants an account this batch locked). The
// transaction is rolled back and the batch runs again: the right answers,
// the allowed withdrawal applied exactly once.
func TestLookupDeadlock(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 3)
	x := uuid.New()
	if err := l.Withdraw(ctx, ledger.Withdrawal{ID: x, Account: a[2], Amount: 1}); err != nil {
		t.Fatal(err)
	}
	other, err := l.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	if _, err := other.Exec(ctx, `LOCK TABLE ledger_transfers IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	z := uuid.New()
	done := runAsync(ctx, l, withdrawOp(x, a[0], 5_000, 0), withdrawOp(z, a[1], 7, 0))
	time.Sleep(200 * time.Millisecond) // the batch holds a[0] and waits in the lookup
	_, otherErr := other.Exec(ctx, `SELECT 1 FROM ledger_accounts WHERE id = $1 FOR NO KEY UPDATE`, raw(&a[0].ID))
	var pgErr *pgconn.PgError
	switch {
	case otherErr == nil:
		t.Log("the batch's lookup was the deadlock victim")
		time.Sleep(200 * time.Millisecond)
		if err := other.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	case errors.As(otherErr, &pgErr) && pgErr.Code == "40P01":
		t.Log("the other transaction was the deadlock victim")
		_ = other.Rollback(ctx)
	default:
		t.Fatal(otherErr)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("batch failed: %v", r.err)
	}
	wantErrs(t, "batch", r.errs, ledger.ErrTransferExists, nil)
	wantBalances(t, l, a, 1_000, 993, 999)
	wantTotalsMatchTransfers(t, l)
}

// The lookup fails for good (the caller's deadline, while the transfers
// table is locked): the batch fails as a whole, nothing of it is written,
// and the connection goes back usable.
func TestLookupFailsNothingWritten(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 2)
	other, err := l.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	if _, err := other.Exec(ctx, `LOCK TABLE ledger_transfers IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	z := uuid.New()
	r := <-runAsync(short, l, withdrawOp(uuid.New(), a[0], 5_000, 0), withdrawOp(z, a[1], 7, 0))
	if r.err == nil {
		t.Fatalf("batch answered %v while its lookup could not run", r.errs)
	}
	t.Logf("batch error: %v", r.err)
	if err := other.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wantBalances(t, l, a, 1_000, 1_000)
	// z was not written: it goes through now.
	for range 5 { // every pooled connection
		if err := l.Withdraw(ctx, ledger.Withdrawal{ID: uuid.New(), Account: a[0], Amount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Withdraw(ctx, ledger.Withdrawal{ID: z, Account: a[1], Amount: 7}); err != nil {
		t.Fatalf("z after the failed batch: %v", err)
	}
	wantBalances(t, l, a, 995, 993)
	wantTotalsMatchTransfers(t, l)
}

// A refused create whose id another process commits while this batch
// waits for its locks: the lookup (a later statement) sees it.
func TestRefusedIDCommittedDuringLock(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 3)
	x := uuid.New()
	// The other process's batch holds a[0] too.
	other := otherInsert(t, l, x, a[1], a[2], 5, false, a[0])
	done := runAsync(ctx, l, withdrawOp(x, a[0], 5_000, 0), withdrawOp(uuid.New(), a[0], 1, 0))
	time.Sleep(300 * time.Millisecond)
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	wantErrs(t, "batch", r.errs, ledger.ErrTransferExists, nil)
	wantBalances(t, l, a, 999, 995, 1_005)
	wantTotalsMatchTransfers(t, l)
}

// An account another transaction inserts while the creation runs: the
// creation waits for it, and when it commits the same account, succeeds;
// when it commits another account under the id, fails.
func TestAccountCreatedDuringCreation(t *testing.T) {
	for _, same := range []bool{true, false} {
		t.Run(map[bool]string{true: "same", false: "different"}[same], func(t *testing.T) {
			l := openLedger(t)
			ctx := context.Background()
			a := funded(t, l, 1)
			acc := ledger.Account{ID: uuid.New(), Type: ledger.Outgoing, AssetID: a[0].AssetID, Ledger: a[0].Ledger}
			code := int32(acc.Type)
			if !same {
				code = int32(ledger.Incoming)
			}
			tx, err := l.pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
			if _, err := tx.Exec(ctx, `INSERT INTO ledger_accounts (id, ledger, code, flags, asset_id) VALUES ($1, $2, $3, $4, $5)`,
				raw(&acc.ID), int64(acc.Ledger), code, int32(flagDebitsMustNotExceedCredits), raw(&acc.AssetID)); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- l.CreateLiquidityAccount(ctx, acc) }()
			time.Sleep(200 * time.Millisecond)
			select {
			case err := <-done:
				t.Fatalf("the creation did not wait for the uncommitted insert: %v", err)
			default:
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			err = <-done
			if same && err != nil {
				t.Fatalf("the same account made meanwhile: %v", err)
			}
			if !same && err == nil {
				t.Fatal("another account made meanwhile under the id: no error")
			}
		})
	}
}
