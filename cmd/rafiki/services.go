package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
)

// runServices runs a set of services until SIGINT or SIGTERM, then drains
// them.
func runServices(name string, dev bool, set app.Set) error {
	cfg, err := config.Load(name)
	if err != nil {
		return err
	}
	log := app.Logger(cfg).With("service", name)
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
