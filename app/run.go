package app

import (
	"context"
	"fmt"
	"github.com/rafiki-go/rafiki/examplewallet"
	"log/slog"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/projections"
)

// Set names the services one process runs.
type Set struct {
	Backend, Auth, Worker, AdminUI bool
	// ExampleWallet runs the example wallet beside a backend, as the
	// recipient of its webhooks and its exchange rates service unless
	// WEBHOOK_URL and EXCHANGE_RATES_URL say otherwise.
	ExampleWallet bool
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
	// stopWebhooks stops the webhook deliveries and waits for them.
	stopWebhooks func()
	background   sync.WaitGroup
}

// Start binds the ports of the set's services, opens their connections and
// starts serving. dev means all services share this process: NATS is
// embedded unless NATS_URL is set, and the auth admin port is
// AUTH_ADMIN_PORT.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger, set Set, dev bool) (*Running, error) {
	r := &Running{Config: cfg, log: log}
	// EXAMPLE_WALLET_PORT=0 leaves the example wallet out.
	set.ExampleWallet = set.ExampleWallet && cfg.ExampleWalletPort != 0
	if set.Backend {
		r.Listeners = append(r.Listeners, BackendListeners(cfg)...)
	}
	if set.Auth {
		r.Listeners = append(r.Listeners, AuthListeners(cfg, dev)...)
	}
	if set.AdminUI {
		r.Listeners = append(r.Listeners, AdminUIListeners(cfg)...)
	}
	if set.ExampleWallet {
		r.Listeners = append(r.Listeners, ExampleWalletListeners(cfg)...)
	}
	if set.Worker && !set.Backend && cfg.WorkerHealthPort != 0 {
		r.Listeners = append(r.Listeners, WorkerListeners(cfg)...)
	}
	servers, err := Bind(r.Listeners, cfg.RequestTimeout, log)
	if err != nil {
		return nil, err
	}
	r.Servers = servers
	if set.ExampleWallet && set.Backend {
		if err := r.aimAtExampleWallet(); err != nil {
			servers.Close()
			return nil, err
		}
	}
	if err := r.open(ctx, set, dev); err != nil {
		servers.Close()
		if r.Deps != nil {
			r.Deps.Close()
		}
		return nil, err
	}
	if set.AdminUI {
		if err := r.serveAdminUI(ctx, set.Backend); err != nil {
			r.Stop(ctx)
			servers.Close()
			return nil, err
		}
	}
	var wallet *examplewallet.Wallet
	if set.ExampleWallet {
		wallet = r.serveExampleWallet()
	}
	servers.Serve()
	if wallet != nil {
		r.seedExampleWallet(wallet)
	}
	return r, nil
}

