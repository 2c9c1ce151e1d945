package postgres_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/ledger/postgres"
	"github.com/rafiki-go/rafiki/testkit"
)

const (
	benchCallers  = 50
	benchAccounts = 1_000
	benchFunds    = 1 << 40
)

// BenchmarkTwoPhaseTransfers: 50 callers each create a two-phase transfer
// between two random accounts of one asset and post it, b.N transfers in
// all, as fast as they can. Latency is per transfer, create plus post.
func BenchmarkTwoPhaseTransfers(b *testing.B) {
	runTransfers(b, 0, false)
}

// BenchmarkTwoPhaseTransfersWithFees: as BenchmarkTwoPhaseTransfers, but
// each transfer delivers one unit less than it sends, so a second leg
// credits the difference to the asset's liquidity account, as a sending
// fee does in Rafiki. Every transfer then touches that one account, and
// batches run one at a time.
func BenchmarkTwoPhaseTransfersWithFees(b *testing.B) {
	runTransfers(b, 0, true)
}

// BenchmarkTwoPhaseTransfersAt5000: the same 50 callers, paced: transfer i
// is due at i/5,000 s after the start, and its latency counts from then,
// so time spent behind schedule counts too (no coordinated omission). This
// is the latency at the target's load of 5,000 transfers/s. Both report
// the CPU time per transfer of this process (callers included) and of the
// database's Postgres backends.
func BenchmarkTwoPhaseTransfersAt5000(b *testing.B) {
	runTransfers(b, 5_000, false)
}

// runTransfers runs b.N create + post transfers over benchCallers callers,
// offered at ratePerSecond, or as fast as the callers go when it is 0;
// with fees, each delivers one unit less than it sends.
func runTransfers(b *testing.B, ratePerSecond int, fees bool) {
	pool := database(b)
	l := open(b, pool, postgres.Options{})
	ctx := context.Background()
	accounts := benchSetup(b, l)

	before := testkit.SampleCPU(b, pool)
	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range benchCallers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				began := time.Now()
				if ratePerSecond > 0 {
					began = start.Add(time.Duration(i) * time.Second / time.Duration(ratePerSecond))
					time.Sleep(time.Until(began))
				}
				source := rand.IntN(len(accounts))
				destination := (source + 1 + rand.IntN(len(accounts)-1)) % len(accounts)
				req := ledger.TransferRequest{
					ID: uuid.New(), Source: accounts[source], Destination: accounts[destination],
					SourceAmount: 2 + uint64(rand.IntN(100)), Timeout: time.Minute,
				}
				if fees {
					req.DestinationAmount = req.SourceAmount - 1
				}
				p, err := l.Transfer(ctx, req)
				if err == nil {
					err = l.Post(ctx, p)
				}
				if err != nil {
					b.Error(err)
					return
				}
				latencies[i] = time.Since(began)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	process, postgres := testkit.SampleCPU(b, pool).Used(before)
	b.ReportMetric(float64(process.Microseconds())/float64(b.N), "go-cpu-µs/transfer")
	b.ReportMetric(float64(postgres.Microseconds())/float64(b.N), "pg-cpu-µs/transfer")

	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "transfers/s")
	b.ReportMetric(float64(latencies[b.N/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[b.N*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op") // meaningless with concurrent callers
}

// benchSetup creates an asset and funded accounts.
func benchSetup(b *testing.B, l ledger.Ledger) []ledger.Account {
	b.Helper()
	ctx := context.Background()
	asset := uuid.New()
	if err := l.CreateAssetAccounts(ctx, asset, 1); err != nil {
		b.Fatal(err)
	}
	accounts := make([]ledger.Account, benchAccounts)
	var wg sync.WaitGroup
	for i := range accounts {
		accounts[i] = ledger.Account{ID: uuid.New(), Type: ledger.Peer, AssetID: asset, Ledger: 1}
		wg.Go(func() {
			if err := l.CreateLiquidityAccount(ctx, accounts[i]); err != nil {
				b.Error(err)
				return
			}
			if err := l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: accounts[i], Amount: benchFunds}); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	return accounts
}
