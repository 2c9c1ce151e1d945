package ledgertest

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

func testAccountTransfers(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	e := setup(t, open)
	a := e.newAsset()
	acc := e.newAccount(a)
	other := e.newAccount(a)
	deposit := ledger.Deposit{ID: uuid.New(), Account: acc, Amount: 100}
	wantErr(t, "Deposit", e.l.Deposit(e.ctx, deposit), nil)
	posted := ledger.Withdrawal{ID: uuid.New(), Account: acc, Amount: 10}
	wantErr(t, "Withdraw", e.l.Withdraw(e.ctx, posted), nil)
	pending := ledger.Withdrawal{ID: uuid.New(), Account: acc, Amount: 5, Timeout: timeoutLong}
	wantErr(t, "Withdraw", e.l.Withdraw(e.ctx, pending), nil)
	expiring := ledger.Withdrawal{ID: uuid.New(), Account: acc, Amount: 7, Timeout: timeoutShort}
	wantErr(t, "Withdraw", e.l.Withdraw(e.ctx, expiring), nil)
	req := ledger.TransferRequest{ID: uuid.New(), Source: acc, Destination: other, SourceAmount: 3, Timeout: timeoutLong}
	transfer, err := e.l.Transfer(e.ctx, req)
	wantErr(t, "Transfer", err, nil)
	wantErr(t, "Post", e.l.Post(e.ctx, transfer), nil)
	time.Sleep(expiryWait)

	settlement := ledger.SettlementID(a.ledger)
	legDebit := listed{transfer.Legs[0], acc.ID, other.ID, 3, ledger.TypeTransfer, ledger.Posted, timeoutLong}
	expiredDebit := listed{expiring.ID, acc.ID, settlement, 7, ledger.TypeWithdrawal, ledger.Voided, timeoutShort}
	pendingDebit := listed{pending.ID, acc.ID, settlement, 5, ledger.TypeWithdrawal, ledger.Pending, timeoutLong}
	postedDebit := listed{posted.ID, acc.ID, settlement, 10, ledger.TypeWithdrawal, ledger.Posted, 0}
	depositCredit := listed{deposit.ID, settlement, acc.ID, 100, ledger.TypeDeposit, ledger.Posted, 0}
	check := func(what string, got []ledger.Transfer, wants ...listed) {
		t.Helper()
		checkListed(t, what, a.ledger, got, wants)
	}

	got, err := e.l.AccountTransfers(e.ctx, acc.ID, 0)
	wantErr(t, "AccountTransfers", err, nil)
	check("debits", got.Debits, legDebit, expiredDebit, pendingDebit, postedDebit)
	check("credits", got.Credits, depositCredit)

	got, err = e.l.AccountTransfers(e.ctx, acc.ID, 2)
	wantErr(t, "AccountTransfers, limit 2", err, nil)
	check("debits, limit 2", got.Debits, legDebit, expiredDebit)
	check("credits, limit 2", got.Credits, depositCredit)

	got, err = e.l.AccountTransfers(e.ctx, settlement, 0)
	wantErr(t, "AccountTransfers of the settlement account", err, nil)
	check("settlement debits", got.Debits, depositCredit)
	check("settlement credits", got.Credits, expiredDebit, pendingDebit, postedDebit)

	got, err = e.l.AccountTransfers(e.ctx, uuid.New(), 0)
	wantErr(t, "AccountTransfers of an unknown account", err, nil)
	if len(got.Debits)+len(got.Credits) != 0 {
		t.Errorf("an unknown account has transfers: %+v", got)
	}
}

// listed is a transfer as AccountTransfers should list it.
type listed struct {
	id            uuid.UUID
	debit, credit uuid.UUID
	amount        uint64
	typ           ledger.TransferType
	state         ledger.TransferState
	timeout       time.Duration
}

