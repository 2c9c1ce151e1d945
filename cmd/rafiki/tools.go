package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/streams"
)

func migrate() error {
	cfg, err := config.Load("backend")
	if err != nil {
		return err
	}
	ctx := context.Background()
	log := app.Logger(cfg)
	if err := app.EnsureDatabase(ctx, cfg.DatabaseURL, log); err != nil {
		return err
	}
	if err := migrations.Up(config.ConnectionURL(cfg.DatabaseURL)); err != nil {
		return err
	}
	if err := app.EnsureDatabase(ctx, cfg.AuthDatabaseURL, log); err != nil {
		return fmt.Errorf("AUTH_DATABASE_URL: %w", err)
	}
	if err := migrations.UpAuth(config.ConnectionURL(cfg.AuthDatabaseURL)); err != nil {
		return err
	}
	fmt.Println("migrations applied to DATABASE_URL and AUTH_DATABASE_URL")
	return nil
}

// openForTool connects a tool to what it needs and nothing else. NATS is
// NATS_URL, else the server a running dev embeds, else an embedded server
// of its own on DATA_DIR's store.
func openForTool(ctx context.Context, needs app.ToolNeeds) (*app.Deps, error) {
	cfg, err := config.Load("backend")
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if (needs.NATS || needs.Events) && cfg.NATSURL == "" {
		local := fmt.Sprintf("nats://127.0.0.1:%d", cfg.EmbeddedNATSPort)
		if nc, err := nats.Connect(local, nats.Timeout(time.Second)); err == nil {
			nc.Close()
			cfg.NATSURL = local
		} else {
			// A tool reads a store; it makes none where there is none.
			store := filepath.Join(cfg.DataDir, "nats")
			if _, err := os.Stat(store); err != nil {
				abs, _ := filepath.Abs(store)
				return nil, fmt.Errorf("no NATS_URL, no rafiki dev answering on EMBEDDED_NATS_PORT %d, and no store at %s: "+
					"set NATS_URL, or DATA_DIR to where rafiki dev keeps its store", cfg.EmbeddedNATSPort, abs)
			}
			cfg.EmbeddedNATSPort = -1
		}
		if needs.Events {
			// The tools share dev's store, and so its key.
			if cfg.EventSecretsKey, err = app.EventSecretsKey(cfg); err != nil {
				return nil, err
			}
		}
	}
	return app.OpenTool(ctx, cfg, log, needs, true)
}

// errStreamsDiffer makes `rafiki streams check` exit non-zero.
var errStreamsDiffer = errors.New("the streams differ from streams.yaml")

// streamsCommand applies the declaration, the one way besides dev to
// change the streams, or checks the server against it.
func streamsCommand(args []string) error {
	if len(args) != 1 || (args[0] != "apply" && args[0] != "check") {
		return fmt.Errorf("usage: rafiki streams apply|check")
	}
	ctx := context.Background()
	deps, err := openForTool(ctx, app.ToolNeeds{NATS: true})
	if err != nil {
		return err
	}
	defer deps.Close()
	replicas := deps.Config.NATSStreamReplicas
	declared := fmt.Sprintf("%d streams, %d consumers declared", len(deps.Streams.Streams), len(deps.Streams.Consumers))
	if args[0] == "check" {
		mismatches, err := streams.Check(ctx, deps.JS, deps.Streams, replicas)
		if err != nil {
			return err
		}
		for _, m := range mismatches {
			fmt.Println(m)
		}
		if len(mismatches) > 0 {
			fmt.Printf("streams check: %s; %d differences\n", declared, len(mismatches))
			return errStreamsDiffer
		}
		fmt.Printf("streams check: %s; the server matches\n", declared)
		return nil
	}
	if replicas == 0 {
		fmt.Println("NATS_STREAM_REPLICAS is not set: new streams get one replica, existing streams keep theirs")
	}
	changes, err := streams.Apply(ctx, deps.JS, deps.Streams, replicas, deps.Log)
	for _, c := range changes.Created {
		fmt.Println("created", c)
	}
	for _, u := range changes.Updated {
		fmt.Println("updated", u)
	}
	if err != nil {
		return err
	}
	fmt.Printf("streams applied: %s; %d created, %d updated\n", declared, len(changes.Created), len(changes.Updated))
	return nil
}

func replay(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: rafiki replay <projection>")
	}
	_, auth, ok := app.Projection(args[0], nil)
	if !ok {
		return fmt.Errorf("no projection %q (projections: %v)", args[0], app.ProjectionNames())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	deps, err := openForTool(ctx, app.ToolNeeds{Events: true, Postgres: !auth, AuthPostgres: auth})
	if err != nil {
		return err
	}
	defer deps.Close()
	return replayOn(ctx, deps, args[0])
}

