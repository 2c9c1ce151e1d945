// Package ledgertest is the contract every ledger.Ledger passes: Rafiki's
// accounting behaviour (its accounting service tests), concurrency, expiry
// and recovery. It uses only the ledger interface, so that every backend
// runs the same suite:
//
//	ledgertest.Run(t, func(t *testing.T) ledger.Ledger { ... })
//
// open is called once per subtest (more for the crash test). It may return
// a ledger on a fresh store or on one shared with other subtests: every
// subtest makes its own assets, with random ids and ledger numbers. Subtests
// run in parallel. The ledger must stay usable until the test's cleanups,
// which check conservation before closing it.
package ledgertest

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
)

// Reopener is a ledger whose store a second instance can open, as a
// restarted process would. The crash subtest needs it and is skipped for a
// ledger that is not one.
type Reopener interface {
	// Reopen opens another ledger on the same store; the test closes it.
	Reopen(t *testing.T) ledger.Ledger
}

// Timeouts: long enough that nothing expires during a subtest, and short
// enough to wait for. TigerBeetle counts timeouts in whole seconds.
const (
	timeoutLong  = 60 * time.Second
	timeoutShort = 1 * time.Second
	// expiryWait is how long after creating a transfer with timeoutShort a
	// subtest waits before it treats it as expired.
	expiryWait = timeoutShort + 500*time.Millisecond
	// recoveryWaitMax bounds the wait for an expired transfer's money to be
	// back after a restart.
	recoveryWaitMax = 10 * time.Second
	callTimeout     = 30 * time.Second
)

// Run runs the contract suite; open returns the ledger to test.
func Run(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	tests := []struct {
		name string
		run  func(t *testing.T, open func(t *testing.T) ledger.Ledger)
	}{
		{"Accounts", testAccounts},
		{"Deposit", testDeposit},
		{"Open", testOpen},
		{"Withdraw", testWithdraw},
		{"SettleWithdrawal", testSettleWithdrawal},
		{"LifetimeTotals", testLifetimeTotals},
		{"Transfer", testTransfer},
		{"TransferErrors", testTransferErrors},
		{"TransferRetry", testTransferRetry},
		{"TransferWithoutTimeout", testTransferWithoutTimeout},
		{"AccountTransfers", testAccountTransfers},
		{"Expiry", testExpiry},
		{"ConcurrentTransfers", testConcurrentTransfers},
		{"Crash", testCrash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open)
		})
	}
}

// env is one subtest's ledger and helpers that fail the test on error.
type env struct {
	t   *testing.T
	l   ledger.Ledger
	ctx context.Context
}

// setup opens a ledger whose conservation is checked when the test ends.
func setup(t *testing.T, open func(t *testing.T) ledger.Ledger) env {
	t.Helper()
	l := open(t)
	t.Cleanup(func() { conserved(t, l) })
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout*4)
	t.Cleanup(cancel)
	return env{t: t, l: l, ctx: ctx}
}

// conserved fails the test when a ledger's debits and credits differ.
func conserved(t *testing.T, l ledger.Ledger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	imbalances, err := l.Check(ctx)
	if err != nil {
		t.Errorf("Check: %v", err)
		return
	}
	for _, i := range imbalances {
		t.Errorf("ledger %d is not balanced: debits %d, credits %d", i.Ledger, i.Debits, i.Credits)
	}
}

// asset is an asset's liquidity account id and ledger number.
type asset struct {
	id     uuid.UUID
	ledger uint32
}

func (a asset) liquidity() ledger.Account {
	return ledger.Account{ID: a.id, Type: ledger.Asset, AssetID: a.id, Ledger: a.ledger}
}

// newAsset creates an asset's accounts on a random ledger: stores may be
// shared, so ledger numbers must not collide with other subtests or runs.
func (e env) newAsset() asset {
	e.t.Helper()
	a := asset{id: uuid.New(), ledger: 1<<20 + rand.Uint32N(math.MaxUint32-1<<20)}
	if err := e.l.CreateAssetAccounts(e.ctx, a.id, a.ledger); err != nil {
		e.t.Fatalf("CreateAssetAccounts: %v", err)
	}
	return a
}

// newAccount creates a peer liquidity account of the asset.
func (e env) newAccount(a asset) ledger.Account {
	e.t.Helper()
	acc := ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: a.id, Ledger: a.ledger}
	if err := e.l.CreateLiquidityAccount(e.ctx, acc); err != nil {
		e.t.Fatalf("CreateLiquidityAccount: %v", err)
	}
	return acc
}

func (e env) deposit(acc ledger.Account, amount uint64) {
	e.t.Helper()
	if err := e.l.Deposit(e.ctx, ledger.Deposit{ID: uuid.New(), Account: acc, Amount: amount}); err != nil {
		e.t.Fatalf("Deposit %d into %s: %v", amount, acc.ID, err)
	}
}

func (e env) wantBalance(id uuid.UUID, want uint64) {
	e.t.Helper()
	got, err := e.l.Balance(e.ctx, id)
	if err != nil {
		e.t.Fatalf("Balance(%s): %v", id, err)
	}
	if got != want {
		e.t.Errorf("Balance(%s) = %d, want %d", id, got, want)
	}
}

func (e env) wantSettlement(number uint32, want uint64) {
	e.t.Helper()
	got, err := e.l.SettlementBalance(e.ctx, number)
	if err != nil {
		e.t.Fatalf("SettlementBalance(%d): %v", number, err)
	}
	if got != want {
		e.t.Errorf("SettlementBalance(%d) = %d, want %d", number, got, want)
	}
}

func (e env) wantTotals(id uuid.UUID, sent, received uint64) {
	e.t.Helper()
	gotSent, err := e.l.TotalSent(e.ctx, id)
	if err != nil {
		e.t.Fatalf("TotalSent(%s): %v", id, err)
	}
	gotReceived, err := e.l.TotalReceived(e.ctx, id)
	if err != nil {
		e.t.Fatalf("TotalReceived(%s): %v", id, err)
	}
	if gotSent != sent || gotReceived != received {
		e.t.Errorf("account %s sent %d and received %d, want %d and %d", id, gotSent, gotReceived, sent, received)
	}
}

// wantErr fails the test unless err is want (nil: no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}
