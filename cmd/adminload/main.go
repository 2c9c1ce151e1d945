// Command adminload measures the admin GraphQL API of a running backend from
// outside: it creates an asset, then sends signed createWalletAddress
// mutations (or, with -workload payments, Rafiki's performance workload:
// createIncomingPayment, createQuote, createOutgoingPayment; with -fund the
// payment funded and waited for) from concurrent keep-alive clients and
// prints throughput, latency, errors and CPU time per iteration.
//
// It reads the same environment as the services (ADMIN_PORT,
// OPERATOR_TENANT_ID, ADMIN_API_SECRET, DATABASE_URL), so that run beside
// `rafiki dev` with the same variables it needs no flags:
//
//	adminload -clients 25 -duration 10s -pid $(pgrep -n rafiki) -pg
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/config"
)

// errorKindsMax bounds the distinct error messages kept for the summary.
const errorKindsMax = 20

const createWalletAddress = `mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id address publicName status asset { id code } } } }`

const createAsset = `mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id code } } }`

type options struct {
	url, tenantID, secret string
	clients               int
	warmup, duration      time.Duration
	count                 int
	rate                  float64 // requests per second in all, 0 for back to back
	timeout               time.Duration
	serverPID             int
	postgresURL           string // empty: Postgres CPU is not measured
	workload              string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "adminload: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load("backend")
	if err != nil {
		return err
	}
	var o options
	var pg bool
	var cpuProfile string
	flag.StringVar(&o.url, "url", fmt.Sprintf("http://localhost:%d/graphql", cfg.AdminPort), "admin GraphQL endpoint")
	flag.StringVar(&o.tenantID, "tenant", cfg.OperatorTenantID, "tenant id the requests are signed for")
	flag.StringVar(&o.secret, "secret", cfg.AdminAPISecret, "that tenant's API secret")
	flag.IntVar(&o.clients, "clients", 25, "concurrent clients, one request in flight each")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "load before measuring, not counted")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to measure")
	flag.IntVar(&o.count, "count", 0, "measure this many requests instead of a duration (duration still bounds the run)")
	flag.Float64Var(&o.rate, "rate", 0, "send this many requests per second in all, each client waiting for its turn (0: back to back); latency then counts from when a request was due")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout")
	flag.IntVar(&o.serverPID, "pid", 0, "process id of the server, to report its CPU per request (read from /proc)")
	flag.BoolVar(&pg, "pg", false, "report the CPU per request of the Postgres backends serving DATABASE_URL's database (Postgres on this host)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write this tool's CPU profile to a file")
	flag.StringVar(&o.workload, "workload", "wallet-addresses", "wallet-addresses (createWalletAddress) or payments (Rafiki's: createIncomingPayment, createQuote, createOutgoingPayment)")
	fund := flag.Bool("fund", false, "with -workload payments: fund each payment and wait until it completed")
	flag.Parse()
	if o.clients < 1 {
		return errors.New("-clients must be at least 1")
	}
	if pg {
		o.postgresURL = cfg.DatabaseURL
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	httpClient := &http.Client{Timeout: o.timeout, Transport: &http.Transport{
		MaxIdleConns: o.clients, MaxIdleConnsPerHost: o.clients, IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
	client := &adminclient.Client{URL: o.url, TenantID: o.tenantID, Secret: o.secret, HTTP: httpClient}

	runID := strconv.FormatUint(rand.Uint64()%1e9, 36)
	var asset struct {
		CreateAsset struct{ Asset struct{ ID string } } `json:"createAsset"`
	}
	if err := client.Do(ctx, createAsset, map[string]any{"input": map[string]any{"code": "LOAD" + strings.ToUpper(runID), "scale": 2}}, &asset); err != nil {
		return fmt.Errorf("create asset: %w", err)
	}
	var completions completionTimes
	var op func(ctx context.Context, worker, i int) error
	switch o.workload {
	case "wallet-addresses":
		op = createWalletAddressOp(client, asset.CreateAsset.Asset.ID, runID)
	case "payments":
		sender, receiver, err := paymentSetup(ctx, client, asset.CreateAsset.Asset.ID, runID)
		if err != nil {
			return err
		}
		op = paymentOp(client, sender, receiver, "LOAD"+strings.ToUpper(runID), *fund, completions.add)
	default:
		return fmt.Errorf("unknown -workload %q", o.workload)
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := drive(ctx, o, op)
	if err != nil {
		return err
	}
	res.print(os.Stdout, o)
	if *fund {
		completions.print(os.Stdout)
	}
	if res.failed > 0 {
		return fmt.Errorf("%d requests failed", res.failed)
	}
	return nil
}

// createWalletAddressOp creates a wallet address per call, at an address of
// its own, and fails unless the answer is that wallet address.
func createWalletAddressOp(client *adminclient.Client, assetID, runID string) func(ctx context.Context, worker, i int) error {
	return func(ctx context.Context, worker, i int) error {
		address := fmt.Sprintf("load-%s-%d-%d", runID, worker, i)
		var out struct {
			CreateWalletAddress struct {
				WalletAddress struct{ ID, Address string }
			} `json:"createWalletAddress"`
		}
		err := client.Do(ctx, createWalletAddress, map[string]any{"input": map[string]any{
			"assetId": assetID, "address": address, "publicName": "Load " + address,
		}}, &out)
		if err != nil {
			return err
		}
		if wa := out.CreateWalletAddress.WalletAddress; wa.ID == "" || !strings.HasSuffix(wa.Address, "/"+address) {
			return fmt.Errorf("unexpected answer %+v", wa)
		}
		return nil
	}
}

// result is what the measured window saw.
type result struct {
	ok, failed    int
	errors        map[string]int // message → count, errorKindsMax at most
	elapsed       time.Duration
	latencies     []time.Duration // of successful requests, sorted
	selfCPU       time.Duration
	serverCPU     time.Duration // -1 when not measured
	postgresCPU   time.Duration // -1 when not measured
	loadavgBefore string
	loadavgAfter  string
}

// drive runs op from o.clients goroutines back to back: o.warmup not
// counted, then o.duration (or o.count requests). A request succeeds when op
// reports no error.
func drive(ctx context.Context, o options, op func(ctx context.Context, worker, i int) error) (result, error) {
	type worker struct {
		ok, failed int
		errors     map[string]int
		lat        []time.Duration
	}
	workers := make([]worker, o.clients)
	var measuring, stopping atomic.Bool
	var issued atomic.Int64  // requests started in the measured window, for -count
	var tickets atomic.Int64 // requests due so far, for -rate
	paceFrom := time.Now()
	counted := make(chan struct{})
	var countedOnce sync.Once
	var wg sync.WaitGroup
	for w := range workers {
		workers[w].errors = map[string]int{}
		wg.Go(func() {
			me := &workers[w]
			for i := 0; !stopping.Load() && ctx.Err() == nil; i++ {
				inWindow := measuring.Load()
				if inWindow && o.count > 0 && issued.Add(1) > int64(o.count) {
					countedOnce.Do(func() { close(counted) })
					return
				}
				began := time.Now()
				if o.rate > 0 {
					// Each request has its due time; one sent late still
					// counts its wait.
					began = paceFrom.Add(time.Duration(float64(tickets.Add(1)-1) / o.rate * float64(time.Second)))
					time.Sleep(time.Until(began))
				}
				err := op(ctx, w, i)
				took := time.Since(began)
				// By duration, what completes in the window counts; by
				// count, what was started in it.
				if !measuring.Load() || (o.count > 0 && !inWindow) {
					continue
				}
				if err != nil {
					me.failed++
					if msg := err.Error(); len(me.errors) < errorKindsMax || me.errors[msg] > 0 {
						me.errors[msg]++
					}
					continue
				}
				me.ok++
				me.lat = append(me.lat, took)
			}
		})
	}
	select {
	case <-time.After(o.warmup):
	case <-ctx.Done():
	}
	var pg *pgx.Conn
	if o.postgresURL != "" {
		var err error
		if pg, err = pgx.Connect(ctx, o.postgresURL); err != nil {
			stopping.Store(true)
			wg.Wait()
			return result{}, fmt.Errorf("postgres: %w", err)
		}
		defer pg.Close(context.Background())
	}
	res := result{loadavgBefore: loadavg()}
	pgBefore := postgresCPU(ctx, pg)
	serverBefore := processCPU(o.serverPID)
	selfBefore := selfCPU()
	began := time.Now()
	measuring.Store(true)
	select {
	case <-time.After(o.duration):
	case <-counted:
	case <-ctx.Done():
	}
	if o.count > 0 {
		// The last requests of the count are still in flight.
		stopping.Store(true)
		wg.Wait()
	}
	measuring.Store(false)
	res.elapsed = time.Since(began)
	res.selfCPU = selfCPU() - selfBefore
	res.serverCPU = processCPU(o.serverPID) - serverBefore
	if serverBefore < 0 {
		res.serverCPU = -1
	}
	res.postgresCPU = -1
	if pg != nil {
		res.postgresCPU = 0
		for pid, t := range postgresCPU(ctx, pg) {
			res.postgresCPU += t - pgBefore[pid]
		}
	}
	res.loadavgAfter = loadavg()
	stopping.Store(true)
	wg.Wait()

	res.errors = map[string]int{}
	for _, w := range workers {
		res.ok += w.ok
		res.failed += w.failed
		res.latencies = append(res.latencies, w.lat...)
		for msg, n := range w.errors {
			if len(res.errors) < errorKindsMax || res.errors[msg] > 0 {
				res.errors[msg] += n
			}
		}
	}
	slices.Sort(res.latencies)
	return res, ctx.Err()
}

func (r result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(int(q*float64(len(r.latencies))), len(r.latencies)-1)]
}

func (r result) print(w *os.File, o options) {
	perSecond := float64(r.ok) / r.elapsed.Seconds()
	perRequest := func(d time.Duration) string {
		if d < 0 {
			return "not measured"
		}
		if r.ok == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(r.ok))
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	var b bytes.Buffer
	pace := "back to back"
	if o.rate > 0 {
		pace = fmt.Sprintf("paced at %.0f/s", o.rate)
	}
	fmt.Fprintf(&b, "%s, %d clients %s, %s measured after %s warm-up (%s)\n", o.workload, o.clients, pace, r.elapsed.Round(time.Millisecond), o.warmup, o.url)
	fmt.Fprintf(&b, "load average   %s → %s\n", r.loadavgBefore, r.loadavgAfter)
	fmt.Fprintf(&b, "succeeded      %d (%.0f/s)\n", r.ok, perSecond)
	fmt.Fprintf(&b, "failed         %d\n", r.failed)
	fmt.Fprintf(&b, "latency        p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", ms(r.quantile(0.50)), ms(r.quantile(0.99)), ms(r.quantile(1)))
	fmt.Fprintf(&b, "CPU/request    adminload %s, server %s, postgres %s\n", perRequest(r.selfCPU), perRequest(r.serverCPU), perRequest(r.postgresCPU))
	msgs := make([]string, 0, len(r.errors))
	for msg := range r.errors {
		msgs = append(msgs, msg)
	}
	slices.SortFunc(msgs, func(a, b string) int { return r.errors[b] - r.errors[a] })
	for _, msg := range msgs {
		fmt.Fprintf(&b, "  %6d × %s\n", r.errors[msg], msg)
	}
	_, _ = w.Write(b.Bytes())
}

// selfCPU is this process's user and system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is the user and system CPU time of a process on this host, -1
// when pid is 0 or unreadable.
func processCPU(pid int) time.Duration {
	if pid == 0 {
		return -1
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// utime and stime are the 12th and 13th fields after the parenthesised
	// command name, in clock ticks (1/100 s on Linux).
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return -1
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// postgresCPU is the CPU time of each backend connected to conn's database,
// by process id; nil when conn is nil.
func postgresCPU(ctx context.Context, conn *pgx.Conn) map[int32]time.Duration {
	if conn == nil {
		return nil
	}
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return nil
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil
	}
	out := make(map[int32]time.Duration, len(pids))
	for _, pid := range pids {
		if t := processCPU(int(pid)); t >= 0 {
			out[pid] = t
		}
	}
	return out
}

// loadavg is the 1-minute load average, or "?".
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	first, _, _ := strings.Cut(string(b), " ")
	return first
}
