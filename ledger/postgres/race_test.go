package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/ledger/postgres"
)

// Two Ledgers (two processes, each with its own memory of legs and known
// accounts) create pending transfers and then race to post and void every
// one of them, the creator on its listed lock, the other on the table
// lock, while the sweeps expire short ones and new transfers (and reused
// ids) keep moving money between the same accounts. Each transfer is
// settled at most once, no balance goes negative, and the totals match
// the transfers.
func TestTwoLedgersSettleRace(t *testing.T) {
	pool := database(t)
	opts := postgres.Options{SweepInterval: 5 * time.Millisecond}
	l1, l2 := open(t, pool, opts), open(t, pool, opts)
	ctx := context.Background()
	asset := uuid.New()
	if err := l1.CreateAssetAccounts(ctx, asset, 1); err != nil {
		t.Fatal(err)
	}
	const n = 6
	accounts := make([]ledger.Account, n)
	for i := range accounts {
		accounts[i] = ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: asset, Ledger: 1}
		if err := l1.CreateLiquidityAccount(ctx, accounts[i]); err != nil {
			t.Fatal(err)
		}
		if err := l1.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: accounts[i], Amount: 500}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 5 {
		var pendings []ledger.PendingTransfer
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Go(func() {
				l := []*postgres.Ledger{l1, l2}[i%2]
				timeout := time.Minute
				if i%5 == 0 {
					timeout = time.Duration(1+i%3) * time.Millisecond
				}
				req := ledger.TransferRequest{ID: uuid.New(), Source: accounts[i%n], Destination: accounts[(i+1+round)%n],
					SourceAmount: uint64(7 + i%13), DestinationAmount: uint64(7+i%13) - uint64(i%3), Timeout: timeout}
				p, err := l.Transfer(ctx, req)
				if err != nil {
					return
				}
				mu.Lock()
				pendings = append(pendings, p)
				mu.Unlock()
			})
		}
		wg.Wait()
		var posted, voided atomic.Int64
		for _, p := range pendings {
			for j, l := range []*postgres.Ledger{l1, l2, l1, l2} {
				wg.Go(func() {
					var err error
					if j%2 == 0 {
						err = l.Post(ctx, p)
					} else {
						err = l.Void(ctx, p)
					}
					switch {
					case err == nil && j%2 == 0:
						posted.Add(1)
					case err == nil:
						voided.Add(1)
					case errors.Is(err, ledger.ErrAlreadyPosted), errors.Is(err, ledger.ErrAlreadyVoided), errors.Is(err, ledger.ErrTransferExpired):
					default:
						t.Errorf("settle: %v", err)
					}
				})
				// New transfers, some reusing ids, on the same accounts meanwhile.
				wg.Go(func() {
					id := p.ID
					if j > 0 {
						id = uuid.New()
					}
					_, err := l.Transfer(ctx, ledger.TransferRequest{ID: id, Source: accounts[j%n], Destination: accounts[(j+3)%n], SourceAmount: 3})
					if err != nil && !errors.Is(err, ledger.ErrTransferExists) && !errors.Is(err, ledger.ErrInsufficientBalance) {
						t.Errorf("transfer: %v", err)
					}
				})
			}
		}
		wg.Wait()
		t.Logf("round %d: %d pending, %d posted, %d voided", round, len(pendings), posted.Load(), voided.Load())
		if got := posted.Load() + voided.Load(); got > int64(len(pendings)) {
			t.Fatalf("round %d: %d settlements of %d transfers", round, got, len(pendings))
		}
	}
	time.Sleep(50 * time.Millisecond)
	postgres.Consistent(t, l1)
	for _, a := range accounts {
		if _, err := l2.Balance(ctx, a.ID); err != nil {
			t.Errorf("Balance: %v", err)
		}
	}
}

// An account another process creates after this one found it missing: the
// known-accounts memory must not remember the absence.
func TestKnownAccountsCreatedElsewhere(t *testing.T) {
	pool := database(t)
	l1, l2 := open(t, pool, postgres.Options{}), open(t, pool, postgres.Options{})
	ctx := context.Background()
	asset := uuid.New()
	if err := l1.CreateAssetAccounts(ctx, asset, 1); err != nil {
		t.Fatal(err)
	}
	src := ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: asset, Ledger: 1}
	dst := ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: asset, Ledger: 1}
	if err := l1.CreateLiquidityAccount(ctx, src); err != nil {
		t.Fatal(err)
	}
	if err := l1.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: src, Amount: 10}); err != nil {
		t.Fatal(err)
	}
	req := ledger.TransferRequest{ID: uuid.New(), Source: src, Destination: dst, SourceAmount: 4}
	if _, err := l1.Transfer(ctx, req); !errors.Is(err, ledger.ErrUnknownDestinationAccount) {
		t.Fatalf("Transfer to a missing account = %v", err)
	}
	if err := l2.CreateLiquidityAccount(ctx, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := l1.Transfer(ctx, req); err != nil {
		t.Fatalf("Transfer once created elsewhere = %v", err)
	}
	postgres.Consistent(t, l1)
}
