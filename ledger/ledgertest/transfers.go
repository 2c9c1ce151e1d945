package ledgertest

import (
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
)

// Rafiki's transfer tests start with a source holding 10 and the
// destination's asset holding 100 of liquidity.
const sourceStart, liquidityStart = 10, 100

// pair is a funded source and a destination, of one asset or two.
type pair struct {
	source, destination           ledger.Account
	sourceAsset, destinationAsset asset
}

func (e env) newPair(sameAsset bool) pair {
	e.t.Helper()
	sourceAsset := e.newAsset()
	destinationAsset := sourceAsset
	if !sameAsset {
		destinationAsset = e.newAsset()
	}
	p := pair{
		source:           e.newAccount(sourceAsset),
		destination:      e.newAccount(destinationAsset),
		sourceAsset:      sourceAsset,
		destinationAsset: destinationAsset,
	}
	e.deposit(p.source, sourceStart)
	e.deposit(destinationAsset.liquidity(), liquidityStart)
	return p
}

func (p pair) request(sourceAmount, destinationAmount uint64) ledger.TransferRequest {
	return ledger.TransferRequest{
		ID:                uuid.New(),
		Source:            p.source,
		Destination:       p.destination,
		SourceAmount:      sourceAmount,
		DestinationAmount: destinationAmount,
		Timeout:           timeoutLong,
	}
}

func assetsName(sameAsset bool) string {
	if sameAsset {
		return "same asset"
	}
	return "cross-currency"
}

func testTransfer(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	e := setup(t, open)
	for _, sameAsset := range []bool{true, false} {
		for _, amounts := range []struct{ source, destination uint64 }{{1, 1}, {1, 2}, {2, 1}} {
			for _, post := range []bool{true, false} {
				name := fmt.Sprintf("%s/%d to %d/post %t", assetsName(sameAsset), amounts.source, amounts.destination, post)
				t.Run(name, func(t *testing.T) {
					e := env{t: t, l: e.l, ctx: e.ctx}
					transferAndSettle(e, sameAsset, amounts.source, amounts.destination, post)
				})
			}
		}
	}
}

// transferAndSettle is Rafiki's "Transfer Funds" test: the balances while
// pending, after posting or voiding, and settling twice.
func transferAndSettle(e env, sameAsset bool, source, destination uint64, post bool) {
	t := e.t
	p := e.newPair(sameAsset)
	req := p.request(source, destination)
	pending, err := e.l.Transfer(e.ctx, req)
	wantErr(t, "Transfer", err, nil)
	legs := 2
	if sameAsset && source == destination {
		legs = 1
	}
	if pending.ID != req.ID || len(pending.Legs) != legs {
		t.Fatalf("Transfer = %+v, want id %s and %d legs", pending, req.ID, legs)
	}

	// Pending: the source's and the paying liquidity's debits count, no
	// credit does.
	e.wantBalance(p.source.ID, sourceStart-source)
	if sameAsset {
		want := uint64(liquidityStart)
		if destination > source {
			want -= destination - source
		}
		e.wantBalance(p.sourceAsset.id, want)
	} else {
		e.wantBalance(p.sourceAsset.id, 0)
		e.wantBalance(p.destinationAsset.id, liquidityStart-destination)
	}
	e.wantBalance(p.destination.ID, 0)

	settle, again := e.l.Void, ledger.ErrAlreadyVoided
	if post {
		settle, again = e.l.Post, ledger.ErrAlreadyPosted
	}
	wantErr(t, "settle", settle(e.ctx, pending), nil)

	if !post {
		source, destination = 0, 0 // nothing moved
	}
	e.wantBalance(p.source.ID, sourceStart-source)
	if sameAsset {
		e.wantBalance(p.sourceAsset.id, liquidityStart+source-destination)
	} else {
		e.wantBalance(p.sourceAsset.id, source)
		e.wantBalance(p.destinationAsset.id, liquidityStart-destination)
	}
	e.wantBalance(p.destination.ID, destination)
	e.wantTotals(p.source.ID, source, sourceStart)
	e.wantTotals(p.destination.ID, 0, destination)

	wantErr(t, "Post again", e.l.Post(e.ctx, pending), again)
	wantErr(t, "Void again", e.l.Void(e.ctx, pending), again)
}

