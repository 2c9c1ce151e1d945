package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
)

// servicesGCPercent is the services' garbage collection target when GOGC is
// not set. Their live heap is mostly the embedded NATS server's state per
// subject, which grows with the stream; at Go's default of 100, marking it
// took a tenth of a busy backend's CPU. 200 halves that for a larger heap
// under load only: at rest the live heap is small.
const servicesGCPercent = 200

// tuneGC applies servicesGCPercent unless GOGC says otherwise.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(servicesGCPercent)
	}
}

// runServices runs a set of services until SIGINT or SIGTERM, then drains
// them.
func runServices(name string, dev bool, set app.Set) error {
	tuneGC()
	cfg, err := config.Load(name)
	if err != nil {
		return err
	}
	log := app.Logger(cfg).With("service", name)
	for _, u := range config.Unread() {
		log.Warn("a setting of Rafiki's is set but not read here", "name", u.Name, "why", u.Why)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	running, err := app.Start(ctx, cfg, log, set, dev)
	if err != nil {
		return err
	}
	printURLs(running)
	log.Info("ready")
	<-ctx.Done()
	log.Info("shutting down")
	drain, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	running.Stop(drain)
	log.Info("stopped")
	return nil
}

func printURLs(r *app.Running) {
	for _, l := range r.Listeners {
		path := ""
		if l.Name == app.AdminListener || l.Name == app.AuthAdminListener {
			path = "/graphql"
		}
		fmt.Fprintf(os.Stdout, "  %-28s http://localhost:%d%s\n", l.Name, l.Port, path)
	}
	if r.Deps != nil && r.Deps.Embedded != nil {
		fmt.Fprintf(os.Stdout, "  %-28s %s (store %s)\n", "embedded NATS JetStream", r.Deps.Embedded.ClientURL(), r.Deps.Embedded.StoreDir())
	}
	if r.Backend != nil {
		fmt.Fprintf(os.Stdout, "  %-28s %s\n", "operator tenant", r.Config.OperatorTenantID)
	}
}