// replayOn rebuilds the named projection with deps, in the database its
// read model is in.
func replayOn(ctx context.Context, deps *app.Deps, name string) error {
	p, auth, ok := app.Projection(name, deps.Keys)
	if !ok {
		return fmt.Errorf("no projection %q", name)
	}
	consumer, ok := deps.Streams.Consumer(projections.ConsumerName(p))
	if !ok || len(consumer.FilterSubjects) != 1 {
		return fmt.Errorf("streams.yaml must declare consumer %s with one filter subject", projections.ConsumerName(p))
	}
	report := newReporter(p.Name())
	start := time.Now()
	last, err := projections.Replay(ctx, deps.ProjectionPool(auth), deps.JS, app.EventsStream, p, consumer.FilterSubjects[0], report.update)
	report.finish()
	if err != nil {
		return err
	}
	fmt.Printf("replayed %s: %d events in %s, checkpoint %d, swapped in\n", p.Name(), report.applied, time.Since(start).Round(time.Millisecond), last)
	if report.setAside > 0 {
		database := "DATABASE_URL"
		if auth {
			database = "AUTH_DATABASE_URL"
		}
		fmt.Printf("%d events still cannot be applied and are set aside: SELECT * FROM projection_set_aside WHERE projection = '%s' (in %s)\n",
			report.setAside, p.Name(), database)
	}
	return nil
}

// reporter shows replay progress: a bar on a terminal, a line a second
// otherwise.
type reporter struct {
	name     string
	bar      *progressbar.ProgressBar
	start    time.Time
	lastLine time.Time
	applied  uint64
	setAside int
}

func newReporter(name string) *reporter {
	return &reporter{name: name, start: time.Now()}
}

func (r *reporter) update(p projections.Progress) {
	r.applied, r.setAside = p.Applied, p.SetAside
	if term.IsTerminal(int(os.Stderr.Fd())) {
		if r.bar == nil {
			r.bar = progressbar.NewOptions64(int64(p.LastSequence),
				progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionSetDescription("replay "+r.name),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("seq"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond))
		}
		_ = r.bar.Set64(int64(min(p.Sequence, p.LastSequence)))
		return
	}
	if time.Since(r.lastLine) < time.Second && p.Sequence < p.LastSequence {
		return
	}
	r.lastLine = time.Now()
	elapsed := time.Since(r.start).Seconds()
	rate := float64(p.Applied) / max(elapsed, 0.001)
	eta := "0s"
	if p.Sequence < p.LastSequence && p.Sequence > 0 {
		remaining := time.Duration(elapsed * float64(p.LastSequence-p.Sequence) / float64(p.Sequence) * float64(time.Second))
		eta = remaining.Round(time.Second).String()
	}
	fmt.Fprintf(os.Stderr, "replay %s: sequence %d/%d, %d events, %.0f events/s, ETA %s\n",
		r.name, p.Sequence, p.LastSequence, p.Applied, rate, eta)
}

func (r *reporter) finish() {
	if r.bar != nil {
		_ = r.bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
}

func eventsCommand(args []string) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	at := fs.String("at", "", "show the object's state as of this time (RFC 3339)")
	if len(args) == 0 {
		return fmt.Errorf("usage: rafiki events <aggregate id> [--at <time>]")
	}
	id := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx := context.Background()
	deps, err := openForTool(ctx, app.ToolNeeds{NATS: true})
	if err != nil {
		return err
	}
	defer deps.Close()
	history, err := app.History(ctx, deps.JS, id)
	if err != nil {
		return err
	}
	if len(history) == 0 {
		return fmt.Errorf("no events for %s", id)
	}
	out := json.NewEncoder(os.Stdout)
	if *at == "" {
		for _, env := range history {
			by := env.Actor
			if by == "" {
				by = "system"
			}
			fmt.Printf("%d  %s  %-28s %s/%s  tenant %s  by %s  cause %s\n", env.Sequence, env.Time.Format(time.RFC3339Nano),
				env.Type, env.AggregateType, env.AggregateID, env.TenantID, by, env.CausationID)
			fmt.Printf("    %s\n", app.RedactedData(env))
		}
		return nil
	}
	moment, err := time.Parse(time.RFC3339Nano, *at)
	if err != nil {
		return fmt.Errorf("--at %q: want a time like 2026-11-26T10:00:00Z: %w", *at, err)
	}
	state, err := app.StateAt(history, moment)
	if err != nil {
		return err
	}
	out.SetIndent("", "  ")
	return out.Encode(state)
}

// errImbalanced makes `rafiki ledger check` exit non-zero.
var errImbalanced = errors.New("ledger check failed")

func ledgerCommand(args []string) error {
	if len(args) != 1 || args[0] != "check" {
		return fmt.Errorf("usage: rafiki ledger check")
	}
	ctx := context.Background()
	deps, err := openForTool(ctx, app.ToolNeeds{Ledger: true, NATS: true})
	if err != nil {
		return err
	}
	defer deps.Close()
	imbalances, err := deps.Ledger.Check(ctx)
	if err != nil {
		return err
	}
	discrepancies, err := app.CheckLiquidity(ctx, deps.JS, deps.Ledger)
	if err != nil {
		return err
	}
	if len(imbalances) == 0 && len(discrepancies) == 0 {
		fmt.Println("ledger check: every ledger balances, and events explain every deposit and withdrawal")
		return nil
	}
	for _, im := range imbalances {
		fmt.Printf("ledger %d: posted debits %d, posted credits %d\n", im.Ledger, im.Debits, im.Credits)
		for _, account := range im.Accounts {
			fmt.Printf("  account %s: totals differ from its transfers, or it or one of its transfers breaks the ledger's rules\n", account)
		}
	}
	for _, d := range discrepancies {
		fmt.Println(d)
	}
	return errImbalanced
}
