package app

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/adminapi"
	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/liquidity"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/handlers/peer"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/httpsig"
	"github.com/rafiki-go/rafiki/opclient"
	"github.com/rafiki-go/rafiki/openpayments"
	"github.com/rafiki-go/rafiki/outbound"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/rates"
	"github.com/rafiki-go/rafiki/readmodel"
	"github.com/rafiki-go/rafiki/receiver"
)

// Projections are the read models of the backend's database this build
// keeps; keys open the secrets of the events they apply (nil will do where
// only their names matter).
func Projections(keys projections.Opener) []projections.Projection {
	return []projections.Projection{
		projections.Tenants{Secrets: keys}, projections.Assets{}, projections.WalletAddresses{}, projections.WalletAddressKeys{},
		projections.Peers{Secrets: keys}, projections.IncomingPayments{}, projections.Quotes{}, projections.Webhooks{},
		projections.OutgoingPayments{}, projections.OutgoingPaymentGrants{},
	}
}

// AuthProjections are the read models of the auth service's database.
func AuthProjections() []projections.Projection {
	return []projections.Projection{projections.Grants{}}
}

// ProjectionNames are the names of every projection, of both databases.
func ProjectionNames() []string {
	var names []string
	for _, p := range append(Projections(nil), AuthProjections()...) {
		names = append(names, p.Name())
	}
	return names
}

// Projection finds a projection of either database by name; auth tells
// that its read model is in the auth service's database.
func Projection(name string, keys projections.Opener) (p projections.Projection, auth bool, found bool) {
	for _, p := range Projections(keys) {
		if p.Name() == name {
			return p, false, true
		}
	}
	for _, p := range AuthProjections() {
		if p.Name() == name {
			return p, true, true
		}
	}
	return nil, false, false
}

// RunProjections keeps the projections of the open databases up to date
// until ctx ends. Any number of processes may do this: each projection is
// read by one of them. The runners of each database have a pool of their
// own, one connection for each (a runner uses one at a time, its rebuilds
// included), so that requests and projections never wait for each other's
// connections.
func (d *Deps) RunProjections(ctx context.Context) ([]*projections.Runner, *sync.WaitGroup, error) {
	var runners []*projections.Runner
	var wg sync.WaitGroup
	for _, set := range []struct {
		name  string
		pool  *pgxpool.Pool
		projs []projections.Projection
	}{
		{"projections", d.Pool, Projections(d.Keys)},
		{"auth projections", d.AuthPool, AuthProjections()},
	} {
		if set.pool == nil {
			continue
		}
		cfg := set.pool.Config().Copy()
		cfg.MaxConns = int32(len(set.projs))
		cfg.MinConns = 0
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("%s pool: %w", set.name, err)
		}
		var running sync.WaitGroup
		for _, p := range set.projs {
			r := projections.NewRunner(pool, d.JS, EventsStream, p, d.Log)
			runners = append(runners, r)
			running.Go(func() { _ = r.Run(ctx) })
		}
		wg.Go(func() {
			running.Wait()
			pool.Close()
		})
	}
	return runners, &wg, nil
}

// Enqueue puts a command on the work queue, to run at at (at once when at
// is zero).
func (d *Deps) Enqueue(ctx context.Context, subject, id string, at time.Time, command any) error {
	return commands.EnqueueAt(ctx, d.JS, subject, id, at, command)
}

// RunCommands runs the command worker, and the senders of outgoing
// payments that follow the payments' events, until ctx ends, then lets the
// work under way finish. Any number of processes may: each command, and
// each payment's event, goes to one of them. Outgoing payments are sent
// through b's connector.
func (d *Deps) RunCommands(ctx context.Context, b *Backend) *sync.WaitGroup {
	l := liquidity.NewHandler(d.Store, d.Ledger, d.Enqueue)
	g, _ := NewGrants(d)
	payments := incomingpayment.NewHandler(d.Store, d.Ledger, d.Config.IncomingPaymentExpiryMax)
	w := &commands.Worker{JS: d.JS, Stream: CommandsStream, Consumer: "worker_commands",
		PoisonSubject: commands.PoisonSubject, Log: d.Log,
		Handlers: map[string]commands.Handler{
			commands.ExpireWithdrawalSubject:       l.ExpireWithdrawal,
			commands.CompleteTransferSubject:       l.CompleteTransfer,
			commands.ExpireInteractionSubject:      g.ExpireInteraction,
			commands.ExpireIncomingPaymentSubject:  payments.Expire,
			commands.ReceiveIncomingPaymentSubject: payments.Receive,
			commands.SendOutgoingPaymentSubject:    b.OutgoingPayments.Send,
		}}
	senders := &commands.Worker{JS: d.JS, Stream: EventsStream, Consumer: "worker_outgoing_payments",
		PoisonSubject: commands.PoisonSubject, Log: d.Log,
		Handlers: map[string]commands.Handler{"events.*." + outgoingpayment.AggregateType + ".*": b.OutgoingPayments.SendFunded}}
	var wg sync.WaitGroup
	for _, w := range []*commands.Worker{w, senders} {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := w.Run(ctx); err != nil {
					d.Log.Error("command worker stopped; restarting", "consumer", w.Consumer, "err", err)
					select {
					case <-ctx.Done():
					case <-time.After(time.Second):
					}
				}
			}
		})
	}
	return &wg
}