func checkListed(t *testing.T, what string, number uint32, got []ledger.Transfer, wants []listed) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("%s: %d transfers, want %d: %+v", what, len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.ID != w.id || g.DebitAccountID != w.debit || g.CreditAccountID != w.credit ||
			g.Amount != w.amount || g.Type != w.typ || g.State != w.state ||
			g.Timeout != w.timeout || g.Ledger != number {
			t.Errorf("%s[%d] = %+v, want %+v", what, i, g, w)
		}
		if g.CreatedAt.IsZero() {
			t.Errorf("%s[%d] has no creation time", what, i)
		}
		switch {
		case w.timeout == 0 && g.ExpiresAt != nil:
			t.Errorf("%s[%d] expires at %s without a timeout", what, i, g.ExpiresAt)
		case w.timeout > 0 && (g.ExpiresAt == nil || !g.ExpiresAt.Equal(g.CreatedAt.Add(w.timeout))):
			t.Errorf("%s[%d] expires at %v, want %s + %s", what, i, g.ExpiresAt, g.CreatedAt, w.timeout)
		}
	}
}

// testExpiry: a pending transfer's money is back once its timeout passes,
// and can be spent again; posting or voiding it then fails.
func testExpiry(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	e := setup(t, open)
	for _, sameAsset := range []bool{true, false} {
		t.Run(assetsName(sameAsset), func(t *testing.T) {
			t.Parallel()
			e := env{t: t, l: e.l, ctx: e.ctx}
			p := e.newPair(sameAsset)
			req := p.request(sourceStart, 4)
			req.Timeout = timeoutShort
			sent := time.Now()
			pending, err := e.l.Transfer(e.ctx, req)
			wantErr(t, "Transfer", err, nil)
			reserved, err := e.l.Balance(e.ctx, p.source.ID)
			wantErr(t, "Balance", err, nil)
			if reserved != 0 && time.Since(sent) < timeoutShort {
				t.Errorf("Balance of a source with a pending transfer = %d, want 0", reserved)
			}
			time.Sleep(expiryWait)

			e.wantBalance(p.source.ID, sourceStart)
			e.wantBalance(p.destinationAsset.id, liquidityStart)
			e.wantBalance(p.destination.ID, 0)
			wantErr(t, "Post expired", e.l.Post(e.ctx, pending), ledger.ErrTransferExpired)
			wantErr(t, "Void expired", e.l.Void(e.ctx, pending), ledger.ErrTransferExpired)
			listed, err := e.l.AccountTransfers(e.ctx, p.source.ID, 0)
			wantErr(t, "AccountTransfers", err, nil)
			for _, tr := range listed.Debits {
				if tr.State != ledger.Voided {
					t.Errorf("expired leg %s reads %s, want %s", tr.ID, tr.State, ledger.Voided)
				}
			}

			// The released money can be spent again.
			w := ledger.Withdrawal{ID: uuid.New(), Account: p.source, Amount: sourceStart}
			wantErr(t, "Withdraw the released money", e.l.Withdraw(e.ctx, w), nil)
			e.wantBalance(p.source.ID, 0)
			// Deposited: the source's 10, and the liquidity when the
			// asset is the same; withdrawn: 10.
			settlement := uint64(0)
			if sameAsset {
				settlement = liquidityStart
			}
			e.wantSettlement(p.sourceAsset.ledger, settlement)
		})
	}
}

