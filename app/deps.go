// Package app wires the services together: it opens the connections a
// process needs, starts projections and listeners, and shuts them down in
// order.
package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	rafiki "github.com/rafiki-go/rafiki"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/connector/stream"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/ledger/postgres"
	"github.com/rafiki-go/rafiki/ledger/tigerbeetle"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/natsembed"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/secrets"
	"github.com/rafiki-go/rafiki/streams"
)

// EventsStream is the stream every domain event is kept in.
const EventsStream = "EVENTS"

// CommandsStream is the work queue of commands that can wait.
const CommandsStream = "COMMANDS"

// syncQueueLength holds the largest batch read through a synchronous
// subscription (1,000 events: an aggregate's load, the replay's swap, the
// audit) and its end-of-batch message; a batch larger than the queue is
// dropped by the client. Every batched read allocates a queue this long.
const syncQueueLength = 1024

// Deps are the connections of one process.
type Deps struct {
	Config   config.Config
	Log      *slog.Logger
	Embedded *natsembed.Server // nil when NATS_URL points elsewhere
	NC       *nats.Conn
	JS       jetstream.JetStream
	Streams  streams.Declaration
	Store    *eventstore.Store
	// Pool is the backend database's request pool (DATABASE_URL), open in
	// processes that run the backend or a worker.
	Pool *pgxpool.Pool
	// Checkpoints follows the checkpoints of the projections in Pool's
	// database, for the process's mutations (read-your-writes) and its
	// webhook dispatcher; one listening connection for the process, which
	// Run starts.
	Checkpoints *projections.Waiter
	// AuthPool is the auth service's database (AUTH_DATABASE_URL), where
	// its read models are, open in processes that run auth or a worker.
	AuthPool *pgxpool.Pool
	Redis    *redis.Client
	Ledger   ledger.Ledger
	// StreamCredentials make and open STREAM connection credentials.
	StreamCredentials *stream.Credentials
	// Keys seal and open the secrets events carry.
	Keys *secrets.Keyring
	// ClientKey signs the backend's requests to other wallets (KEY_ID,
	// PRIVATE_KEY_FILE).
	ClientKey ed25519.PrivateKey
}

