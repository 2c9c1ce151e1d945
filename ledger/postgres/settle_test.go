package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
)

// wantBalances checks the balances of the first accounts.
func wantBalances(t *testing.T, l *Ledger, a []ledger.Account, want ...uint64) {
	t.Helper()
	for i, w := range want {
		if got, err := l.Balance(context.Background(), a[i].ID); err != nil || got != w {
			t.Errorf("Balance(%d) = %d, %v; want %d", i, got, err, w)
		}
	}
}

// wantTotalsMatchTransfers checks what the contract cannot see: every
// account's stored totals are the sums of its transfers (counting expired
// unswept ones as pending), and Check finds no imbalance.
func wantTotalsMatchTransfers(t *testing.T, l *Ledger) {
	t.Helper()
	ctx := context.Background()
	if imb, err := l.Check(ctx); err != nil || len(imb) > 0 {
		t.Errorf("Check = %v, %v", imb, err)
	}
	var wrong int
	if err := l.pool.QueryRow(ctx, `
WITH sums AS (
  SELECT a.id,
         a.debits_pending  - COALESCE(sum(t.amount) FILTER (WHERE t.debit_account_id = a.id AND t.state = 'PENDING'), 0) AS dp,
         a.debits_posted   - COALESCE(sum(t.amount) FILTER (WHERE t.debit_account_id = a.id AND t.state = 'POSTED'), 0) AS dpo,
         a.credits_pending - COALESCE(sum(t.amount) FILTER (WHERE t.credit_account_id = a.id AND t.state = 'PENDING'), 0) AS cp,
         a.credits_posted  - COALESCE(sum(t.amount) FILTER (WHERE t.credit_account_id = a.id AND t.state = 'POSTED'), 0) AS cpo
  FROM ledger_accounts a
  LEFT JOIN ledger_transfers t ON t.debit_account_id = a.id OR t.credit_account_id = a.id
  GROUP BY a.id)
SELECT count(*) FROM sums WHERE dp <> 0 OR dpo <> 0 OR cp <> 0 OR cpo <> 0`).Scan(&wrong); err != nil {
		t.Fatal(err)
	}
	if wrong > 0 {
		t.Errorf("%d accounts' totals differ from their transfers", wrong)
	}
}

func withdrawOp(id uuid.UUID, a ledger.Account, amount uint64, timeout time.Duration) *operation {
	s := ledger.SettlementID(a.Ledger)
	return &operation{kind: kindCreate, legs: []leg{{id: id, group: id, debit: a.ID, credit: s, amount: amount,
		ledger: a.Ledger, code: ledger.TypeWithdrawal, timeout: timeout}},
		sourceIDs: []uuid.UUID{a.ID}, destinationIDs: []uuid.UUID{s}}
}

func settleOp(k kind, id uuid.UUID) *operation {
	return &operation{kind: k, ids: []uuid.UUID{id}, group: id}
}

// A batch that creates and settles one transfer, in both orders, and one
// that reuses a remembered id while settling it.
func TestCreateAndSettleInOneBatch(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 2)
	x, y := uuid.New(), uuid.New()
	errs, err := l.run(ctx, []*operation{withdrawOp(x, a[0], 10, time.Minute), settleOp(kindPost, x), settleOp(kindPost, y), withdrawOp(y, a[1], 20, time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ledger.ErrUnknownTransfer) || errs[3] != nil {
		t.Fatalf("errs = %v", errs)
	}
	l.legs.remember([]*operation{withdrawOp(y, a[1], 20, time.Minute)}, []error{nil})
	wantBalances(t, l, a, 990, 980)
	// y is remembered: the listed lock. Reuse y (other account) and void it.
	errs, err = l.run(ctx, []*operation{withdrawOp(y, a[0], 1, time.Minute), settleOp(kindVoid, y)})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(errs[0], ledger.ErrTransferExists) || errs[1] != nil {
		t.Fatalf("errs = %v", errs)
	}
	wantBalances(t, l, a, 990, 1_000)
	wantTotalsMatchTransfers(t, l)
}

// A reused id and legs remembered wrong in one batch: three attempts
// (listed lock fails; insert fails; both lookups) must be enough.
func TestReusedIDAndLegsRememberedWrong(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 4)
	p, err := l.Transfer(ctx, ledger.TransferRequest{ID: uuid.New(), Source: a[0], Destination: a[1], SourceAmount: 10, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	reused := uuid.New()
	if err := l.Withdraw(ctx, ledger.Withdrawal{ID: reused, Account: a[2], Amount: 5}); err != nil {
		t.Fatal(err)
	}
	l.legs.mu.Lock()
	l.legs.byLeg[p.Legs[0]] = [2]uuid.UUID{a[2].ID, a[3].ID}
	l.legs.mu.Unlock()
	errs, err := l.run(ctx, []*operation{
		{kind: kindPost, ids: p.Legs, group: p.ID},
		withdrawOp(reused, a[3], 1, 0),
		withdrawOp(uuid.New(), a[3], 7, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], ledger.ErrTransferExists) || errs[2] != nil {
		t.Fatalf("errs = %v", errs)
	}
	wantBalances(t, l, a, 990, 1_010, 995, 993)
	wantTotalsMatchTransfers(t, l)
}

// The sweep's expire op on the listed lock, with legs remembered wrong:
// it must find out and expire under the right locks.
func TestExpireWithLegsRememberedWrong(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 3)
	ids := []uuid.UUID{uuid.New(), uuid.New()}
	for i, id := range ids {
		if err := l.Withdraw(ctx, ledger.Withdrawal{ID: id, Account: a[i], Amount: 100, Timeout: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	l.legs.mu.Lock()
	l.legs.byLeg[ids[1]] = [2]uuid.UUID{a[2].ID, ledger.SettlementID(1)}
	l.legs.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	if _, err := l.run(ctx, []*operation{{kind: kindExpire, ids: ids}}); err != nil {
		t.Fatal(err)
	}
	var pending int
	if err := l.pool.QueryRow(ctx, `SELECT count(*) FROM ledger_transfers WHERE state = 'PENDING'`).Scan(&pending); err != nil || pending != 0 {
		t.Fatalf("pending = %d, %v", pending, err)
	}
	wantBalances(t, l, a, 1_000, 1_000, 1_000)
	wantTotalsMatchTransfers(t, l)
}

// A settle op for a transfer that another process commits while this
// batch waits in its lock statement: the lock statement did not see the
// transfer, so its accounts are not locked, yet the next statement reads
// it. The batch must find out before deciding and run again, not fail as
// a whole (the unrelated withdrawal with it).
func TestSettleOfTransferCommittedDuringLock(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 3)
	x := uuid.New()

	// Another process's batch: it holds a[0] (another of its legs) and
	// creates x from a[1] to a[2].
	other := otherInsert(t, l, x, a[1], a[2], 5, true, a[0])

	type result struct {
		errs []error
		err  error
	}
	done := make(chan result, 1)
	z := uuid.New()
	go func() {
		// This process: a withdrawal from a[0] and a post of x, whose
		// legs it does not remember (table lock).
		errs, err := l.run(ctx, []*operation{withdrawOp(z, a[0], 1, 0), settleOp(kindPost, x)})
		done <- result{errs, err}
	}()
	time.Sleep(300 * time.Millisecond) // the batch waits for a[0]
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("batch failed as a whole: %v", r.err)
	}
	if r.errs[0] != nil {
		t.Errorf("withdrawal: %v", r.errs[0])
	}
	t.Logf("post of x: %v", r.errs[1])
	wantBalances(t, l, []ledger.Account{a[0]}, 999)
	wantTotalsMatchTransfers(t, l)
}
