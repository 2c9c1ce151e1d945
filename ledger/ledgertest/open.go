package ledgertest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
)

// testOpen checks deposits and transfers that create their account: made
// once whoever races for it, refused when the id is another account's or
// the account is not a liquidity account.
func testOpen(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	e := setup(t, open)
	newOutgoing := func(a asset) ledger.Account {
		return ledger.Account{ID: uuid.New(), Type: ledger.Outgoing, AssetID: a.id, Ledger: a.ledger}
	}
	t.Run("deposit into an account not made", func(t *testing.T) {
		e := env{t: t, l: e.l, ctx: e.ctx}
		a := e.newAsset()
		acc := newOutgoing(a)
		wantErr(t, "Deposit", e.l.Deposit(e.ctx, ledger.Deposit{ID: uuid.New(), Account: acc, Amount: 10}), ledger.ErrUnknownDestinationAccount)
		wantErr(t, "Deposit, opening", e.l.Deposit(e.ctx, ledger.Deposit{ID: uuid.New(), Account: acc, Amount: 10, Open: true}), nil)
		e.wantBalance(acc.ID, 10)
		e.wantSettlement(a.ledger, 10)
		wantErr(t, "CreateLiquidityAccount of the account opened", e.l.CreateLiquidityAccount(e.ctx, acc), nil)
		wantErr(t, "Deposit, opening again", e.l.Deposit(e.ctx, ledger.Deposit{ID: uuid.New(), Account: acc, Amount: 5, Open: true}), nil)
		e.wantTotals(acc.ID, 0, 15)
	})
	t.Run("racing deposits open one account", func(t *testing.T) {
		e := env{t: t, l: e.l, ctx: e.ctx}
		a := e.newAsset()
		acc := newOutgoing(a)
		const depositsN = 20
		errs := make([]error, depositsN)
		var wg sync.WaitGroup
		for i := range depositsN {
			wg.Go(func() {
				errs[i] = e.l.Deposit(e.ctx, ledger.Deposit{ID: uuid.New(), Account: acc, Amount: 3, Open: true})
			})
		}
		wg.Wait()
		for i, err := range errs {
			wantErr(t, fmt.Sprintf("Deposit %d", i), err, nil)
		}
		e.wantBalance(acc.ID, 3*depositsN)
		e.wantSettlement(a.ledger, 3*depositsN)
	})
	t.Run("the id of another account", func(t *testing.T) {
		e := env{t: t, l: e.l, ctx: e.ctx}
		a, other := e.newAsset(), e.newAsset()
		acc := e.newAccount(a)
		for _, as := range []ledger.Account{
			{ID: acc.ID, Type: ledger.Outgoing, AssetID: a.id, Ledger: a.ledger},
			{ID: acc.ID, Type: acc.Type, AssetID: other.id, Ledger: other.ledger},
		} {
			if err := e.l.Deposit(e.ctx, ledger.Deposit{ID: uuid.New(), Account: as, Amount: 10, Open: true}); err == nil {
				t.Fatalf("a deposit opening %+v under the id of %+v was taken", as, acc)
			}
		}
		e.wantBalance(acc.ID, 0)
		e.wantSettlement(a.ledger, 0)
		e.wantSettlement(other.ledger, 0)
	})
	t.Run("not a liquidity account", func(t *testing.T) {
		e := env{t: t, l: e.l, ctx: e.ctx}
		a := e.newAsset()
		acc := ledger.Account{ID: uuid.New(), Type: ledger.Settlement, AssetID: a.id, Ledger: a.ledger}
		if err := e.l.Deposit(e.ctx, ledger.Deposit{ID: uuid.New(), Account: acc, Amount: 10, Open: true}); err == nil {
			t.Fatal("a deposit opening a settlement account was taken")
		}
		if _, err := e.l.Balance(e.ctx, acc.ID); err == nil {
			t.Error("the account refused exists")
		}
		e.wantSettlement(a.ledger, 0)
	})
	t.Run("transfer into an account not made", func(t *testing.T) {
		e := env{t: t, l: e.l, ctx: e.ctx}
		for _, sameAsset := range []bool{true, false} {
			p := e.newPair(sameAsset)
			p.destination = ledger.Account{ID: uuid.New(), Type: ledger.Incoming, AssetID: p.destinationAsset.id, Ledger: p.destinationAsset.ledger}
			r := p.request(4, 4)
			r.Timeout = 0
			if sameAsset {
				r.DestinationAmount = 0
			}
			if _, err := e.l.Transfer(e.ctx, r); err == nil {
				t.Fatalf("%s: a transfer into an account not made was taken", assetsName(sameAsset))
			}
			// TigerBeetle keeps the id of a transfer refused so.
			r.ID, r.OpenDestination = uuid.New(), true
			_, err := e.l.Transfer(e.ctx, r)
			wantErr(t, assetsName(sameAsset)+": Transfer, opening", err, nil)
			e.wantTotals(p.source.ID, 4, sourceStart)
			e.wantTotals(p.destination.ID, 0, 4)
			_, err = e.l.Transfer(e.ctx, r)
			wantErr(t, assetsName(sameAsset)+": Transfer again", err, ledger.ErrTransferExists)
		}
	})
	t.Run("a refused transfer that opens moves nothing", func(t *testing.T) {
		e := env{t: t, l: e.l, ctx: e.ctx}
		p := e.newPair(true)
		p.destination = ledger.Account{ID: uuid.New(), Type: ledger.Incoming, AssetID: p.sourceAsset.id, Ledger: p.sourceAsset.ledger}
		r := p.request(sourceStart+1, 0)
		r.OpenDestination = true
		if _, err := e.l.Transfer(e.ctx, r); err == nil {
			t.Fatal("a transfer of more than the source holds was taken")
		}
		e.wantTotals(p.source.ID, 0, sourceStart)
	})
}
