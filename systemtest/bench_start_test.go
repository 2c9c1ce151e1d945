package systemtest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	rafiki "github.com/rafiki-go/rafiki"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/natsembed"
	"github.com/rafiki-go/rafiki/secrets"
	"github.com/rafiki-go/rafiki/streams"
	"github.com/rafiki-go/rafiki/testkit"
)

// The installation BenchmarkStartToReady starts: tenants with two assets
// each, wallet addresses spread over them, keys on some, and updates of the
// wallet addresses until the stream holds startEventsMin messages.
const (
	startTenants         = 200
	startWalletAddresses = 800_000
	startKeys            = 10_000
	startEventsMin       = 1_000_000
	// Goroutines appending through the handlers while the data is built.
	startLoaders = 64
	// Attempts of an update whose wallet address was not found (see
	// updateFound).
	startUpdateAttempts = 5
	// Changed whenever what is built changes, so that a cached installation
	// of another kind is built again.
	startDataVersion = "2"
	startDatabase    = "rafiki_bench_start_ready"
)

// The target: from exec to ready in this long, with nothing replayed.
const startReadyTarget = 5 * time.Second

// startData is a built installation, as its marker file records it.
type startData struct {
	Key         string            `json:"key"`
	DataDir     string            `json:"data_dir"`
	Database    string            `json:"database"`
	TenantID    string            `json:"operator_tenant_id"`
	Secret      string            `json:"operator_secret"`
	LastSeq     uint64            `json:"stream_last_seq"`
	Messages    uint64            `json:"stream_messages"`
	Checkpoints map[string]uint64 `json:"checkpoints"`
}

