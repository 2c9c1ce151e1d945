package postgres

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
)

// Two settles set aside (legs remembered wrong, listed lock); one meets a
// corrupt row, so their run on their own fails as a whole. As with any
// batch, they are then run one at a time, and only the one at fault fails.
func TestSetAsideSubBatchFailureIsolated(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 4)
	p1, p2 := uuid.New(), uuid.New()
	for i, id := range []uuid.UUID{p1, p2} {
		if err := l.Withdraw(ctx, ledger.Withdrawal{ID: id, Account: a[i], Amount: 10, Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	l.legs.mu.Lock()
	l.legs.byLeg[p1] = [2]uuid.UUID{a[2].ID, a[3].ID}
	l.legs.byLeg[p2] = [2]uuid.UUID{a[2].ID, a[3].ID}
	l.legs.mu.Unlock()
	if _, err := l.pool.Exec(ctx, `UPDATE ledger_transfers SET state = 'WEIRD' WHERE id = $1`, raw(&p2)); err != nil {
		t.Fatal(err)
	}
	r1 := &request{ctx: ctx, op: settleOp(kindPost, p1), done: make(chan error, 1)}
	r2 := &request{ctx: ctx, op: settleOp(kindPost, p2), done: make(chan error, 1)}
	r3 := &request{ctx: ctx, op: withdrawOp(uuid.New(), a[3], 1, 0), done: make(chan error, 1)}
	l.apply([]*request{r1, r2, r3})
	e1, e2, e3 := <-r1.done, <-r2.done, <-r3.done
	t.Logf("post p1: %v; post p2 (corrupt): %v; withdrawal: %v", e1, e2, e3)
	if !errors.Is(e2, errInvariant) {
		t.Errorf("post of corrupt p2 = %v, want errInvariant", e2)
	}
	if e1 != nil {
		t.Errorf("post of healthy p1 = %v, want nil (only the request at fault should fail)", e1)
	}
}

// Create x and post x in one batch while another process commits x (other
// accounts) during the lock wait: the post is set aside, the create must
// fail as existing and nothing be applied twice.
func TestCreateAndSetAsideSettleSameID(t *testing.T) {
	for _, postFirst := range []bool{false, true} {
		l := openLedger(t)
		ctx := context.Background()
		a := funded(t, l, 3)
		x := uuid.New()
		other := otherInsert(t, l, x, a[1], a[2], 5, true, a[0])
		ops := []*operation{withdrawOp(x, a[0], 7, time.Minute), settleOp(kindPost, x)}
		if postFirst {
			ops[0], ops[1] = ops[1], ops[0]
		}
		done := runAsync(ctx, l, ops...)
		time.Sleep(300 * time.Millisecond)
		if err := other.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Logf("postFirst=%v errs=%v", postFirst, r.errs)
		ci, pi := 0, 1
		if postFirst {
			ci, pi = 1, 0
		}
		if !errors.Is(r.errs[ci], ledger.ErrTransferExists) {
			t.Errorf("create = %v, want exists", r.errs[ci])
		}
		_ = pi
		wantBalances(t, l, []ledger.Account{a[0]}, 1_000)
		wantTotalsMatchTransfers(t, l)
	}
}

// Check under concurrent batches spending money of pending transfers as
// they expire: it must report nothing on a healthy ledger.
func TestCheckLimitNoFalsePositive(t *testing.T) {
	l := openLedger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	a := funded(t, l, 3)
	var wg sync.WaitGroup
	var stop atomic.Bool
	var created atomic.Int64
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for !stop.Load() {
				acc := a[g%len(a)]
				timeout := time.Duration(1+g%5) * time.Millisecond
				if g%3 == 0 {
					timeout = 0
				}
				amt := uint64(300 + g*13)
				if err := l.Withdraw(ctx, ledger.Withdrawal{ID: uuid.New(), Account: acc, Amount: amt, Timeout: timeout}); err == nil {
					created.Add(1)
					if timeout == 0 {
						_ = l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: acc, Amount: amt})
					}
				}
			}
		}(g)
	}
	var fails int
	deadline := time.Now().Add(5 * time.Second)
	checks := 0
	for time.Now().Before(deadline) {
		imb, err := l.Check(context.Background())
		checks++
		if err != nil {
			t.Fatal(err)
		}
		if len(imb) > 0 {
			fails++
			if fails < 4 {
				t.Errorf("Check = %+v", imb)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("checks %d, false reports %d, created %d", checks, fails, created.Load())
	if imb, err := l.Check(context.Background()); err != nil || len(imb) > 0 {
		t.Errorf("final Check = %v, %v", imb, err)
	}
}
