package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/projections"
)

// Set names the services one process runs.
type Set struct {
	Backend, Auth, Worker, AdminUI bool
}

// Running is a started process: its listeners, connections and background
// work.
type Running struct {
	Config     config.Config
	Listeners  []Listener
	Servers    *Servers
	Deps       *Deps // nil when no service of the set needs connections
	Backend    *Backend
	Auth       *Auth
	log        *slog.Logger
	cancelWork context.CancelFunc
	background sync.WaitGroup
}

// Start binds the ports of the set's services, opens their connections and
// starts serving. dev means all services share this process: NATS is
// embedded unless NATS_URL is set, and the auth admin port is
// AUTH_ADMIN_PORT.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger, set Set, dev bool) (*Running, error) {
	r := &Running{Config: cfg, log: log}
	if set.Backend {
		r.Listeners = append(r.Listeners, BackendListeners(cfg)...)
	}
	if set.Auth {
		r.Listeners = append(r.Listeners, AuthListeners(cfg, dev)...)
	}
	if set.AdminUI {
		r.Listeners = append(r.Listeners, AdminUIListeners(cfg)...)
	}
	if set.Worker && !set.Backend && cfg.WorkerHealthPort != 0 {
		r.Listeners = append(r.Listeners, WorkerListeners(cfg)...)
	}
	servers, err := Bind(r.Listeners, cfg.RequestTimeout, log)
	if err != nil {
		return nil, err
	}
	r.Servers = servers
	if err := r.open(ctx, set, dev); err != nil {
		servers.Close()
		if r.Deps != nil {
			r.Deps.Close()
		}
		return nil, err
	}
	servers.Serve()
	return r, nil
}

func (r *Running) open(ctx context.Context, set Set, dev bool) error {
	if !set.Backend && !set.Worker {
		return nil
	}
	deps, err := Open(ctx, r.Config, r.log, dev)
	if err != nil {
		return err
	}
	r.Deps = deps
	if err := deps.PrepareProjections(ctx); err != nil {
		return err
	}
	work, cancel := context.WithCancel(context.Background())
	r.cancelWork = cancel
	// What every listener needs: the database, the event store, and the
	// projections this process leads.
	base := []Check{PostgresCheck(deps.Pool), NATSCheck(deps.NC)}
	var runners []*projections.Runner
	if set.Worker {
		var wg *sync.WaitGroup
		if runners, wg, err = deps.RunProjections(work); err != nil {
			return err
		}
		r.background.Go(wg.Wait)
		workers := deps.RunCommands(work)
		r.background.Go(workers.Wait)
	}
	// Every process tells of events set aside; stuck runners only where
	// they run.
	base = append(base, ProjectionsCheck(deps.Pool, runners))
	for _, l := range r.Listeners {
		r.Servers.SetHealth(l.Name, NewHealth(base...))
	}
	if set.Backend {
		r.Backend = NewBackend(deps)
		r.background.Go(func() { r.Backend.Waiter.Run(work) })
		if err := r.Backend.SeedOperator(ctx, deps); err != nil {
			return err
		}
		// Signed requests need Redis (the replay guard) and mutations the
		// checkpoints of their read models.
		r.Servers.SetHealth(AdminListener, NewHealth(append(base, RedisCheck(deps.Redis), WaiterCheck(r.Backend.Waiter))...))
		r.Servers.Handle(AdminListener, r.Backend.AdminHandler(deps))
		if err := r.Backend.WalletServer.Follow(work, deps.JS, EventsStream); err != nil {
			return err
		}
		r.Servers.Handle(OpenPaymentsListener, r.Backend.WalletServer)
	}
	if set.Auth && deps.AuthGrants != nil {
		return r.mountAuth(deps, base)
	}
	return nil
}

// Stop drains the process: listeners stop accepting and finish requests in
// flight, background work finishes its batch, connections close.
func (r *Running) Stop(ctx context.Context) {
	r.Servers.Shutdown(ctx)
	if r.cancelWork != nil {
		r.cancelWork()
	}
	r.background.Wait()
	if r.Deps != nil {
		r.Deps.Close()
	}
}

// URL is the base URL of a listener.
func (r *Running) URL(name string) (string, error) {
	addr, ok := r.Servers.Addr(name)
	if !ok {
		return "", fmt.Errorf("no listener %q", name)
	}
	return "http://" + addr, nil
}