// Open connects the services of set to NATS (embedding a server under dev
// when NATS_URL is not set), creates, migrates and opens the databases they
// use (the backend's for the backend and workers, the auth service's for
// auth and workers), and connects Redis. Only dev makes the streams match
// streams.yaml; any other service checks them and refuses to start, naming
// each difference, so that only `rafiki streams apply` changes the streams
// of a shared server.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, set Set, dev bool) (*Deps, error) {
	d := &Deps{Config: cfg, Log: log}
	backend, auth := set.Backend || set.Worker, set.Auth || set.Worker
	// The auth service opens the secrets of tenant events: identity
	// providers' and API secrets.
	keys := backend || set.Auth
	var masterKey []byte
	if backend {
		credentials, err := stream.NewCredentials(cfg.StreamSecret)
		if err != nil {
			return nil, err
		}
		d.StreamCredentials = credentials
		key, err := ClientKey(cfg, log)
		if err != nil {
			return nil, err
		}
		d.ClientKey = key
	}
	if keys {
		var err error
		if masterKey, err = EventSecretsKey(cfg); err != nil {
			return nil, err
		}
	}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	if err := d.connectNATS(dev); err != nil {
		return nil, err
	}
	if dev {
		if _, err := streams.Apply(ctx, d.JS, d.Streams, cfg.NATSStreamReplicas, log); err != nil {
			if cfg.NATSStreamReplicas > 1 {
				return nil, fmt.Errorf("streams with NATS_STREAM_REPLICAS=%d: %w", cfg.NATSStreamReplicas, err)
			}
			return nil, err
		}
	} else if err := CheckStreams(ctx, d.JS, d.Streams, cfg.NATSStreamReplicas); err != nil {
		return nil, err
	}
	store, err := eventstore.Open(ctx, d.JS, EventsStream, d.storeOptions()...)
	if err != nil {
		return nil, err
	}
	d.Store = store
	if keys {
		if err := d.openKeys(masterKey); err != nil {
			return nil, err
		}
	}
	if backend {
		if err := EnsureDatabase(ctx, cfg.DatabaseURL, log); err != nil {
			return nil, err
		}
		if err := migrations.Up(config.ConnectionURL(cfg.DatabaseURL)); err != nil {
			return nil, err
		}
		if d.Pool, err = OpenPool(ctx, cfg.DatabaseURL); err != nil {
			return nil, err
		}
		d.Checkpoints = projections.NewWaiter(d.Pool, log)
		if err := checkEventStream(ctx, d, d.Pool); err != nil {
			return nil, err
		}
	}
	if auth {
		if sameDatabase(cfg.DatabaseURL, cfg.AuthDatabaseURL) {
			return nil, fmt.Errorf("AUTH_DATABASE_URL names the database of DATABASE_URL: the auth service needs a database of its own")
		}
		if err := EnsureDatabase(ctx, cfg.AuthDatabaseURL, log); err != nil {
			return nil, fmt.Errorf("AUTH_DATABASE_URL: %w", err)
		}
		if err := migrations.UpAuth(config.ConnectionURL(cfg.AuthDatabaseURL)); err != nil {
			return nil, err
		}
		if d.AuthPool, err = OpenAuthPool(ctx, cfg.AuthDatabaseURL); err != nil {
			return nil, err
		}
		if err := checkEventStream(ctx, d, d.AuthPool); err != nil {
			return nil, fmt.Errorf("AUTH_DATABASE_URL: %w", err)
		}
	}
	redis.SetLogger(redisLog{log})
	if d.Redis, err = OpenRedis(ctx, cfg.RedisURL); err != nil {
		return nil, err
	}
	if backend {
		if d.Ledger, err = openLedger(ctx, cfg, d.Pool, log, false); err != nil {
			return nil, err
		}
	}
	ok = true
	return d, nil
}

// CheckStreams fails with a streams.MismatchError when the server differs
// from the declaration; replicas 0 accepts any number of replicas.
func CheckStreams(ctx context.Context, js jetstream.JetStream, decl streams.Declaration, replicas int) error {
	mismatches, err := streams.Check(ctx, js, decl, replicas)
	if err != nil {
		return err
	}
	if len(mismatches) > 0 {
		return &streams.MismatchError{Mismatches: mismatches}
	}
	return nil
}

// ToolNeeds are what a tool reads or writes; it opens nothing else.
type ToolNeeds struct {
	// NATS connects to JetStream and reads the declaration; no stream is
	// changed.
	NATS bool
	// Postgres opens the request pool on a database migrated to this
	// build; a tool does not migrate it.
	Postgres bool
	// AuthPostgres opens the auth database's pool, migrated to this build.
	AuthPostgres bool
	// Ledger opens the ledger (Postgres's unless USE_TIGERBEETLE is set).
	Ledger bool
	// Events opens the event store and the keyring that opens the secrets
	// its events carry (EVENT_SECRETS_KEY, or dev's key file); it implies
	// NATS.
	Events bool
}