// PrepareProjections creates the tables of the read models of the open
// databases, so that readers can query them before the first event.
func (d *Deps) PrepareProjections(ctx context.Context) error {
	if d.Pool != nil {
		for _, p := range Projections(d.Keys) {
			if err := projections.Prepare(ctx, d.Pool, p); err != nil {
				return err
			}
		}
	}
	if d.AuthPool != nil {
		for _, p := range AuthProjections() {
			if err := projections.Prepare(ctx, d.AuthPool, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// ProjectionPool is the pool of the database a projection's read model is
// in: the auth service's for its projections, the backend's otherwise.
func (d *Deps) ProjectionPool(auth bool) *pgxpool.Pool {
	if auth {
		return d.AuthPool
	}
	return d.Pool
}

// Backend is the backend service: Open Payments, the admin API, the ILP
// connector.
type Backend struct {
	Tenants         *tenant.Handler
	Assets          *asset.Handler
	WalletAddresses *walletaddress.Handler
	Peers           *peer.Handler
	Liquidity       *liquidity.Handler
	// IncomingPayments is what the admin API and, later, Open Payments
	// and the connector act on incoming payments with.
	IncomingPayments *incomingpayment.Handler
	Quotes           *quote.Handler
	OutgoingPayments *outgoingpayment.Handler
	// Rates converts between assets with the operator's or a tenant's
	// exchange rates, for quotes and the connector.
	Rates        *rates.Service
	Read         *readmodel.Reader
	Waiter       *projections.Waiter
	WalletServer *openpayments.WalletAddresses
	// Receivers resolve incoming payments by URL; remote ones over Open
	// Payments with grants this process holds.
	Receivers      *receiver.Service
	settingsClient *http.Client
	// probes is where quotes probe paths, and payer where outgoing
	// payments are sent, once the connector runs.
	probes *prober
	payer  *payer
}

// FailpointLiquidityAfterRequest (RAFIKI_FAILPOINT) kills the process right
// after it stored a liquidity request, before the ledger moves the money:
// the system tests show that such a request is completed after a restart.
const FailpointLiquidityAfterRequest = "liquidity_after_request"

// killSelf ends the process at once, as a crash would: nothing deferred
// runs and nothing is flushed.
func killSelf() error {
	if err := syscall.Kill(os.Getpid(), syscall.SIGKILL); err != nil {
		return err
	}
	select {}
}

// NewBackend builds the backend's handlers on open connections.
func NewBackend(d *Deps) *Backend {
	read := readmodel.NewReader(d.Pool, d.Ledger)
	waiter := d.Checkpoints
	settings := settingsClient()
	exchange := rates.New(d.Config.ExchangeRatesURL, tenantRatesURL(d), d.Config.ExchangeRatesLifetime, settings)
	liquidityHandler := liquidity.NewHandler(d.Store, d.Ledger, d.Enqueue)
	if d.Config.Failpoint == FailpointLiquidityAfterRequest {
		d.Log.Warn("failpoint armed: the process kills itself after it stores a liquidity request", "failpoint", d.Config.Failpoint)
		liquidityHandler.AfterRequest(killSelf)
	}
	payments := incomingpayment.NewHandler(d.Store, d.Ledger, d.Config.IncomingPaymentExpiryMax)
	client := opclient.New(outbound.NewClient(outbound.Options{UseHTTP: d.Config.UseHTTP}), d.ClientKey, d.Config.KeyID, d.Config.WalletAddressURL)
	probes := &prober{}
	pays := &payer{ledger: d.Ledger, incoming: payments}
	receivers := receiver.New(payments, read, client, opclient.NewGrants(client),
		receiver.Config{OpenPaymentsURL: d.Config.OpenPaymentsURL, WalletAddressTTL: d.Config.LocalCacheDuration}, d.Log)
	quotes := quote.NewHandler(d.Store, quoteReceivers{receivers}, exchange, probes, d.Config.Slippage, d.Config.QuoteLifespan)
	outgoing := outgoingpayment.NewHandler(handlers.SealSecrets(d.Store, d.Keys), d.Ledger, quoteReceivers{receivers}, quotes, pays, d.Enqueue,
		d.Config.OutgoingPaymentRetryAttempts)
	if waiter != nil {
		changes := walletAddressChanges(waiter)
		payments.TrustWalletAddresses(changes, d.Config.LocalCacheDuration)
		quotes.TrustWalletAddresses(changes, d.Config.LocalCacheDuration)
		outgoing.TrustWalletAddresses(changes, d.Config.LocalCacheDuration)
	}
	tenants := tenant.NewHandler(handlers.SealSecrets(d.Store, d.Keys), d.Config.OperatorTenantID, d.Config.ILPAddress,
		d.Config.OpenPaymentsURL)
	return &Backend{
		Tenants:          tenants,
		Assets:           asset.NewHandler(d.Store, read.AssetInUse),
		WalletAddresses:  walletaddress.NewHandler(d.Store, d.Config.OpenPaymentsURL),
		Peers:            peer.NewHandler(handlers.SealSecrets(d.Store, d.Keys)),
		Liquidity:        liquidityHandler,
		IncomingPayments: payments,
		Quotes:           quotes,
		OutgoingPayments: outgoing,
		probes:           probes,
		payer:            pays,
		Rates:            exchange,
		settingsClient:   settings,
		Read:             read,
		Waiter:           waiter,
		WalletServer: openpayments.NewWalletAddresses(read, openpayments.Config{
			OpenPaymentsURL: d.Config.OpenPaymentsURL, AuthServerGrantURL: d.Config.AuthServerGrantURL,
			CacheTTL: d.Config.LocalCacheDuration,
			Applied:  func() uint64 { return waiter.Applied(projections.WalletAddresses{}.Name()) },
			SPSP:     d.Config.EnableSPSP, Stream: d.StreamCredentials, ILPAddress: d.Config.ILPAddress, TrustProxy: d.Config.TrustProxy,
			ClientWalletAddress: d.Config.WalletAddressURL, ClientKey: httpsig.PublicJWK(d.ClientKey, d.Config.KeyID),
			NotFoundPolling: d.Config.WalletAddressNotFoundPolling, NotFound: walletAddressMisses(d),
			LookupTimeout: d.Config.WalletAddressLookupTimeout, PollingFrequency: d.Config.WalletAddressPollingFrequency,
		}, d.Log),
		Receivers: receivers,
	}
}

// SeedOperator makes sure the operator tenant exists with ADMIN_API_SECRET,
// then waits, up to READ_YOUR_WRITES_TIMEOUT_MS, until the tenants read
// model holds it: the first requests after a start read it (an asset's
// tenant). A backend whose workers are not running yet starts anyway,
// saying what it did not see.
func (b *Backend) SeedOperator(ctx context.Context, d *Deps) error {
	res, err := b.Tenants.EnsureOperator(ctx, d.Config.AdminAPISecret)
	if err != nil {
		return fmt.Errorf("seed operator tenant %s: %w", d.Config.OperatorTenantID, err)
	}
	if err := b.Waiter.Wait(ctx, projections.Tenants{}.Name(), res.Sequence, d.Config.ReadYourWritesTimeout); err != nil {
		d.Log.Warn("serving before the tenants read model holds the operator tenant", "err", err)
	}
	return nil
}

// operatorSecrets answers for the operator from configuration, so that the
// operator can sign requests before any projection has run, and for every
// other tenant from read (the tenants read model, or tenant events).
type operatorSecrets struct {
	operatorID, secret string
	read               adminauth.Secrets
}

func (s operatorSecrets) APISecret(ctx context.Context, tenantID string) (string, bool, error) {
	if tenantID == s.operatorID {
		return s.secret, true, nil
	}
	return s.read.APISecret(ctx, tenantID)
}

// AdminHandler is the signed admin GraphQL endpoint.
func (b *Backend) AdminHandler(d *Deps) http.Handler {
	cfg := d.Config
	gql := adminapi.Handler(&adminapi.Resolver{
		Tenants: b.Tenants, Assets: b.Assets, WalletAddresses: b.WalletAddresses, Peers: b.Peers, Liquidity: b.Liquidity,
		IncomingPayments: b.IncomingPayments, Receivers: b.Receivers, Quotes: b.Quotes, OutgoingPayments: b.OutgoingPayments, Read: b.Read, Waiter: b.Waiter,
		OpenPaymentsURL:       cfg.OpenPaymentsURL,
		ReadYourWritesTimeout: cfg.ReadYourWritesTimeout, CommandKey: []byte(cfg.AdminAPISecret),
	}, adminapi.Options{Introspection: cfg.GraphQLIntrospection, Log: d.Log, Idempotency: adminapi.Idempotency{
		Redis: d.Redis, TTL: cfg.GraphQLIdempotencyTTL, Lock: cfg.GraphQLIdempotencyLock,
	}})
	auth := adminauth.Middleware(adminauth.Config{
		OperatorSecret: cfg.AdminAPISecret, SignatureVersion: cfg.AdminSignatureVersion, TTL: cfg.AdminSignatureTTL,
	}, operatorSecrets{operatorID: cfg.OperatorTenantID, secret: cfg.AdminAPISecret, read: b.Read}, d.Redis, d.Log)
	r := chi.NewRouter()
	r.Handle("/graphql", auth(gql))
	return r
}

// Listener names.
const (
	OpenPaymentsListener  = "Open Payments API"
	AdminListener         = "backend admin GraphQL API"
	ConnectorListener     = "ILP connector"
	AuthListener          = "GNAP authorization server"
	IntrospectionListener = "token introspection"
	InteractionListener   = "interaction server"
	AuthAdminListener     = "auth admin GraphQL API"
	ServiceAPIListener    = "auth service API"
	AdminUIListener       = "admin UI"
	ExampleWalletListener = "example wallet"
	WorkerHealthListener  = "worker health"
)

// BackendListeners are the backend's ports.
func BackendListeners(c config.Config) []Listener {
	return []Listener{
		{Name: OpenPaymentsListener, EnvVar: "OPEN_PAYMENTS_PORT", Port: c.OpenPaymentsPort},
		{Name: AdminListener, EnvVar: "ADMIN_PORT", Port: c.AdminPort},
		{Name: ConnectorListener, EnvVar: "CONNECTOR_PORT", Port: c.ConnectorPort},
	}
}

// AuthListeners are the auth service's ports. In dev the auth admin port is
// AUTH_ADMIN_PORT, since both services run in one process.
func AuthListeners(c config.Config, dev bool) []Listener {
	adminVar := "ADMIN_PORT"
	if dev {
		adminVar = "AUTH_ADMIN_PORT"
	}
	return []Listener{
		{Name: AuthListener, EnvVar: "AUTH_PORT", Port: c.AuthPort},
		{Name: IntrospectionListener, EnvVar: "INTROSPECTION_PORT", Port: c.IntrospectionPort},
		{Name: InteractionListener, EnvVar: "INTERACTION_PORT", Port: c.InteractionPort},
		{Name: AuthAdminListener, EnvVar: adminVar, Port: c.AuthAdminPort},
		{Name: ServiceAPIListener, EnvVar: "SERVICE_API_PORT", Port: c.ServiceAPIPort},
	}
}

// WorkerListeners are the ports of a worker that runs without a backend,
// when WORKER_HEALTH_PORT is set: only its health endpoints. Unset by
// default, so that any number of workers can run on one host.
func WorkerListeners(c config.Config) []Listener {
	return []Listener{{Name: WorkerHealthListener, EnvVar: "WORKER_HEALTH_PORT", Port: c.WorkerHealthPort}}
}

// ExampleWalletListeners are the example wallet's ports.
func ExampleWalletListeners(c config.Config) []Listener {
	return []Listener{{Name: ExampleWalletListener, EnvVar: "EXAMPLE_WALLET_PORT", Port: c.ExampleWalletPort}}
}

// AdminUIListeners are the admin UI's ports.
func AdminUIListeners(c config.Config) []Listener {
	return []Listener{{Name: AdminUIListener, EnvVar: "ADMIN_UI_PORT", Port: c.AdminUIPort}}
}

// walletAddressChanges is how far this database's read models of wallet
// addresses and assets applied their events, as the waiter hears it;
// unknown while the waiter does not follow the checkpoints.
func walletAddressChanges(w *projections.Waiter) func() (walletaddress.Progress, bool) {
	return func() (walletaddress.Progress, bool) {
		if !w.Connected() {
			return walletaddress.Progress{}, false
		}
		return walletaddress.Progress{WalletAddresses: w.Applied(projections.WalletAddresses{}.Name()),
			Assets: w.Applied(projections.Assets{}.Name())}, true
	}
}
