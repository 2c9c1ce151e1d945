package ledgertest

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
)

func testAccounts(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	e := setup(t, open)
	a := e.newAsset()
	wantErr(t, "CreateAssetAccounts again", e.l.CreateAssetAccounts(e.ctx, a.id, a.ledger), nil)
	acc := e.newAccount(a)
	wantErr(t, "CreateLiquidityAccount again", e.l.CreateLiquidityAccount(e.ctx, acc), nil)
	if err := e.l.CreateLiquidityAccount(e.ctx, ledger.Account{ID: acc.ID, Type: ledger.Incoming, AssetID: a.id, Ledger: a.ledger}); err == nil {
		t.Error("CreateLiquidityAccount of an existing account as another type: no error")
	}
	// Many creating one account at once all succeed.
	raced := ledger.Account{ID: uuid.New(), Type: ledger.Outgoing, AssetID: a.id, Ledger: a.ledger}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- e.l.CreateLiquidityAccount(e.ctx, raced) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		wantErr(t, "CreateLiquidityAccount at once", err, nil)
	}
	e.wantBalance(raced.ID, 0)

	e.wantBalance(a.id, 0)
	e.wantBalance(acc.ID, 0)
	e.wantSettlement(a.ledger, 0)
	e.wantTotals(acc.ID, 0, 0)

	other := e.newAccount(a)
	e.deposit(acc, 30)
	e.deposit(other, 7)
	e.wantSettlement(a.ledger, 37)
	sent, err := e.l.TotalsSent(e.ctx, []uuid.UUID{acc.ID, other.ID, a.id})
	wantErr(t, "TotalsSent", err, nil)
	received, err := e.l.TotalsReceived(e.ctx, []uuid.UUID{acc.ID, other.ID, a.id})
	wantErr(t, "TotalsReceived", err, nil)
	if want := []uint64{0, 0, 0}; !equal(sent, want) {
		t.Errorf("TotalsSent = %v, want %v", sent, want)
	}
	if want := []uint64{30, 7, 0}; !equal(received, want) {
		t.Errorf("TotalsReceived = %v, want %v", received, want)
	}
	none, err := e.l.TotalsSent(e.ctx, nil)
	wantErr(t, "TotalsSent of none", err, nil)
	if len(none) != 0 {
		t.Errorf("TotalsSent of none = %v", none)
	}

	unknown := uuid.New()
	_, err = e.l.Balance(e.ctx, unknown)
	wantErr(t, "Balance of an unknown account", err, ledger.ErrUnknownAccount)
	_, err = e.l.TotalSent(e.ctx, unknown)
	wantErr(t, "TotalSent of an unknown account", err, ledger.ErrUnknownAccount)
	_, err = e.l.TotalReceived(e.ctx, unknown)
	wantErr(t, "TotalReceived of an unknown account", err, ledger.ErrUnknownAccount)
	_, err = e.l.TotalsReceived(e.ctx, []uuid.UUID{acc.ID, unknown})
	wantErr(t, "TotalsReceived with an unknown account", err, ledger.ErrUnknownAccount)
	_, err = e.l.SettlementBalance(e.ctx, e.newAsset().ledger+1)
	wantErr(t, "SettlementBalance of an unknown ledger", err, ledger.ErrUnknownAccount)
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testDeposit(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	e := setup(t, open)
	tests := []struct {
		name    string
		deposit func(d *ledger.Deposit) // changes a valid deposit of 10
		want    error
	}{
		{"valid", func(*ledger.Deposit) {}, nil},
		{"nil id", func(d *ledger.Deposit) { d.ID = uuid.Nil }, ledger.ErrInvalidID},
		{"zero amount", func(d *ledger.Deposit) { d.Amount = 0 }, ledger.ErrInvalidAmount},
		{"unknown account", func(d *ledger.Deposit) { d.Account.ID = uuid.New() }, ledger.ErrUnknownDestinationAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{t: t, l: e.l, ctx: e.ctx}
			a := e.newAsset()
			acc := e.newAccount(a)
			d := ledger.Deposit{ID: uuid.New(), Account: acc, Amount: 10}
			tt.deposit(&d)
			wantErr(t, "Deposit", e.l.Deposit(e.ctx, d), tt.want)
			var moved uint64
			if tt.want == nil {
				moved = d.Amount
			}
			e.wantBalance(acc.ID, moved)
			e.wantSettlement(a.ledger, moved)
			e.wantTotals(acc.ID, 0, moved)
		})
	}
	t.Run("reused id", func(t *testing.T) {
		e := env{t: t, l: e.l, ctx: e.ctx}
		acc := e.newAccount(e.newAsset())
		d := ledger.Deposit{ID: uuid.New(), Account: acc, Amount: 10}
		wantErr(t, "Deposit", e.l.Deposit(e.ctx, d), nil)
		wantErr(t, "Deposit again", e.l.Deposit(e.ctx, d), ledger.ErrTransferExists)
		d.Amount = 5
		wantErr(t, "Deposit again, another amount", e.l.Deposit(e.ctx, d), ledger.ErrTransferExists)
		e.wantBalance(acc.ID, 10)
	})
}