// OpenTool connects a tool to what it needs only: an audit of the events
// needs no database, a ledger check no NATS. NATS is embedded when embed
// is set and NATS_URL is not.
func OpenTool(ctx context.Context, cfg config.Config, log *slog.Logger, needs ToolNeeds, embed bool) (*Deps, error) {
	d := &Deps{Config: cfg, Log: log}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	if needs.NATS || needs.Events {
		if err := d.connectNATS(embed); err != nil {
			return nil, err
		}
	}
	if needs.Events {
		masterKey, err := EventSecretsKey(cfg)
		if err != nil {
			return nil, err
		}
		if err := d.openKeys(masterKey); err != nil {
			return nil, err
		}
		if d.Store, err = eventstore.Open(ctx, d.JS, EventsStream, d.storeOptions()...); err != nil {
			return nil, err
		}
	}
	if needs.Postgres || (needs.Ledger && !cfg.UseTigerBeetle) {
		if err := migrations.Check(ctx, config.ConnectionURL(cfg.DatabaseURL)); err != nil {
			return nil, err
		}
		pool, err := OpenPool(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, err
		}
		d.Pool = pool
	}
	if needs.AuthPostgres {
		if err := migrations.CheckAuth(ctx, config.ConnectionURL(cfg.AuthDatabaseURL)); err != nil {
			return nil, err
		}
		pool, err := OpenAuthPool(ctx, cfg.AuthDatabaseURL)
		if err != nil {
			return nil, err
		}
		d.AuthPool = pool
	}
	if needs.Ledger {
		// A tool reads the ledger; voiding expired transfers is the services'.
		l, err := openLedger(ctx, cfg, d.Pool, log, true)
		if err != nil {
			return nil, err
		}
		d.Ledger = l
	}
	ok = true
	return d, nil
}

// openKeys opens the keyring of the secrets in events under masterKey, and
// under EVENT_SECRETS_KEY_PREVIOUS while a rotation is under way.
func (d *Deps) openKeys(masterKey []byte) error {
	var previous [][]byte
	if d.Config.EventSecretsPreviousKey != nil {
		previous = append(previous, d.Config.EventSecretsPreviousKey)
	}
	keys, err := secrets.New(d.JS, KeysStream, masterKey, previous...)
	if err != nil {
		return err
	}
	d.Keys = keys
	return nil
}

// connectNATS connects to NATS_URL, or embeds a server when embed is set
// and NATS_URL is not, and reads the stream declaration.
func (d *Deps) connectNATS(embed bool) error {
	natsURL := d.Config.NATSURL
	if natsURL == "" {
		if !embed {
			return fmt.Errorf("NATS_URL must be set: this service shares a NATS JetStream server with the others")
		}
		dir, err := filepath.Abs(filepath.Join(d.Config.DataDir, "nats"))
		if err != nil {
			return err
		}
		ns, err := natsembed.Start(natsembed.Options{Port: d.Config.EmbeddedNATSPort, StoreDir: dir, SyncAlways: d.Config.NATSSyncAlways,
			Log: d.Log.With("component", "nats")})
		if err != nil {
			return err
		}
		d.Embedded = ns
		natsURL = ns.ClientURL()
	}
	for _, part := range strings.Split(natsURL, ",") {
		if _, err := url.Parse(strings.TrimSpace(part)); err != nil {
			// url.Parse's error holds the URL, password and all.
			return fmt.Errorf("NATS_URL %s: not a list of URLs", redactedURLs(natsURL))
		}
	}
	// Aggregate loads read through short-lived synchronous subscriptions;
	// the default queue of 65,536 messages costs half a megabyte per load.
	nc, err := nats.Connect(natsURL, nats.Name("rafiki"), nats.MaxReconnects(-1), nats.SyncQueueLen(syncQueueLength))
	if err != nil {
		return fmt.Errorf("nats at %s: %w", redactedURLs(natsURL), err)
	}
	d.NC = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	d.JS = js
	decl, err := streams.Parse(rafiki.StreamsYAML)
	if err != nil {
		return err
	}
	d.Streams = decl
	return nil
}

// storeOptions has the event store refuse appends at once while the
// embedded server's disk cannot take them.
func (d *Deps) storeOptions() []eventstore.Option {
	if d.Embedded == nil {
		return nil
	}
	return []eventstore.Option{eventstore.WithWriteCheck(d.Embedded.Writable)}
}