// BenchmarkStartToReady starts `rafiki dev` on a stream of a million events
// whose read models are up to date, and measures each start, from exec
// until GET /readyz on the admin port answers 200 and a signed GraphQL query
// answers. It fails a start that rebuilds a read model or moves a
// checkpoint back. The installation (DATA_DIR and database) is built once,
// which takes a quarter of an hour, and kept in
// os.TempDir()/rafiki-bench-start-ready and the database
// rafiki_bench_start_ready, with a marker naming what its data depend on
// (startDataKey). The server rebuilds its duplicate window at start from the
// messages stored in the last duplicate_window (10 minutes) before it: a
// start soon after the build also times that.
//
//	go test -run '^$' -bench StartToReady -benchtime 5x -timeout 1h ./systemtest/
func BenchmarkStartToReady(b *testing.B) {
	g := newRig(b)
	data := startInstallation(b, g)
	b.Logf("installation: %d messages, last sequence %d, checkpoints %v", data.Messages, data.LastSeq, data.Checkpoints)
	var totals, readyz, natsUp []time.Duration
	b.ResetTimer()
	for i := range b.N {
		s := measureStart(b, g, data, i)
		b.Logf("start %d (load average %s): %s", i+1, s.load, s)
		totals = append(totals, s.answered.Sub(s.exec))
		readyz = append(readyz, s.readyz.Sub(s.exec))
		natsUp = append(natsUp, s.natsUp.Sub(s.exec))
	}
	b.StopTimer()
	b.ReportMetric(mean(totals).Seconds(), "ready-s")
	b.ReportMetric(slices.Max(totals).Seconds(), "ready-max-s")
	b.ReportMetric(mean(readyz).Seconds(), "readyz-s")
	b.ReportMetric(mean(natsUp).Seconds(), "nats-up-s")
	if worst := slices.Max(totals); worst > startReadyTarget {
		b.Logf("slowest start %s, over the target of %s", worst.Round(time.Millisecond), startReadyTarget)
	}
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// startTimes are the moments of one start, from outside the process and
// from its log.
type startTimes struct {
	load string
	exec time.Time
	// The embedded NATS port accepts connections: the server listens for
	// clients only once JetStream has recovered its streams.
	natsUp time.Time
	// The first of the process's connections to PostgreSQL still open once
	// it answered (backend_start): the request pool's first, opened right
	// after the migrations.
	poolConn time.Time
	// The first lease connection's backend_start: the runners started.
	leaseConn time.Time
	// The last projection's "projection following" and "ready" (log).
	following, ready time.Time
	readyz           time.Time // GET /readyz answered 200
	answered         time.Time // a signed query answered, after readyz
	notReady         string    // the first answer of /readyz that was not 200
	// How long the first signed query took, and one sent right after.
	firstQuery, secondQuery time.Duration
}

func (s startTimes) String() string {
	since := func(t time.Time) string {
		if t.IsZero() {
			return "?"
		}
		return fmt.Sprintf("%.3fs", t.Sub(s.exec).Seconds())
	}
	return fmt.Sprintf("ready and answering %s; NATS up %s, first pooled PostgreSQL connection %s, first lease connection %s, "+
		"all projections following %s, log ready %s, /readyz 200 %s; the first signed query took %s, the next %s (first answer of /readyz not 200: %q)",
		since(s.answered), since(s.natsUp), since(s.poolConn), since(s.leaseConn), since(s.following), since(s.ready), since(s.readyz),
		s.firstQuery.Round(time.Millisecond), s.secondQuery.Round(time.Millisecond), s.notReady)
}

const startAppName = "rafiki-bench-start"

// measureStart starts dev once, measures, checks and stops it.
func measureStart(b *testing.B, g *rig, data startData, i int) startTimes {
	b.Helper()
	r := g.rafiki(data.DataDir, data.Database, data.TenantID, data.Secret, nil)
	r.Env["DATABASE_URL"] = withParam(r.DatabaseURL, "application_name", startAppName)
	rafikiBinary(b) // built before the clock starts
	s := startTimes{load: loadAverage()}
	s.exec = time.Now()
	dev := g.run(r, "dev", nil, "dev")
	client := &http.Client{Timeout: time.Second}
	op := r.Operator(5 * time.Second)
	deadline := s.exec.Add(2 * time.Minute)
	natsAddr := fmt.Sprintf("127.0.0.1:%d", r.Ports["EMBEDDED_NATS_PORT"])
	for s.answered.IsZero() {
		now := time.Now()
		if dev.Exited() || now.After(deadline) {
			b.Fatalf("start %d: not ready and answering within %s (exited: %v); log %s", i+1, deadline.Sub(s.exec), dev.Exited(), dev.LogPath)
		}
		switch {
		case s.natsUp.IsZero():
			if c, err := net.DialTimeout("tcp", natsAddr, 50*time.Millisecond); err == nil {
				c.Close()
				s.natsUp = now
			}
		case s.readyz.IsZero():
			ok, body := readyz(client, r.Ports["ADMIN_PORT"])
			if ok {
				s.readyz = time.Now()
			} else if s.notReady == "" {
				s.notReady = body
			}
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			sent := time.Now()
			if listQuery(ctx, op) == nil {
				s.answered = time.Now()
				s.firstQuery = s.answered.Sub(sent)
			}
			cancel()
		}
		time.Sleep(2 * time.Millisecond)
	}
	ctx := context.Background()
	sent := time.Now()
	if err := listQuery(ctx, op); err != nil {
		b.Fatalf("start %d: second query: %v", i+1, err)
	}
	s.secondQuery = time.Since(sent)
	pool := testkit.Pool(b, r.DatabaseURL)
	var first, lease *time.Time
	if err := pool.QueryRow(ctx, `SELECT min(backend_start), min(backend_start) FILTER (WHERE query LIKE '%pg_try_advisory_lock%')
		FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`, startAppName).Scan(&first, &lease); err != nil {
		b.Fatal(err)
	}
	if first != nil {
		s.poolConn = *first
	}
	if lease != nil {
		s.leaseConn = *lease
	}
	for _, name := range projectionNames() {
		if err := dev.AwaitLine(30*time.Second, `msg="projection following"`, "projection="+name+" "); err != nil {
			b.Fatalf("start %d: %v", i+1, err)
		}
		at, _ := logTime(dev, `msg="projection following"`, "projection="+name+" ")
		s.following = later(s.following, at)
	}
	s.ready, _ = logTime(dev, "msg=ready")
	if dev.HasLine("rebuilding") {
		b.Fatalf("start %d rebuilt a read model:\n%s", i+1, grepLines(dev.Output(), "rebuilding"))
	}
	after, err := checkpointSequences(ctx, pool)
	if err != nil {
		b.Fatal(err)
	}
	for name, before := range data.Checkpoints {
		if after[name] < before {
			b.Fatalf("start %d moved the checkpoint of %s back from %d to %d", i+1, name, before, after[name])
		}
	}
	pool.Close()
	if err := dev.Stop(syscall.SIGTERM, 60*time.Second); err != nil {
		b.Fatalf("dev after SIGTERM: %v", err)
	}
	if !dev.HasLine("msg=stopped") {
		b.Fatalf("start %d: dev did not report a clean stop; log %s", i+1, dev.LogPath)
	}
	return s
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// startInstallation returns the cached installation when its marker has
// the current key, and builds it otherwise.
func startInstallation(b *testing.B, g *rig) startData {
	b.Helper()
	key, err := startDataKey()
	if err != nil {
		b.Fatal(err)
	}
	base := filepath.Join(os.TempDir(), "rafiki-bench-start-ready")
	marker := filepath.Join(base, "installation.json")
	if raw, err := os.ReadFile(marker); err == nil {
		var data startData
		if err := json.Unmarshal(raw, &data); err == nil && data.Key == key {
			if err := checkStartData(data); err == nil {
				return data
			} else {
				b.Logf("cached installation in %s is not usable (%v); building it again", base, err)
			}
		}
	}
	if err := os.RemoveAll(base); err != nil {
		b.Fatal(err)
	}
	data := buildStartData(b, g, key, filepath.Join(base, "data"))
	raw, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	// Written last: its presence means the installation is complete.
	if err := os.WriteFile(marker, raw, 0o644); err != nil {
		b.Fatal(err)
	}
	return data
}

// startDataKey identifies what an installation's data depend on: the
// stream declaration, the read models' tables, the migrations and the
// nats-server (the store's format). Code that only reads or runs them (the
// runner, the handlers) may change under a cached installation, as it does
// under an operator's.
func startDataKey() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "data %s\n", startDataVersion)
	h.Write(rafiki.StreamsYAML)
	for _, p := range app.Projections(nil) {
		fmt.Fprintf(h, "projection %s\n%s\n", p.Name(), strings.Join(p.Tables(), "\n"))
	}
	migrations, err := filepath.Glob("../migrations/backend/*.sql")
	if err != nil {
		return "", err
	}
	slices.Sort(migrations)
	for _, f := range migrations {
		content, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "migration %s\n", filepath.Base(f))
		h.Write(content)
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", errors.New("no build information to tell the nats-server version by")
	}
	for _, dep := range info.Deps {
		if dep.Path == "github.com/nats-io/nats-server/v2" {
			fmt.Fprintf(h, "%s %s\n", dep.Path, dep.Version)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// checkStartData makes sure a cached installation is still whole: its
// store is there and its database holds the checkpoints it was left with.
// A start that moved them forward (nothing should) is fine; any other
// difference is not.
func checkStartData(data startData) error {
	if _, err := os.Stat(filepath.Join(data.DataDir, "nats", "jetstream")); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := app.OpenPool(ctx, withDatabase(testkit.PostgresURL(), data.Database))
	if err != nil {
		return err
	}
	defer pool.Close()
	got, err := checkpointSequences(ctx, pool)
	if err != nil {
		return err
	}
	for name, want := range data.Checkpoints {
		if got[name] != want {
			return fmt.Errorf("checkpoint of %s is %d, the installation was left at %d", name, got[name], want)
		}
	}
	return nil
}

// buildStartData writes the events straight into the store of DATA_DIR
// through the domain handlers, with an embedded server as `rafiki dev` runs
// it, then runs `rafiki dev` once until every read model has caught up and
// stops it.
func buildStartData(b *testing.B, g *rig, key, dataDir string) startData {
	b.Helper()
	data := startData{Key: key, DataDir: dataDir, Database: startDatabase,
		TenantID: uuid.NewString(), Secret: "operator-" + uuid.NewString()}
	// The auth database's read model counts in the stream too: one left by
	// an earlier installation would be rebuilt, rightly, at the first start.
	dropDatabase(testkit.PostgresURL(), data.Database)
	dropDatabase(testkit.PostgresURL(), data.Database+"_auth")
	started := time.Now()
	if err := writeStartEvents(b, filepath.Join(dataDir, "nats"), data.TenantID); err != nil {
		b.Fatal(err)
	}
	b.Logf("events written in %s", time.Since(started).Round(time.Second))

	caughtUp := time.Now()
	r := g.rafiki(dataDir, data.Database, data.TenantID, data.Secret, nil)
	dev := g.run(r, "dev-catch-up", nil, "dev")
	awaitReady(b, dev, 5*time.Minute)
	// The example wallet's demo accounts are made once, after the first
	// start is ready: they belong to the installation, written before its
	// checkpoints are recorded.
	dev.WaitLine(b, 5*time.Minute, "demo accounts ready")
	js, closeConn, err := jetStreamAt(r.EmbeddedNATSURL())
	if err != nil {
		b.Fatal(err)
	}
	pool := testkit.Pool(b, r.DatabaseURL)
	data.Checkpoints = awaitCaughtUp(b, pool, js, time.Hour, func(behind map[string]uint64) {
		b.Logf("catching up: behind by %v", behind)
	})
	stream, err := js.Stream(context.Background(), app.EventsStream)
	if err != nil {
		b.Fatal(err)
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	data.LastSeq, data.Messages = info.State.LastSeq, info.State.Msgs
	closeConn()
	pool.Close()
	if dev.HasLine("rebuilding") {
		b.Fatalf("the first start rebuilt a read model:\n%s", grepLines(dev.Output(), "rebuilding"))
	}
	if err := dev.Stop(syscall.SIGTERM, 2*time.Minute); err != nil || !dev.HasLine("msg=stopped") {
		b.Fatalf("dev after SIGTERM: %v; log %s", err, dev.LogPath)
	}
	b.Logf("read models caught up in %s", time.Since(caughtUp).Round(time.Second))
	return data
}

// writeStartEvents appends the installation's events with the handlers
// the admin API uses, from startLoaders goroutines, on an embedded server
// over storeDir. The server does not fsync every write (dev does): that
// changes when data reaches the disk, not what is stored, and the server
// is shut down cleanly before anything reads the store.
func writeStartEvents(b *testing.B, storeDir, operatorID string) error {
	ns, err := natsembed.Start(natsembed.Options{Port: -1, StoreDir: storeDir})
	if err != nil {
		return err
	}
	defer func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	}()
	nc, err := nats.Connect(ns.ClientURL(), nats.SyncQueueLen(8192))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx := context.Background()
	decl, err := streams.Parse(rafiki.StreamsYAML)
	if err != nil {
		return err
	}
	if _, err := streams.Apply(ctx, js, decl, 1, slog.New(slog.DiscardHandler)); err != nil {
		return err
	}
	store, err := eventstore.Open(ctx, js, app.EventsStream)
	if err != nil {
		return err
	}
	defer store.Close()
	operator := commands.Actor{TenantID: operatorID, Operator: true}
	meta := func(id string) commands.Meta { return commands.Meta{ID: id, Actor: operator} }
	keys, err := secrets.New(js, app.KeysStream, testkit.EventSecretsKey)
	if err != nil {
		return err
	}
	tenants := tenant.NewHandler(handlers.SealSecrets(store, keys), operatorID, "test.rafiki", "")
	assets := asset.NewHandler(store, func(context.Context, string) (bool, error) { return false, nil })
	wallets := walletaddress.NewHandler(store, "https://wallet.example")

	tenantIDs := make([]string, startTenants)
	assetIDs := make([][2]string, startTenants)
	err = parallel(b, "tenants", startTenants, func(i int) error {
		id, _, err := tenants.Create(ctx, commands.CreateTenant{Meta: meta(fmt.Sprintf("tenant-%d", i)),
			APISecret: fmt.Sprintf("secret-%d", i), PublicName: fmt.Sprintf("Tenant %d", i), Email: fmt.Sprintf("t%d@example.com", i),
			Settings: []events.Setting{{Key: tenant.SettingWalletAddressURL, Value: fmt.Sprintf("https://t%d.wallet.example", i)}}})
		if err != nil {
			return fmt.Errorf("create tenant %d: %w", i, err)
		}
		tenantIDs[i] = id
		name := fmt.Sprintf("Tenant %d, renamed", i)
		if _, err := tenants.Update(ctx, commands.UpdateTenant{Meta: meta(fmt.Sprintf("tenant-%d-update", i)), TenantID: id, PublicName: &name}); err != nil {
			return fmt.Errorf("update tenant %d: %w", i, err)
		}
		for a, code := range []string{"USD", "EUR"} {
			threshold := uint64(1000 + i)
			assetID, _, err := assets.Create(ctx, commands.CreateAsset{Meta: meta(fmt.Sprintf("asset-%d-%s", i, code)), TenantID: id,
				Code: code, Scale: 2, LiquidityThreshold: &threshold})
			if err != nil {
				return fmt.Errorf("create asset %s of tenant %d: %w", code, i, err)
			}
			assetIDs[i][a] = assetID
		}
		return nil
	})
	if err != nil {
		return err
	}
	walletIDs := make([]string, startWalletAddresses)
	err = parallel(b, "wallet addresses", startWalletAddresses, func(i int) error {
		t := i % startTenants
		id, _, err := wallets.Create(ctx, commands.CreateWalletAddress{Meta: meta(fmt.Sprintf("wallet-%d", i)),
			TenantID: tenantIDs[t], AssetID: assetIDs[t][i/startTenants%2], Address: fmt.Sprintf("https://t%d.wallet.example/user-%d", t, i),
			PublicName: fmt.Sprintf("User %d", i)})
		if err != nil {
			return fmt.Errorf("create wallet address %d: %w", i, err)
		}
		walletIDs[i] = id
		return nil
	})
	if err != nil {
		return err
	}
	keyEvery := startWalletAddresses / startKeys
	err = parallel(b, "keys", startKeys, func(i int) error {
		x := sha256.Sum256([]byte(fmt.Sprintf("key-%d", i)))
		_, _, err := wallets.CreateKey(ctx, commands.CreateWalletAddressKey{Meta: meta(fmt.Sprintf("key-%d", i)),
			WalletAddressID: walletIDs[i*keyEvery],
			JWK:             commands.JWK{Kid: fmt.Sprintf("key-%d", i), X: base64.RawURLEncoding.EncodeToString(x[:]), Alg: "EdDSA", Kty: "OKP", Crv: "Ed25519"}})
		if err != nil {
			return fmt.Errorf("create key %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	stream, err := js.Stream(ctx, app.EventsStream)
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return err
	}
	// Each update appends one event; a few more than needed is fine.
	updates := 0
	if info.State.Msgs < startEventsMin {
		updates = int(startEventsMin - info.State.Msgs)
	}
	var notFound atomic.Int64
	err = parallel(b, "wallet address updates", updates, func(i int) error {
		name := fmt.Sprintf("User %d, update %d", i%startWalletAddresses, i/startWalletAddresses+1)
		status := ""
		if i%10 == 9 {
			status = "INACTIVE"
		}
		c := commands.UpdateWalletAddress{Meta: meta(fmt.Sprintf("wallet-update-%d", i)),
			WalletAddressID: walletIDs[i%startWalletAddresses], PublicName: &name, Status: status}
		var err error
		for range startUpdateAttempts {
			_, err = wallets.Update(ctx, c)
			if err == nil || apperr.KindOf(err) != apperr.NotFound {
				break
			}
			notFound.Add(1)
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("update wallet address %d (%d times not found): %w", i%startWalletAddresses, notFound.Load(), err)
		}
		return nil
	})
	// updateFound: the wallet address of an update is looked up by its id
	// under any tenant (the last message of events.*.wallet_address.<id>);
	// under load that lookup has been seen to find nothing for a wallet
	// address stored minutes before, and to find it when asked again.
	b.Logf("wallet address updates: %d lookups found no wallet address and were asked again", notFound.Load())
	return err
}

// parallel runs f for 0..n-1 on startLoaders goroutines, logging progress,
// and returns the first error (the others stop taking work then).
func parallel(b *testing.B, what string, n int, f func(i int) error) error {
	var next, done atomic.Int64
	var failed atomic.Bool
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	start := time.Now()
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Second):
				b.Logf("%s: %d of %d in %s", what, done.Load(), n, time.Since(start).Round(time.Second))
			}
		}
	}()
	for range startLoaders {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	close(stop)
	if first == nil {
		b.Logf("%s: %d in %s", what, n, time.Since(start).Round(time.Millisecond))
	}
	return first
}
