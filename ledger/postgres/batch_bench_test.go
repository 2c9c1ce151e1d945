package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
)

// BenchmarkBatch runs batches of a fixed size one after another, each
// creating size/2 two-phase transfers and posting the size/2 the batch
// before it created: the batch cost that the concurrent benchmarks vary by
// how many requests each batch happens to collect. pg-cpu-µs/batch is the
// CPU time of every Postgres process on the machine (so run it alone), and
// go-cpu-µs/batch this process's.
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
			pgBefore, goBefore := postgresCPU(b), processCPU()
			b.ResetTimer()
			for b.Loop() {
				run()
			}
			b.StopTimer()
			if pg := postgresCPU(b); pg >= 0 && pgBefore >= 0 {
				b.ReportMetric(float64((pg-pgBefore).Microseconds())/float64(b.N), "pg-cpu-µs/batch")
			}
			b.ReportMetric(float64((processCPU()-goBefore).Microseconds())/float64(b.N), "go-cpu-µs/batch")
		})
	}
}

// postgresCPU is the CPU time of every process named postgres, or -1 where
// /proc does not tell.
func postgresCPU(b *testing.B) time.Duration {
	out, err := exec.Command("pgrep", "-x", "postgres").Output()
	if err != nil {
		b.Logf("no Postgres CPU figure: pgrep: %v", err)
		return -1
	}
	var ticks int64
	for _, pid := range strings.Fields(string(out)) {
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue // ended since
		}
		// Fields after the command's closing parenthesis; utime, stime,
		// cutime and cstime are the 12th to 15th of them.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		for _, f := range fields[11:15] {
			n, _ := strconv.ParseInt(f, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