// Close releases everything, the embedded server last so that the client
// connection drains first.
func (d *Deps) Close() {
	if d.Store != nil {
		d.Store.Close()
	}
	if d.Ledger != nil {
		d.Ledger.Close()
	}
	if d.Redis != nil {
		d.Redis.Close()
	}
	if d.Pool != nil {
		d.Pool.Close()
	}
	if d.AuthPool != nil {
		d.AuthPool.Close()
	}
	if d.NC != nil {
		_ = d.NC.Drain()
		deadline := time.Now().Add(5 * time.Second)
		for !d.NC.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if d.Embedded != nil {
		d.Embedded.Shutdown()
		d.Embedded.WaitForShutdown()
	}
}

// openLedger opens the ledger balances live in: Postgres unless
// USE_TIGERBEETLE is set.
func openLedger(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, log *slog.Logger, readOnly bool) (ledger.Ledger, error) {
	if cfg.UseTigerBeetle {
		l, err := tigerbeetle.New(ctx, tigerbeetle.Options{ClusterID: cfg.TigerBeetleClusterID, Addresses: cfg.TigerBeetleAddresses})
		if err != nil {
			return nil, fmt.Errorf("tigerbeetle at %v: %w", cfg.TigerBeetleAddresses, err)
		}
		return l, nil
	}
	l, err := postgres.New(ctx, pool, postgres.Options{Logger: log, NoSweep: readOnly})
	if err != nil {
		return nil, err
	}
	return l, nil
}

const (
	// The request pool's size unless DATABASE_URL sets pool_max_conns:
	// a request holds one connection at a time, for one statement or one
	// transaction, and the ledger two for its batches in flight.
	requestConnsDefault = 10
)

// OpenPool opens the pool requests use (the admin API, Open Payments, the
// ledger). Projections have a pool of their own (RunProjections); leases,
// replay locks and the checkpoint listener have connections of their own.
func OpenPool(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	return openPool(ctx, "DATABASE_URL", databaseURL)
}

// OpenAuthPool opens the auth service's request pool on its database, as
// OpenPool does the backend's.
func OpenAuthPool(ctx context.Context, authDatabaseURL string) (*pgxpool.Pool, error) {
	return openPool(ctx, "AUTH_DATABASE_URL", authDatabaseURL)
}

func openPool(ctx context.Context, envVar, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(config.WithConnectTimeout(databaseURL))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envVar, err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = requestConnsDefault
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres (%s): %w", envVar, err)
	}
	return pool, nil
}

// sameDatabase tells whether two database URLs name one database: the
// same host, port and database name.
func sameDatabase(a, b string) bool {
	ua, errA := url.Parse(config.ConnectionURL(a))
	ub, errB := url.Parse(config.ConnectionURL(b))
	return errA == nil && errB == nil && ua.Host == ub.Host && strings.TrimPrefix(ua.Path, "/") == strings.TrimPrefix(ub.Path, "/")
}