func testWithdraw(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	e := setup(t, open)
	const start = 10
	tests := []struct {
		name     string
		withdraw func(w *ledger.Withdrawal) // changes a valid withdrawal of 1
		want     error
	}{
		{"valid", func(*ledger.Withdrawal) {}, nil},
		{"nil id", func(w *ledger.Withdrawal) { w.ID = uuid.Nil }, ledger.ErrInvalidID},
		{"zero amount", func(w *ledger.Withdrawal) { w.Amount = 0 }, ledger.ErrInvalidAmount},
		{"whole balance", func(w *ledger.Withdrawal) { w.Amount = start }, nil},
		{"more than the balance", func(w *ledger.Withdrawal) { w.Amount = start + 1 }, ledger.ErrInsufficientBalance},
		{"unknown account", func(w *ledger.Withdrawal) { w.Account.ID = uuid.New() }, ledger.ErrUnknownSourceAccount},
		{"negative timeout", func(w *ledger.Withdrawal) { w.Timeout = -timeoutLong }, ledger.ErrInvalidTimeout},
	}
	for _, phases := range []struct {
		name    string
		timeout time.Duration
	}{{"single-phase", 0}, {"two-phase", timeoutLong}} {
		for _, tt := range tests {
			t.Run(phases.name+"/"+tt.name, func(t *testing.T) {
				e := env{t: t, l: e.l, ctx: e.ctx}
				a := e.newAsset()
				acc := e.newAccount(a)
				e.deposit(acc, start)
				w := ledger.Withdrawal{ID: uuid.New(), Account: acc, Amount: 1, Timeout: phases.timeout}
				tt.withdraw(&w)
				wantErr(t, "Withdraw", e.l.Withdraw(e.ctx, w), tt.want)
				var moved uint64
				if tt.want == nil {
					moved = w.Amount
				}
				e.wantBalance(acc.ID, start-moved)
				if phases.timeout > 0 {
					// Pending withdrawals leave the settlement balance
					// and the totals alone until posted.
					e.wantSettlement(a.ledger, start)
					e.wantTotals(acc.ID, 0, start)
				} else {
					e.wantSettlement(a.ledger, start-moved)
					e.wantTotals(acc.ID, moved, start)
				}
			})
		}
		t.Run(phases.name+"/reused id", func(t *testing.T) {
			e := env{t: t, l: e.l, ctx: e.ctx}
			acc := e.newAccount(e.newAsset())
			e.deposit(acc, start)
			w := ledger.Withdrawal{ID: uuid.New(), Account: acc, Amount: 1, Timeout: phases.timeout}
			wantErr(t, "Withdraw", e.l.Withdraw(e.ctx, w), nil)
			wantErr(t, "Withdraw again", e.l.Withdraw(e.ctx, w), ledger.ErrTransferExists)
			w.Amount = 2
			wantErr(t, "Withdraw again, another amount", e.l.Withdraw(e.ctx, w), ledger.ErrTransferExists)
			// A retry is recognised before its money is checked.
			w.Amount = start
			wantErr(t, "Withdraw again, more than the balance left", e.l.Withdraw(e.ctx, w), ledger.ErrTransferExists)
			e.wantBalance(acc.ID, start-1)
		})
	}
}

