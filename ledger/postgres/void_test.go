package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
)

// A batch that creates a pending transfer and voids it inserts it voided,
// as one that creates and posts it inserts it posted
// (TestCreateAndSettleInOneBatch); the requests beside them are unaffected.
func TestCreateAndVoidInOneBatch(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 2)
	x, z := uuid.New(), uuid.New()
	errs, err := l.run(ctx, []*operation{
		withdrawOp(x, a[0], 10, time.Minute),
		settleOp(kindVoid, x),
		withdrawOp(z, a[1], 1, 0), // unrelated
	})
	if err != nil {
		t.Fatalf("batch failed as a whole: %v (errInvariant: %v)", err, errors.Is(err, errInvariant))
	}
	wantErrs(t, "batch", errs, nil, nil, nil)
	wantBalances(t, l, a, 1_000, 999)
	wantTotalsMatchTransfers(t, l)
}

// The same through the public API: a caller whose Transfer timed out (its
// context ended) voids it at once, as Rafiki does: the two may share a
// batch, with unrelated withdrawals beside them.
func TestCreateAndVoidThroughAPI(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 4)
	var failed [3]int // transfer, void, unrelated withdrawal
	var first error
	for range 200 {
		id := uuid.New()
		req := ledger.TransferRequest{ID: id, Source: a[0], Destination: a[1], SourceAmount: 1, Timeout: time.Minute}
		op := mustTransferOp(t, req)
		p := ledger.PendingTransfer{ID: id, Legs: []uuid.UUID{op.legs[0].id}}
		var results [3]chan error
		for i := range results {
			results[i] = make(chan error, 1)
		}
		go func() { _, err := l.Transfer(ctx, req); results[0] <- err }()
		go func() {
			err := l.Void(ctx, p)
			if errors.Is(err, ledger.ErrUnknownTransfer) {
				err = nil // ran before the transfer: fine
			}
			results[1] <- err
		}()
		go func() {
			results[2] <- l.Withdraw(ctx, ledger.Withdrawal{ID: uuid.New(), Account: a[2], Amount: 1})
		}()
		for i, c := range results {
			if err := <-c; err != nil {
				failed[i]++
				if first == nil {
					first = err
				}
			}
		}
	}
	if failed != [3]int{} {
		t.Errorf("of 200 each, failed: %d transfers, %d voids, %d unrelated withdrawals; first: %v", failed[0], failed[1], failed[2], first)
	}
}

// TestInvariantIsolation: a request that meets a state the ledger never
// writes (a transfer row in an unknown state, written around the ledger)
// fails with errInvariant alone; the requests in its batch go through.
func TestInvariantIsolation(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 3)
	corrupt := uuid.New()
	if _, err := l.pool.Exec(ctx, `
INSERT INTO ledger_transfers (id, group_id, debit_account_id, credit_account_id, amount, ledger, code, state, timeout_ms, created_at, expires_at)
VALUES ($1, $1, $2, $3, 5, 1, 1, 'LOST', 60000, now(), now() + interval '1 minute')`, raw(&corrupt), raw(&a[0].ID), raw(&a[1].ID)); err != nil {
		t.Fatal(err)
	}
	requests := []*request{
		{ctx: ctx, op: withdrawOp(uuid.New(), a[2], 1, 0), done: make(chan error, 1)},
		{ctx: ctx, op: settleOp(kindPost, corrupt), done: make(chan error, 1)},
		{ctx: ctx, op: withdrawOp(uuid.New(), a[0], 2, 0), done: make(chan error, 1)},
	}
	l.apply(requests)
	for i, r := range requests {
		err := <-r.done
		if want := i == 1; errors.Is(err, errInvariant) != want || (!want && err != nil) {
			t.Errorf("request %d: %v", i, err)
		}
	}
	wantBalances(t, l, a, 998, 1_000, 999)
}