// EnsureDatabase creates the database named in url when it is missing, so
// that a fresh machine needs no manual step.
func EnsureDatabase(ctx context.Context, databaseURL string, log *slog.Logger) error {
	databaseURL = config.ConnectionURL(databaseURL)
	u, err := url.Parse(databaseURL)
	if err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return fmt.Errorf("database url %s names no database", u.Redacted())
	}
	conn, err := pgx.Connect(ctx, databaseURL)
	if err == nil {
		return conn.Close(ctx)
	}
	admin := *u
	admin.Path = "/postgres"
	conn, aerr := pgx.Connect(ctx, admin.String())
	if aerr != nil {
		return fmt.Errorf("postgres at %s: %w", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	for attempt := 1; ; attempt++ {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if exists {
			// Missing when this process looked, made by another since
			// (services started together): there now. Any other failure
			// to connect is the caller's to see.
			if missingDatabase(err) {
				return nil
			}
			return fmt.Errorf("postgres at %s: %w", u.Redacted(), err)
		}
		_, cerr := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		switch {
		case cerr == nil:
			// A mistyped URL makes a database too, and a service on it
			// serves an empty installation: say so.
			log.Warn("created the database, which did not exist; if another was meant, its URL setting names the wrong one",
				"database", name, "at", u.Redacted())
			return nil
		case createdMeanwhile(cerr):
			return nil
		case templateBusy(cerr) && attempt < createAttemptsMax:
			// Another process is creating a database from the template
			// at this moment (services started together).
			select {
			case <-ctx.Done():
				return fmt.Errorf("create database %s: %w", name, ctx.Err())
			case <-time.After(createRetryWait):
			}
		default:
			return fmt.Errorf("create database %s: %w", name, cerr)
		}
	}
}

// A CREATE DATABASE refused because the template is in use is tried again
// this many times, this far apart.
const (
	createAttemptsMax = 20
	createRetryWait   = 100 * time.Millisecond
)

// missingDatabase: a connection refused because its database does not
// exist (invalid_catalog_name).
func missingDatabase(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "3D000"
}

// templateBusy: the template database was being copied by another CREATE
// DATABASE (object_in_use).
func templateBusy(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55006"
}

// createdMeanwhile tells a CREATE DATABASE that lost the race to another
// process creating the same database (services started together): Postgres
// answers duplicate_database, or, when both got past its own check, a
// unique violation on pg_database's name index.
func createdMeanwhile(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P04" ||
		pgErr.Code == "23505" && pgErr.ConstraintName == "pg_database_datname_index")
}

// Logger builds the process logger: JSON in production, text otherwise.
func Logger(cfg config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.Production {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// OpenRedis connects to Redis at rawURL (REDIS_URL) and checks that it
// answers; errors name the URL without its password.
//
// The client sends no command twice. Every write here is a first-use mark
// (a signature's), a lock (an idempotency key's) or a counter (a STREAM
// connection's total): when a connection drops after Redis ran a command
// but before its answer came back, a retry would find the signature used
// by its own request, the lock held by its own caller, the amount added
// twice. Without retries the caller is told the service did not answer,
// and a pooled connection Redis closed is found before it is used.
func OpenRedis(ctx context.Context, rawURL string) (*redis.Client, error) {
	if _, err := url.Parse(rawURL); err != nil {
		// url.Parse's error holds the URL, password and all.
		return nil, errors.New("REDIS_URL is not a URL")
	}
	shown := redactedURLs(rawURL)
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL %s: %w", shown, err)
	}
	opts.MaxRetries = -1
	c := redis.NewClient(opts)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis at %s: %w", shown, err)
	}
	return c, nil
}

// redisLog writes the Redis client's own lines (a pool that cannot dial,
// say) into the service's log as warnings, instead of as plain text on
// standard error between its JSON lines.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

// checkEventStream refuses to start on an event stream shorter than what
// the read models in pool (DATABASE_URL's, or AUTH_DATABASE_URL's grants)
// have read, naming where the stream was
// looked for: most often DATA_DIR, relative to the working directory, or
// NATS_URL names another store than the one they were built from.
func checkEventStream(ctx context.Context, d *Deps, pool *pgxpool.Pool) error {
	err := projections.CheckStream(ctx, pool, d.JS, EventsStream)
	var behind *projections.StreamBehindError
	if !errors.As(err, &behind) {
		return err
	}
	where := "NATS_URL " + d.Config.NATSURL
	if d.Config.NATSURL == "" {
		dir, absErr := filepath.Abs(d.Config.DataDir)
		if absErr != nil {
			dir = d.Config.DataDir
		}
		where = "the embedded NATS server's store in DATA_DIR " + dir
	}
	return fmt.Errorf("%w. Start with the NATS store they were built from (the stream here is %s), "+
		"or, to keep this stream, rebuild every read model from it with rafiki replay <projection>", err, where)
}

// redactedURLs is a URL, or a comma-separated list of them (NATS_URL), with
// passwords hidden, for messages.
func redactedURLs(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "(a URL that does not parse)"
			continue
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}