func testTransferErrors(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	e := setup(t, open)
	tests := []struct {
		name   string
		change func(p pair, r *ledger.TransferRequest) // of a valid transfer of 5 to 5
		want   error
	}{
		{"insufficient source balance", func(_ pair, r *ledger.TransferRequest) {
			r.SourceAmount = sourceStart + 1
		}, ledger.ErrInsufficientBalance},
		{"insufficient destination liquidity", func(_ pair, r *ledger.TransferRequest) {
			r.SourceAmount, r.DestinationAmount = 1, liquidityStart+2
		}, ledger.ErrInsufficientLiquidity},
		{"same accounts", func(p pair, r *ledger.TransferRequest) {
			r.Destination = p.source
		}, ledger.ErrSameAccounts},
		{"zero source amount", func(_ pair, r *ledger.TransferRequest) {
			r.SourceAmount = 0
		}, ledger.ErrInvalidSourceAmount},
		{"nil id", func(_ pair, r *ledger.TransferRequest) {
			r.ID = uuid.Nil
		}, ledger.ErrInvalidID},
		{"negative timeout", func(_ pair, r *ledger.TransferRequest) {
			r.Timeout = -timeoutLong
		}, ledger.ErrInvalidTimeout},
		{"unknown source", func(_ pair, r *ledger.TransferRequest) {
			r.Source.ID = uuid.New()
		}, ledger.ErrUnknownSourceAccount},
		{"unknown destination", func(_ pair, r *ledger.TransferRequest) {
			r.Destination.ID = uuid.New()
		}, ledger.ErrUnknownDestinationAccount},
	}
	for _, sameAsset := range []bool{true, false} {
		for _, tt := range tests {
			t.Run(assetsName(sameAsset)+"/"+tt.name, func(t *testing.T) {
				e := env{t: t, l: e.l, ctx: e.ctx}
				p := e.newPair(sameAsset)
				req := p.request(5, 5)
				tt.change(p, &req)
				_, err := e.l.Transfer(e.ctx, req)
				wantErr(t, "Transfer", err, tt.want)
				e.wantBalance(p.source.ID, sourceStart)
				e.wantBalance(p.destinationAsset.id, liquidityStart)
				e.wantBalance(p.destination.ID, 0)
			})
		}
	}
	t.Run("cross-currency without a destination amount", func(t *testing.T) {
		e := env{t: t, l: e.l, ctx: e.ctx}
		p := e.newPair(false)
		_, err := e.l.Transfer(e.ctx, p.request(5, 0))
		wantErr(t, "Transfer", err, ledger.ErrInvalidDestinationAmount)
		e.wantBalance(p.source.ID, sourceStart)
	})
	t.Run("settle unknown", func(t *testing.T) {
		e := env{t: t, l: e.l, ctx: e.ctx}
		unknown := ledger.PendingTransfer{ID: uuid.New(), Legs: []uuid.UUID{uuid.New()}}
		wantErr(t, "Post", e.l.Post(e.ctx, unknown), ledger.ErrUnknownTransfer)
		wantErr(t, "Void", e.l.Void(e.ctx, unknown), ledger.ErrUnknownTransfer)
	})
}

// testTransferRetry: a request sent again with its id is recognised, never
// applied twice.
func testTransferRetry(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	e := setup(t, open)
	for _, sameAsset := range []bool{true, false} {
		t.Run(assetsName(sameAsset), func(t *testing.T) {
			e := env{t: t, l: e.l, ctx: e.ctx}
			p := e.newPair(sameAsset)
			req := p.request(3, 2)
			pending, err := e.l.Transfer(e.ctx, req)
			wantErr(t, "Transfer", err, nil)
			_, err = e.l.Transfer(e.ctx, req)
			wantErr(t, "Transfer again", err, ledger.ErrTransferExists)
			// A retry is recognised before its money is checked.
			more := req
			more.SourceAmount, more.DestinationAmount = sourceStart, sourceStart
			_, err = e.l.Transfer(e.ctx, more)
			wantErr(t, "Transfer again, more than the balance left", err, ledger.ErrTransferExists)
			e.wantBalance(p.source.ID, sourceStart-3)
			wantErr(t, "Post", e.l.Post(e.ctx, pending), nil)
			_, err = e.l.Transfer(e.ctx, req)
			wantErr(t, "Transfer again after posting", err, ledger.ErrTransferExists)
			e.wantBalance(p.source.ID, sourceStart-3)
			e.wantBalance(p.destination.ID, 2)
		})
	}
}

// testTransferWithoutTimeout: as in Rafiki, a transfer without a timeout is
// posted at once.
func testTransferWithoutTimeout(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	e := setup(t, open)
	p := e.newPair(true)
	req := p.request(4, 4)
	req.Timeout = 0
	pending, err := e.l.Transfer(e.ctx, req)
	wantErr(t, "Transfer", err, nil)
	e.wantBalance(p.source.ID, sourceStart-4)
	e.wantBalance(p.destination.ID, 4)
	e.wantTotals(p.source.ID, 4, sourceStart)
	wantErr(t, "Post", e.l.Post(e.ctx, pending), ledger.ErrAlreadyPosted)
	e.wantBalance(p.destination.ID, 4)
}