// testConcurrentTransfers: 200 transfers race for money enough for 100:
// exactly 100 succeed, and the source's balance never goes below zero.
func testConcurrentTransfers(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	const (
		transfers = 200
		fundedFor = 100
		amount    = 10
	)
	e := setup(t, open)
	a := e.newAsset()
	source := e.newAccount(a)
	e.deposit(source, fundedFor*amount)
	destinations := []ledger.Account{e.newAccount(a), e.newAccount(a), e.newAccount(a)}

	stopSampling := sampleBalance(e, source.ID, fundedFor*amount)

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		succeeded []ledger.PendingTransfer
		refused   atomic.Int64
	)
	for i := range transfers {
		wg.Go(func() {
			req := ledger.TransferRequest{
				ID: uuid.New(), Source: source, Destination: destinations[i%len(destinations)],
				SourceAmount: amount, Timeout: timeoutLong,
			}
			pending, err := e.l.Transfer(e.ctx, req)
			switch {
			case err == nil:
				mu.Lock()
				succeeded = append(succeeded, pending)
				mu.Unlock()
			case errors.Is(err, ledger.ErrInsufficientBalance):
				refused.Add(1)
			default:
				t.Errorf("Transfer: %v", err)
			}
		})
	}
	wg.Wait()
	stopSampling()
	if len(succeeded) != fundedFor || refused.Load() != transfers-fundedFor {
		t.Fatalf("%d transfers succeeded and %d were refused, want %d and %d",
			len(succeeded), refused.Load(), fundedFor, transfers-fundedFor)
	}
	e.wantBalance(source.ID, 0)

	for _, p := range succeeded {
		wg.Go(func() { wantErrAsync(t, "Post", e.l.Post(e.ctx, p)) })
	}
	wg.Wait()
	e.wantBalance(source.ID, 0)
	e.wantTotals(source.ID, fundedFor*amount, fundedFor*amount)
	received, err := e.l.TotalsReceived(e.ctx, []uuid.UUID{destinations[0].ID, destinations[1].ID, destinations[2].ID})
	wantErr(t, "TotalsReceived", err, nil)
	if received[0]+received[1]+received[2] != fundedFor*amount {
		t.Errorf("destinations received %v, want %d in all", received, fundedFor*amount)
	}
}

// sampleBalance reads an account's balance over and over until stopped,
// and fails the test if it is ever above limit (below zero, as a uint64).
// It returns once the first read is made, so that the reads overlap what
// the caller does next however the goroutines are scheduled.
func sampleBalance(e env, id uuid.UUID, limit uint64) (stop func()) {
	done, first := make(chan struct{}), make(chan struct{})
	var once sync.Once
	started := func() { once.Do(func() { close(first) }) }
	var sampler sync.WaitGroup
	sampler.Go(func() {
		defer started()
		for {
			select {
			case <-done:
				return
			default:
			}
			balance, err := e.l.Balance(e.ctx, id)
			if err != nil {
				e.t.Errorf("Balance during the race: %v", err)
				return
			}
			if balance > limit {
				e.t.Errorf("balance during the race = %d: below zero or above what was deposited", balance)
				return
			}
			started()
		}
	})
	<-first
	return func() {
		close(done)
		sampler.Wait()
	}
}

// wantErrAsync is wantErr for goroutines other than the test's.
func wantErrAsync(t *testing.T, what string, err error) {
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// testCrash: a process dies between creating a transfer and posting it.
// Another one on the same store finds the money reserved, and back once
// the transfer expires.
func testCrash(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	first := open(t)
	reopener, ok := first.(Reopener)
	if !ok {
		t.Skipf("%T is not a ledgertest.Reopener", first)
	}
	e := env{t: t, l: first, ctx: context.Background()}
	p := e.newPair(true)
	req := p.request(sourceStart, sourceStart)
	req.Timeout = timeoutShort
	pending, err := first.Transfer(e.ctx, req)
	wantErr(t, "Transfer", err, nil)
	first.Close() // the crash: nobody will post or void it

	e = setup(t, func(t *testing.T) ledger.Ledger { return reopener.Reopen(t) })
	deadline := time.Now().Add(recoveryWaitMax)
	for {
		balance, err := e.l.Balance(e.ctx, p.source.ID)
		wantErr(t, "Balance after the restart", err, nil)
		if balance == sourceStart {
			break
		}
		if balance != 0 {
			t.Fatalf("balance after the restart = %d, want 0 (reserved) or %d (released)", balance, sourceStart)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the money of an expired transfer is not back after %s", recoveryWaitMax)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantErr(t, "Post after the restart", e.l.Post(e.ctx, pending), ledger.ErrTransferExpired)
	e.wantBalance(p.destination.ID, 0)
	e.wantTotals(p.source.ID, 0, sourceStart)
	again := p.request(sourceStart, sourceStart)
	retried, err := e.l.Transfer(e.ctx, again)
	wantErr(t, "Transfer the recovered money", err, nil)
	wantErr(t, "Post", e.l.Post(e.ctx, retried), nil)
	e.wantBalance(p.destination.ID, sourceStart)
}
