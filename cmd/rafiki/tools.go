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
	if err := app.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	if err := migrations.Up(config.ConnectionURL(cfg.DatabaseURL)); err != nil {
		return err
	}
	fmt.Println("migrations applied")
	return nil
}

// openForTool connects a tool: to NATS_URL, else to the server a running
// dev embeds, else to an embedded server of its own on DATA_DIR's store.
func openForTool(ctx context.Context) (*app.Deps, error) {
	cfg, err := config.Load("backend")
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if cfg.NATSURL == "" {
		local := fmt.Sprintf("nats://127.0.0.1:%d", cfg.EmbeddedNATSPort)
		if nc, err := nats.Connect(local, nats.Timeout(time.Second)); err == nil {
			nc.Close()
			cfg.NATSURL = local
		} else {
			cfg.EmbeddedNATSPort = -1
		}
	}
	return app.Open(ctx, cfg, log, true)
}

func streamsCommand(args []string) error {
	if len(args) != 1 || args[0] != "apply" {
		return fmt.Errorf("usage: rafiki streams apply")
	}
	ctx := context.Background()
	cfg, err := config.Load("backend")
	if err != nil {
		return err
	}
	deps, err := openForTool(ctx)
	if err != nil {
		return err
	}
	defer deps.Close()
	// Open applied the declaration already; a second pass reports that
	// nothing is left to change.
	changes, err := streams.Apply(ctx, deps.JS, deps.Streams, cfg.NATSStreamReplicas, deps.Log)
	if err != nil {
		return err
	}
	fmt.Printf("streams applied: %d streams, %d consumers declared; %d created, %d updated on this pass\n",
		len(deps.Streams.Streams), len(deps.Streams.Consumers), changes.Created, changes.Updated)
	return nil
}

func replay(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: rafiki replay <projection>")
	}
	p, ok := app.Projection(args[0])
	if !ok {
		var names []string
		for _, p := range app.Projections() {
			names = append(names, p.Name())
		}
		return fmt.Errorf("no projection %q (projections: %v)", args[0], names)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	deps, err := openForTool(ctx)
	if err != nil {
		return err
	}
	defer deps.Close()
	consumer, ok := deps.Streams.Consumer(projections.ConsumerName(p))
	if !ok || len(consumer.FilterSubjects) != 1 {
		return fmt.Errorf("streams.yaml must declare consumer %s with one filter subject", projections.ConsumerName(p))
	}
	report := newReporter(p.Name())
	start := time.Now()
	last, err := projections.Replay(ctx, deps.Pool, deps.JS, app.EventsStream, p, consumer.FilterSubjects[0], report.update)
	report.finish()
	if err != nil {
		return err
	}
	fmt.Printf("replayed %s: %d events in %s, checkpoint %d, swapped in\n", p.Name(), report.applied, time.Since(start).Round(time.Millisecond), last)
	if report.setAside > 0 {
		fmt.Printf("%d events still cannot be applied and are set aside: SELECT * FROM projection_set_aside WHERE projection = '%s'\n",
			report.setAside, p.Name())
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
	deps, err := openForTool(ctx)
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
			fmt.Printf("%d  %s  %-28s %s/%s  tenant %s  cause %s\n", env.Sequence, env.Time.Format(time.RFC3339Nano),
				env.Type, env.AggregateType, env.AggregateID, env.TenantID, env.CausationID)
			fmt.Printf("    %s\n", env.Data)
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
	deps, err := openForTool(ctx)
	if err != nil {
		return err
	}
	defer deps.Close()
	imbalances, err := deps.Ledger.Check(ctx)
	if err != nil {
		return err
	}
	if len(imbalances) == 0 {
		fmt.Println("ledger check: every ledger balances")
		return nil
	}
	for _, im := range imbalances {
		fmt.Printf("ledger %d: posted debits %d, posted credits %d\n", im.Ledger, im.Debits, im.Credits)
		for _, account := range im.Accounts {
			fmt.Printf("  account %s: totals differ from its transfers, or it or one of its transfers breaks the ledger's rules\n", account)
		}
	}
	return errImbalanced
}
