package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/testkit"
)

// These benchmarks run the whole backend in-process (embedded NATS, a fresh
// Postgres database, Redis) and ignore b.N: each is one fixed-duration load
// run, reported through custom metrics. Run them with -benchtime 1x:
//
//	go test -run '^$' -bench 'WalletAddressGet|CreateWalletAddress' -benchtime 1x -count 3 ./app/
//
// CPU figures are per operation: the whole test process (load generator,
// servers, embedded NATS) from getrusage, and for mutations the Postgres
// backends of the system's database from /proc. Allocations are the test
// process's heap allocations per operation, load generator included. They
// assert nothing about the targets; BENCHMARKS.md records the results.

const (
	getClients = 16
	getWarmup  = 500 * time.Millisecond
	// Each side runs getRounds slices of getSlice, alternating, so that
	// load from other processes on the machine falls on both alike.
	getRounds       = 5
	getSlice        = time.Second
	mutationClients = 25
	mutationWarmup  = time.Second
	mutationRun     = 10 * time.Second
)

// loadResult is what one fixed-duration run measured.
type loadResult struct {
	ok, failed int
	firstErr   error
	elapsed    time.Duration
	latencies  []time.Duration // of successful operations, sorted
	mallocs    uint64          // heap allocations of the whole process during the run
	cpu        time.Duration   // user+system CPU of the whole process during the run
}

func (r loadResult) perSecond() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r loadResult) quantileMS(q float64) float64 {
	if len(r.latencies) == 0 {
		return 0
	}
	i := min(int(q*float64(len(r.latencies))), len(r.latencies)-1)
	return float64(r.latencies[i]) / float64(time.Millisecond)
}

// cpuPerOpMS is the process's CPU time per successful operation: client,
// servers and the embedded NATS server, not Postgres or Redis.
func (r loadResult) cpuPerOpMS() float64 {
	if r.ok == 0 {
		return 0
	}
	return float64(r.cpu) / float64(time.Millisecond) / float64(r.ok)
}

func (r loadResult) allocsPerOp() float64 {
	if r.ok == 0 {
		return 0
	}
	return float64(r.mallocs) / float64(r.ok)
}

// add merges another run of the same load into r.
func (r *loadResult) add(o loadResult) {
	r.ok += o.ok
	r.failed += o.failed
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
	r.elapsed += o.elapsed
	r.mallocs += o.mallocs
	r.cpu += o.cpu
	r.latencies = append(r.latencies, o.latencies...)
	slices.Sort(r.latencies)
}

// drive runs op from clients goroutines, back to back, for warmup (not
// counted) and then for d. op receives the worker's index and a per-worker
// counter, so that each call can be distinct. mark, when set, is called as
// the measured window begins and ends.
func drive(clients int, warmup, d time.Duration, op func(worker, i int) error, mark func(begin bool)) loadResult {
	type worker struct {
		ok, failed int
		firstErr   error
		lat        []time.Duration
	}
	workers := make([]worker, clients)
	var measuring atomic.Bool
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range clients {
		workers[w].lat = make([]time.Duration, 0, 1<<12)
		wg.Go(func() {
			me := &workers[w]
			for i := 0; !stop.Load(); i++ {
				began := time.Now()
				err := op(w, i)
				took := time.Since(began)
				// Operations count when they complete inside the window.
				if !measuring.Load() {
					continue
				}
				if err != nil {
					me.failed++
					if me.firstErr == nil {
						me.firstErr = err
					}
					continue
				}
				me.ok++
				me.lat = append(me.lat, took)
			}
		})
	}
	time.Sleep(warmup)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if mark != nil {
		mark(true)
	}
	cpuBefore := testkit.ProcessCPU()
	began := time.Now()
	measuring.Store(true)
	time.Sleep(d)
	measuring.Store(false)
	elapsed := time.Since(began)
	cpu := testkit.ProcessCPU() - cpuBefore
	if mark != nil {
		mark(false)
	}
	runtime.ReadMemStats(&after)
	stop.Store(true)
	wg.Wait()

	res := loadResult{elapsed: elapsed, mallocs: after.Mallocs - before.Mallocs, cpu: cpu}
	for _, w := range workers {
		res.ok += w.ok
		res.failed += w.failed
		if res.firstErr == nil {
			res.firstErr = w.firstErr
		}
		res.latencies = append(res.latencies, w.lat...)
	}
	slices.Sort(res.latencies)
	return res
}

// keepAliveClient is the client both sides of the GET comparison use.
func keepAliveClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
}

// getLoad GETs url with the Host header wallet.test from getClients
// goroutines sharing one keep-alive client for d after warmup, and checks
// each answer is want.
func getLoad(b *testing.B, client *http.Client, url string, want []byte, warmup, d time.Duration) loadResult {
	b.Helper()
	reqs := make([]*http.Request, getClients)
	bufs := make([][]byte, getClients)
	for w := range reqs {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Host = "wallet.test"
		reqs[w] = req
		bufs[w] = make([]byte, len(want)+512)
	}
	return drive(getClients, warmup, d, func(w, _ int) error {
		resp, err := client.Do(reqs[w])
		if err != nil {
			return err
		}
		n, err := io.ReadFull(resp.Body, bufs[w][:len(want)])
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || n != len(want) || resp.ContentLength != int64(len(want)) {
			return fmt.Errorf("GET %s: %d, %d bytes, %v", url, resp.StatusCode, n, err)
		}
		return nil
	}, nil)
}

