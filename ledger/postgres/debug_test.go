package postgres

import (
	"context"
	"math/rand/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rafiki-go/rafiki/ledger"
	"fmt"
	"sync"
	"testing"
	"time"
	"os"
)

func TestMain(m *testing.M) {
	if os.Getenv("LEDGER_DEBUG") != "" {
		var mu sync.Mutex
		var n, batches int
		var lk, dc, wr time.Duration
		DebugStats = func(size int, lock, decide, write time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			n += size; batches++; lk += lock; dc += decide; wr += write
			if batches%500 == 0 {
				fmt.Printf("batches %d avg size %.1f lock %v decide %v write %v\n", batches, float64(n)/float64(batches), lk/time.Duration(batches), dc/time.Duration(batches), wr/time.Duration(batches))
			}
		}
	}
	os.Exit(m.Run())
}

func TestExploreLoad(t *testing.T) {
	url := os.Getenv("LEDGER_EXPLORE")
	if url == "" {
		t.Skip()
	}
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(context.Background(), pool, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	asset := uuid.New()
	l.CreateAssetAccounts(ctx, asset, 1)
	accounts := make([]ledger.Account, 1000)
	for i := range accounts {
		accounts[i] = ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: asset, Ledger: 1}
		l.CreateLiquidityAccount(ctx, accounts[i])
		l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: accounts[i], Amount: 1 << 40})
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 400 {
				s := rand.IntN(1000)
				d := (s + 1 + rand.IntN(999)) % 1000
				p, err := l.Transfer(ctx, ledger.TransferRequest{ID: uuid.New(), Source: accounts[s], Destination: accounts[d], SourceAmount: 5, Timeout: time.Minute})
				if err != nil {
					t.Error(err)
					return
				}
				if rand.IntN(10) > 0 {
					l.Post(ctx, p)
				}
			}
		})
	}
	wg.Wait()
}
