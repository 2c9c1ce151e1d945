package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/testkit"
)

// BenchmarkBatch runs batches of a fixed size one after another, each
// creating size/2 two-phase transfers and posting the size/2 the batch
// before it created: the batch cost that the concurrent benchmarks vary by
// how many requests each batch happens to collect. go-cpu-µs/batch is this
// process's CPU time, pg-cpu-µs/batch that of the database's backends.
func BenchmarkBatch(b *testing.B) {
	for _, size := range []int{2, 16, 64} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			l := openLedger(b)
			ctx := context.Background()
			asset := uuid.New()
			if err := l.CreateAssetAccounts(ctx, asset, 1); err != nil {
				b.Fatal(err)
			}
			accounts := make([]ledger.Account, 1_000)
			for i := range accounts {
				accounts[i] = ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: asset, Ledger: 1}
				if err := l.CreateLiquidityAccount(ctx, accounts[i]); err != nil {
					b.Fatal(err)
				}
				if err := l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: accounts[i], Amount: 1 << 40}); err != nil {
					b.Fatal(err)
				}
			}
			var pending []ledger.PendingTransfer
			batch := func() []*operation {
				ops := make([]*operation, 0, size)
				for _, p := range pending {
					ops = append(ops, &operation{kind: kindPost, ids: p.Legs, group: p.ID})
				}
				pending = pending[:0]
				for range size / 2 {
					s := rand.IntN(len(accounts))
					d := (s + 1 + rand.IntN(len(accounts)-1)) % len(accounts)
					op, err := transferOperation(ledger.TransferRequest{
						ID: uuid.New(), Source: accounts[s], Destination: accounts[d], SourceAmount: 1, Timeout: time.Minute,
					})
					if err != nil {
						b.Fatal(err)
					}
					ops = append(ops, op)
					pending = append(pending, ledger.PendingTransfer{ID: op.legs[0].group, Legs: []uuid.UUID{op.legs[0].id}})
				}
				return ops
			}
			run := func() {
				var requests []*request
				for _, op := range batch() {
					requests = append(requests, &request{ctx: ctx, op: op, done: make(chan error, 1)})
				}
				l.apply(requests)
				for _, r := range requests {
					if err := <-r.done; err != nil {
						b.Fatal(err)
					}
				}
			}
			for range 50 { // warm the connection's caches
				run()
			}
			before := testkit.SampleCPU(b, l.pool)
			b.ResetTimer()
			for b.Loop() {
				run()
			}
			b.StopTimer()
			process, postgres := testkit.SampleCPU(b, l.pool).Used(before)
			b.ReportMetric(float64(process.Microseconds())/float64(b.N), "go-cpu-µs/batch")
			b.ReportMetric(float64(postgres.Microseconds())/float64(b.N), "pg-cpu-µs/batch")
		})
	}
}