// BenchmarkWalletAddressGet compares GET of a wallet address document with
// a bare net/http handler writing the same bytes, driven by the same client
// in the same run.
func BenchmarkWalletAddressGet(b *testing.B) {
	s := startSystem(b, false)
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": "alice", "publicName": "Alice Smith",
		"additionalProperties": []map[string]any{
			{"key": "nickname", "value": "ally", "visibleInOpenPayments": true},
			{"key": "country", "value": "NL", "visibleInOpenPayments": true},
			{"key": "iban", "value": "NL91ABNA0417164300", "visibleInOpenPayments": false},
		}}); err != nil {
		b.Fatal(err)
	}
	client := keepAliveClient(getClients)
	req, _ := http.NewRequest(http.MethodGet, s.opURL+"/alice", nil)
	req.Host = "wallet.test"
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET /alice: %d %s", resp.StatusCode, doc)
	}

	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	defer bare.Close()

	b.ResetTimer()
	var ours, theirs loadResult
	for round := range getRounds {
		warmup := time.Duration(0)
		if round == 0 {
			warmup = getWarmup
		}
		ours.add(getLoad(b, client, s.opURL+"/alice", doc, warmup, getSlice))
		theirs.add(getLoad(b, client, bare.URL+"/alice", doc, warmup, getSlice))
	}
	b.StopTimer()
	for name, r := range map[string]loadResult{"ours": ours, "bare": theirs} {
		if r.failed > 0 {
			b.Errorf("%s: %d failed requests, first: %v", name, r.failed, r.firstErr)
		}
	}
	ratio := ours.perSecond() / theirs.perSecond()
	b.Logf("document (%d bytes): %s", len(doc), doc)
	b.Logf("ours %.0f req/s p50 %.2f ms p99 %.2f ms %.0f µs CPU/req %.1f allocs/req | bare %.0f req/s p50 %.2f ms p99 %.2f ms %.0f µs CPU/req %.1f allocs/req | ratio %.2f (target ≥ 0.50)",
		ours.perSecond(), ours.quantileMS(0.50), ours.quantileMS(0.99), 1000*ours.cpuPerOpMS(), ours.allocsPerOp(),
		theirs.perSecond(), theirs.quantileMS(0.50), theirs.quantileMS(0.99), 1000*theirs.cpuPerOpMS(), theirs.allocsPerOp(), ratio)
	b.ReportMetric(ours.perSecond(), "ours-req/s")
	b.ReportMetric(theirs.perSecond(), "bare-req/s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(ours.quantileMS(0.50), "p50-ms")
	b.ReportMetric(ours.quantileMS(0.99), "p99-ms")
	b.ReportMetric(1000*ours.cpuPerOpMS(), "ours-cpu-µs/req")
	b.ReportMetric(1000*theirs.cpuPerOpMS(), "bare-cpu-µs/req")
	b.ReportMetric(ours.allocsPerOp(), "ours-allocs/req")
	b.ReportMetric(theirs.allocsPerOp(), "bare-allocs/req")
}

// BenchmarkCreateWalletAddress sends signed createWalletAddress mutations
// from 25 clients, each answered after its projection (read-your-writes),
// with NATS syncing every write as `make run` does.
func BenchmarkCreateWalletAddress(b *testing.B) {
	s := startSystem(b, true)
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		b.Fatal(err)
	}
	httpClient := keepAliveClient(mutationClients)
	clients := make([]*adminclient.Client, mutationClients)
	for w := range clients {
		c := *s.operator
		c.HTTP = httpClient
		clients[w] = &c
	}
	const mutation = `mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id address publicName status asset { id code } } } }`
	var created atomic.Int64
	var cpuBefore testkit.CPU
	var pgCPU time.Duration
	mark := func(begin bool) {
		if begin {
			cpuBefore = testkit.SampleCPU(b, s.running.Deps.Pool)
		} else {
			_, pgCPU = testkit.SampleCPU(b, s.running.Deps.Pool).Used(cpuBefore)
		}
	}
	b.ResetTimer()
	res := drive(mutationClients, mutationWarmup, mutationRun, func(w, i int) error {
		var out struct {
			CreateWalletAddress struct{ WalletAddress struct{ ID, Address string } } `json:"createWalletAddress"`
		}
		addr := fmt.Sprintf("bench-%d-%d", w, i)
		err := clients[w].Do(ctx, mutation, map[string]any{"input": map[string]any{
			"assetId": usd.ID, "address": addr, "publicName": "Bench " + addr,
		}}, &out)
		if err == nil && out.CreateWalletAddress.WalletAddress.Address != "http://wallet.test/"+addr {
			err = errors.New("unexpected answer " + out.CreateWalletAddress.WalletAddress.Address)
		}
		if err == nil {
			created.Add(1)
		}
		return err
	}, mark)
	b.StopTimer()
	if res.failed > 0 {
		b.Errorf("%d failed mutations, first: %v", res.failed, res.firstErr)
	}
	pgPerOp := 0.0
	if res.ok > 0 {
		pgPerOp = float64(pgCPU) / float64(time.Millisecond) / float64(res.ok)
	}
	b.Logf("%d clients: %.0f mutations/s, p50 %.1f ms, p99 %.1f ms, CPU/mutation %.2f ms in this process + %.2f ms in Postgres, %.0f allocs/mutation (%d created in all, target ≥ 1000/s)",
		mutationClients, res.perSecond(), res.quantileMS(0.50), res.quantileMS(0.99), res.cpuPerOpMS(), pgPerOp, res.allocsPerOp(), created.Load())
	b.ReportMetric(res.perSecond(), "mutations/s")
	b.ReportMetric(res.quantileMS(0.50), "p50-ms")
	b.ReportMetric(res.quantileMS(0.99), "p99-ms")
	b.ReportMetric(res.cpuPerOpMS(), "cpu-ms/mutation")
	b.ReportMetric(pgPerOp, "pg-cpu-ms/mutation")
	b.ReportMetric(res.allocsPerOp(), "allocs/mutation")
}