func (r *Running) open(ctx context.Context, set Set, dev bool) error {
	if !set.Backend && !set.Worker && !set.Auth {
		return nil
	}
	deps, err := Open(ctx, r.Config, r.log, set, dev)
	if err != nil {
		return err
	}
	r.Deps = deps
	if err := deps.PrepareProjections(ctx); err != nil {
		return err
	}
	work, cancel := context.WithCancel(context.Background())
	r.cancelWork = cancel
	// What every listener needs: the databases, the event store, and the
	// projections this process leads.
	var base []Check
	var pools []*pgxpool.Pool
	if deps.Pool != nil {
		base, pools = append(base, PostgresCheck(deps.Pool)), append(pools, deps.Pool)
	}
	if deps.AuthPool != nil {
		base, pools = append(base, AuthPostgresCheck(deps.AuthPool)), append(pools, deps.AuthPool)
	}
	base = append(base, NATSCheck(deps.NC))
	if deps.Embedded != nil {
		base = append(base, EventStoreDiskCheck(deps.Embedded))
		r.background.Go(func() { deps.Embedded.KeepWritable(work) })
	}
	var runners []*projections.Runner
	var webhooksCheck []Check
	if deps.Checkpoints != nil {
		r.background.Go(func() { deps.Checkpoints.Run(work) })
	}
	if set.Worker {
		var wg *sync.WaitGroup
		if runners, wg, err = deps.RunProjections(work); err != nil {
			return err
		}
		r.background.Go(wg.Wait)
		deliveries, stopDeliveries := context.WithCancel(work)
		dispatcher, hooks := deps.RunWebhooks(deliveries)
		r.stopWebhooks = func() { stopDeliveries(); hooks.Wait() }
		r.background.Go(hooks.Wait)
		webhooksCheck = []Check{WebhooksCheck(dispatcher, deps.Pool)}
		cleanup := deps.RunTokenCleanup(work, r.Config.AccessTokenDeletion, TokenCleanupInterval)
		r.background.Go(cleanup.Wait)
	}
	// Every process tells of events set aside; stuck runners only where
	// they run.
	base = append(base, ProjectionsCheck(runners, pools...))
	base = append(base, webhooksCheck...)
	for _, l := range r.Listeners {
		r.Servers.SetHealth(l.Name, NewHealth(base...))
	}
	if set.Auth {
		if r.Auth, err = NewAuth(work, deps); err != nil {
			return err
		}
		r.background.Go(func() { r.Auth.Waiter.Run(work) })
		// Lookups that miss wait on the auth database's checkpoints; the
		// admin API's signatures and the interaction's sessions need Redis.
		for _, l := range AuthListeners(r.Config, dev) {
			r.Servers.SetHealth(l.Name, NewHealth(slices.Concat(base, []Check{RedisCheck(deps.Redis), WaiterCheck(r.Auth.Waiter)})...))
		}
		r.Servers.Handle(AuthListener, r.Auth.Server.Routes())
		r.Servers.Handle(InteractionListener, r.Auth.Server.InteractionRoutes())
		r.Servers.Handle(AuthAdminListener, r.Auth.AdminHandler(deps))
		r.Servers.Handle(IntrospectionListener, r.Auth.Introspection)
	}
	if set.Backend {
		r.Backend = NewBackend(deps)
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
		op, err := r.Backend.OpenPaymentsHandler(work, deps)
		if err != nil {
			return err
		}
		r.Servers.Handle(OpenPaymentsListener, op)
		conn, published, err := NewConnector(work, deps, r.Backend)
		if err != nil {
			return err
		}
		// Stopped after the listeners, so that it sends what their last
		// packets brought.
		r.background.Go(func() { published.Run(work) })
		// Packets need the databases, not NATS: the connector serves on
		// while NATS is out of reach.
		connectorChecks := []Check{OutcomesCheck(published)}
		if deps.Pool != nil {
			connectorChecks = append(connectorChecks, PostgresCheck(deps.Pool))
		}
		r.Servers.SetHealth(ConnectorListener, NewHealth(connectorChecks...))
		r.Servers.Handle(ConnectorListener, conn)
	}
	if set.Worker {
		// Commands run after the backend, if this process is one: outgoing
		// payments are sent through its connector. A worker alone makes
		// its own, which only sends.
		b := r.Backend
		if b == nil {
			b = NewBackend(deps)
			_, published, err := NewConnector(work, deps, b)
			if err != nil {
				return err
			}
			r.background.Go(func() { published.Run(work) })
		}
		workers := deps.RunCommands(work, b)
		r.background.Go(workers.Wait)
		expiry := deps.RunIncomingPaymentExpiry(work, b.IncomingPayments, b.Read, runners)
		r.background.Go(expiry.Wait)
	}
	return nil
}

// Stop drains the process: listeners stop accepting and finish requests in
// flight, background work finishes its batch, connections close.
func (r *Running) Stop(ctx context.Context) {
	// Webhooks first: their receivers (the example wallet, a wallet in
	// front of this process) answer them by calling the admin API, which
	// would be gone. A delivery cut short is made again after its lease
	// and does not count as an attempt.
	if r.stopWebhooks != nil {
		r.stopWebhooks()
	}
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