func testSettleWithdrawal(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	e := setup(t, open)
	const start, amount = 10, 1
	post := func(e env, id uuid.UUID) error { return e.l.PostWithdrawal(e.ctx, id) }
	void := func(e env, id uuid.UUID) error { return e.l.VoidWithdrawal(e.ctx, id) }
	tests := []struct {
		name    string
		timeout time.Duration
		before  []func(e env, id uuid.UUID) error // each must succeed
		wait    bool                              // until the withdrawal expired
		settle  func(e env, id uuid.UUID) error
		unknown bool // settle another id
		want    error
		posted  bool // the withdrawal's amount ends posted
	}{
		{name: "post", settle: post, posted: true},
		{name: "void", settle: void},
		{name: "post unknown", settle: post, unknown: true, want: ledger.ErrUnknownTransfer},
		{name: "void unknown", settle: void, unknown: true, want: ledger.ErrUnknownTransfer},
		{name: "post posted", before: []func(env, uuid.UUID) error{post}, settle: post, want: ledger.ErrAlreadyPosted, posted: true},
		{name: "post voided", before: []func(env, uuid.UUID) error{void}, settle: post, want: ledger.ErrAlreadyVoided},
		{name: "void posted", before: []func(env, uuid.UUID) error{post}, settle: void, want: ledger.ErrAlreadyPosted, posted: true},
		{name: "void voided", before: []func(env, uuid.UUID) error{void}, settle: void, want: ledger.ErrAlreadyVoided},
		{name: "post expired", timeout: timeoutShort, wait: true, settle: post, want: ledger.ErrTransferExpired},
		{name: "void expired", timeout: timeoutShort, wait: true, settle: void, want: ledger.ErrTransferExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := env{t: t, l: e.l, ctx: e.ctx}
			a := e.newAsset()
			acc := e.newAccount(a)
			e.deposit(acc, start)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = timeoutLong
			}
			w := ledger.Withdrawal{ID: uuid.New(), Account: acc, Amount: amount, Timeout: timeout}
			wantErr(t, "Withdraw", e.l.Withdraw(e.ctx, w), nil)
			for _, before := range tt.before {
				wantErr(t, "settle first", before(e, w.ID), nil)
			}
			if tt.wait {
				time.Sleep(expiryWait)
			}
			id := w.ID
			if tt.unknown {
				id = uuid.New()
			}
			wantErr(t, "settle", tt.settle(e, id), tt.want)
			switch {
			case tt.posted:
				e.wantBalance(acc.ID, start-amount)
				e.wantSettlement(a.ledger, start-amount)
				e.wantTotals(acc.ID, amount, start)
			case tt.unknown:
				e.wantBalance(acc.ID, start-amount) // still pending
				e.wantSettlement(a.ledger, start)
			default: // voided or expired
				e.wantBalance(acc.ID, start)
				e.wantSettlement(a.ledger, start)
				e.wantTotals(acc.ID, 0, start)
			}
		})
	}
	t.Run("nil id", func(t *testing.T) {
		wantErr(t, "PostWithdrawal", e.l.PostWithdrawal(e.ctx, uuid.Nil), ledger.ErrInvalidID)
		wantErr(t, "VoidWithdrawal", e.l.VoidWithdrawal(e.ctx, uuid.Nil), ledger.ErrInvalidID)
	})
}

// testLifetimeTotals moves the largest amount a transfer carries (2^63-1,
// Rafiki's bigint) through one account until its lifetime totals, and its
// asset's settlement account's, pass what 64 bits hold. Every amount fits,
// so no total may stop the ledger: an asset of scale 18 moves 9.2 units in
// one such transfer.
func testLifetimeTotals(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	e := setup(t, open)
	const amount = math.MaxInt64
	a := e.newAsset()
	acc, other := e.newAccount(a), e.newAccount(a)
	for round := range 3 {
		e.deposit(acc, amount)
		w := ledger.Withdrawal{ID: uuid.New(), Account: acc, Amount: amount}
		if round == 1 {
			w.Timeout = timeoutLong
		}
		wantErr(t, fmt.Sprintf("round %d: Withdraw", round), e.l.Withdraw(e.ctx, w), nil)
		if w.Timeout > 0 {
			wantErr(t, fmt.Sprintf("round %d: PostWithdrawal", round), e.l.PostWithdrawal(e.ctx, w.ID), nil)
		}
		e.wantBalance(acc.ID, 0)
		e.wantSettlement(a.ledger, 0)
	}
	// 3·(2^63-1) each way: past a uint64, so the totals cannot be told.
	if sent, err := e.l.TotalSent(e.ctx, acc.ID); err == nil {
		t.Errorf("TotalSent = %d past 2^64-1, want an error", sent)
	}
	if received, err := e.l.TotalReceived(e.ctx, acc.ID); err == nil {
		t.Errorf("TotalReceived = %d past 2^64-1, want an error", received)
	}
	e.deposit(acc, amount)
	p, err := e.l.Transfer(e.ctx, ledger.TransferRequest{ID: uuid.New(), Source: acc, Destination: other, SourceAmount: 1, Timeout: timeoutLong})
	wantErr(t, "Transfer", err, nil)
	wantErr(t, "Post", e.l.Post(e.ctx, p), nil)
	e.wantBalance(acc.ID, amount-1)
	e.wantBalance(other.ID, 1)
	e.wantSettlement(a.ledger, amount)
	e.wantTotals(other.ID, 0, 1)
}
