package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/testkit"
)

// openLedger starts a Ledger on a fresh, migrated database.
func openLedger(tb testing.TB) *Ledger {
	tb.Helper()
	url := testkit.NewDatabase(tb)
	if err := migrations.Up(url); err != nil {
		tb.Fatal(err)
	}
	l, err := New(context.Background(), testkit.Pool(tb, url), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(l.Close)
	return l
}

// funded creates an asset and n accounts holding 1,000 each.
func funded(t *testing.T, l *Ledger, n int) []ledger.Account {
	t.Helper()
	ctx := context.Background()
	asset := uuid.New()
	if err := l.CreateAssetAccounts(ctx, asset, 1); err != nil {
		t.Fatal(err)
	}
	accounts := make([]ledger.Account, n)
	for i := range accounts {
		accounts[i] = ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: asset, Ledger: 1}
		if err := l.CreateLiquidityAccount(ctx, accounts[i]); err != nil {
			t.Fatal(err)
		}
		if err := l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: accounts[i], Amount: 1_000}); err != nil {
			t.Fatal(err)
		}
	}
	return accounts
}

// TestSettleWhereLegsAreRememberedWrong: a batch locks the accounts of the
// transfers it settles as the Ledger remembers them. Remembered wrong, the
// batch must find out before deciding, and run again with the accounts
// from the table.
func TestSettleWhereLegsAreRememberedWrong(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 4)
	p, err := l.Transfer(ctx, ledger.TransferRequest{ID: uuid.New(), Source: a[0], Destination: a[1], SourceAmount: 10, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	l.legs.mu.Lock()
	l.legs.byLeg[p.Legs[0]] = [2]uuid.UUID{a[2].ID, a[3].ID}
	l.legs.mu.Unlock()
	if err := l.Post(ctx, p); err != nil {
		t.Fatalf("Post: %v", err)
	}
	for i, want := range []uint64{990, 1_010, 1_000, 1_000} {
		if got, err := l.Balance(ctx, a[i].ID); err != nil || got != want {
			t.Errorf("Balance(%d) = %d, %v; want %d", i, got, err, want)
		}
	}
}

// TestReusedIDInABatch: a batch does not look up whether its new ids exist;
// the insert finds out, and the batch runs again. The others in the batch
// go through; only the reused id fails, as existing.
func TestReusedIDInABatch(t *testing.T) {
	l := openLedger(t)
	ctx := context.Background()
	a := funded(t, l, 2)
	reused := uuid.New()
	if _, err := l.Transfer(ctx, ledger.TransferRequest{ID: reused, Source: a[0], Destination: a[1], SourceAmount: 1}); err != nil {
		t.Fatal(err)
	}
	ops := []*operation{}
	for i := range 10 {
		id := uuid.New()
		if i == 5 {
			id = reused
		}
		op, err := transferOperation(ledger.TransferRequest{ID: id, Source: a[0], Destination: a[1], SourceAmount: 1, Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	errs, err := l.run(ctx, ops)
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if want := i == 5; errors.Is(err, ledger.ErrTransferExists) != want || (!want && err != nil) {
			t.Errorf("transfer %d: %v", i, err)
		}
	}
	if got, err := l.Balance(ctx, a[0].ID); err != nil || got != 1_000-1-9 {
		t.Errorf("Balance = %d, %v; want %d", got, err, 1_000-1-9)
	}
}

// TestKnownAccountsAreBounded: the accounts a Ledger remembers as existing
// are forgotten all at once when there would be too many.
func TestKnownAccountsAreBounded(t *testing.T) {
	k := knownAccounts{ids: map[uuid.UUID]struct{}{}}
	first := uuid.New()
	k.add(&snapshot{known: map[uuid.UUID]bool{first: true}})
	known := map[uuid.UUID]bool{}
	other := uuid.New()
	if unknown := k.filter([]uuid.UUID{first, other}, known); len(unknown) != 1 || unknown[0] != other || !known[first] {
		t.Fatalf("filter = %v, known %v", unknown, known)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			snap := &snapshot{known: map[uuid.UUID]bool{}}
			for range knownAccountsMax / 3 {
				snap.known[uuid.New()] = true
			}
			k.add(snap)
		})
	}
	wg.Wait()
	if n := len(k.ids); n > knownAccountsMax {
		t.Fatalf("%d accounts remembered, at most %d", n, knownAccountsMax)
	}
}
