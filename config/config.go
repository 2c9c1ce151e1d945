// Package config reads the settings of every service from the environment,
// under Rafiki's variable names where Rafiki has one.
package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rafiki-go/rafiki/valid"
)

// Config holds every setting the services read.
type Config struct {
	// Production (NODE_ENV=production) logs JSON and hides GraphQL
	// introspection unless GRAPHQL_INTROSPECTION is set.
	Production bool
	// LogLevel (LOG_LEVEL) takes Rafiki's (pino's) level names.
	LogLevel             slog.Level
	GraphQLIntrospection bool
	// UseHTTP (USE_HTTP; default on under NODE_ENV=development, as Rafiki's
	// auth and backend) sends requests to other wallets' https URLs over
	// http and lets them reach local addresses (package outbound). Refused
	// in production.
	UseHTTP bool

	OperatorTenantID      string
	AdminAPISecret        string
	AdminSignatureVersion int
	AdminSignatureTTL     time.Duration
	ILPAddress            string
	OpenPaymentsURL       string
	AuthServerGrantURL    string
	DatabaseURL           string
	AuthDatabaseURL       string
	RedisURL              string
	NATSURL               string // empty: run an embedded server
	NATSStreamReplicas    int    // 0 (unset): what the server has; 1 for a new stream
	DataDir               string
	ReadYourWritesTimeout time.Duration
	RequestTimeout        time.Duration
	ShutdownTimeout       time.Duration
	// IncomingPaymentExpiryMax (INCOMING_PAYMENT_EXPIRY_MAX_MS, 30 days) is
	// the latest an incoming payment may expire, and when it expires unless
	// it says.
	IncomingPaymentExpiryMax time.Duration
	OpenPaymentsPort         int
	AdminPort                int
	ConnectorPort            int
	AuthPort                 int
	IntrospectionPort        int
	InteractionPort          int
	AuthAdminPort            int
	ServiceAPIPort           int
	AdminUIPort              int
	// ExampleWalletPort (EXAMPLE_WALLET_PORT, 3030) is where `rafiki dev`
	// serves the example wallet's webhook receiver and rates.
	ExampleWalletPort  int
	WorkerHealthPort   int // 0: a worker serves no health endpoints
	EmbeddedNATSPort   int
	NATSSyncAlways     bool
	LocalCacheDuration time.Duration
	EnableSPSP         bool
	// TrustProxy (TRUST_PROXY) reads X-Forwarded-Proto, as a proxy in
	// front sets it, for the scheme of the wallet addresses asked for.
	TrustProxy   bool
	StreamSecret []byte
	// EventSecretsKey (EVENT_SECRETS_KEY) wraps the data keys that seal
	// the secrets events carry; nil when unset, which only a process on
	// the embedded NATS store accepts (it keeps a key in DATA_DIR).
	// EventSecretsPreviousKey is the key before a rotation.
	EventSecretsKey         []byte
	EventSecretsPreviousKey []byte
	UseTigerBeetle          bool
	TigerBeetleClusterID    uint64
	TigerBeetleAddresses    []string
	GraphQLIdempotencyTTL   time.Duration
	GraphQLIdempotencyLock  time.Duration
	// ExchangeRatesURL (EXCHANGE_RATES_URL) is the operator's rates, used
	// for tenants without their own; ExchangeRatesLifetime
	// (EXCHANGE_RATES_LIFETIME, ms, 15,000) how long fetched rates are kept.
	ExchangeRatesURL      string
	ExchangeRatesLifetime time.Duration
	// QuoteLifespan (QUOTE_LIFESPAN, ms, 5 minutes) is how long a quote may
	// be paid, and never past its incoming payment's expiry.
	QuoteLifespan time.Duration
	// Slippage (SLIPPAGE, 0.01) is the share of the expected exchange
	// rate a payment to another instance may lose.
	Slippage float64
	// OutgoingPaymentRetryAttempts (MAX_OUTGOING_PAYMENT_RETRY_ATTEMPTS, 5)
	// is how many attempts an outgoing payment gets before it fails.
	OutgoingPaymentRetryAttempts int
	// Webhooks, under Rafiki's names and defaults. WebhookURL (WEBHOOK_URL),
	// WebhookTimeout (WEBHOOK_TIMEOUT, ms, 2,000) and WebhookMaxRetry
	// (WEBHOOK_MAX_RETRY, 10 attempts) apply to a recipient tenant without
	// its own settings. SignatureSecret (SIGNATURE_SECRET) signs them when
	// set, in the header's version SignatureVersion (SIGNATURE_VERSION, 1).
	// SendTenantWebhooksToOperator (SEND_TENANT_WEBHOOKS_TO_OPERATOR) sends
	// the operator a copy of every tenant's. WebhookWorkerIdle
	// (WEBHOOK_WORKER_IDLE, ms, 200) is how long a dispatcher with nothing
	// due waits before it looks again.
	WebhookURL                   string
	WebhookTimeout               time.Duration
	WebhookMaxRetry              int
	SignatureSecret              string
	SignatureVersion             int
	SendTenantWebhooksToOperator bool
	WebhookWorkerIdle            time.Duration
	// PartialPaymentDecision (ENABLE_PARTIAL_PAYMENT_DECISION) has the
	// account servicing entity decide each packet that brings its sender's
	// data into an incoming payment: webhook
	// incoming_payment.partial_payment_received, then
	// confirmPartialIncomingPayment or rejectPartialIncomingPayment within
	// PartialPaymentDecisionMaxWait (PARTIAL_PAYMENT_DECISION_MAX_WAIT_MS,
	// 1,500) and the packet's expiry less PartialPaymentDecisionSafetyMargin
	// (PARTIAL_PAYMENT_DECISION_SAFETY_MARGIN_MS, 100); no answer declines
	// the packet.
	PartialPaymentDecision             bool
	PartialPaymentDecisionMaxWait      time.Duration
	PartialPaymentDecisionSafetyMargin time.Duration
	// WebhookRetryBackoff is Rafiki's step between attempts (10 s: the
	// n-th failure waits min(n, 6) steps); no variable sets it.
	WebhookRetryBackoff time.Duration
	// AuthServerIntrospectionURL (AUTH_SERVER_INTROSPECTION_URL) is where
	// the resource server asks about tokens.
	AuthServerIntrospectionURL string
	// The backend as an Open Payments client of other wallets (remote
	// receivers): it signs with the Ed25519 key in PrivateKeyFile
	// (PRIVATE_KEY_FILE, PEM; one is made at start when unset) under KeyID
	// (KEY_ID), and names itself WalletAddressURL (WALLET_ADDRESS_URL,
	// OPEN_PAYMENTS_URL/.well-known/pay unless set), whose jwks.json the
	// Open Payments listener serves with that key.
	KeyID            string
	PrivateKeyFile   string
	WalletAddressURL string
	// WalletAddressNotFoundPolling (WALLET_ADDRESS_NOT_FOUND_POLLING_ENABLED,
	// false): a wallet address lookup that misses records a
	// wallet_address.not_found event and looks again every
	// WalletAddressPollingFrequency (WALLET_ADDRESS_POLLING_FREQUENCY_MS,
	// 100) for up to WalletAddressLookupTimeout
	// (WALLET_ADDRESS_LOOKUP_TIMEOUT_MS, 1,500).
	WalletAddressNotFoundPolling  bool
	WalletAddressLookupTimeout    time.Duration
	WalletAddressPollingFrequency time.Duration
	// The auth service (GNAP). AuthServerURL (AUTH_SERVER_URL) is the
	// public URL its grant, continuation, token and interaction URLs are
	// made from. IdentityServerURL and IdentityServerSecret
	// (IDENTITY_SERVER_URL, IDENTITY_SERVER_SECRET) are the operator
	// tenant's consent URL and identity provider secret when its events
	// carry none. CookieKey (COOKIE_KEY) signs the interaction session
	// cookie, sent with SameSite InteractionCookieSameSite
	// (INTERACTION_COOKIE_SAME_SITE: lax, strict, none, or unset).
	AuthServerURL             string
	IdentityServerURL         string
	IdentityServerSecret      string
	CookieKey                 string
	InteractionCookieSameSite string
	Wait                      time.Duration // WAIT_SECONDS
	InteractionExpiry         time.Duration // INTERACTION_EXPIRY_SECONDS
	AccessTokenExpiry         time.Duration // ACCESS_TOKEN_EXPIRY_SECONDS
	// AccessTokenDeletion (ACCESS_TOKEN_DELETION_DAYS, 30) is how long
	// past its expiry an access token stays in the auth read model.
	AccessTokenDeletion        time.Duration
	IncomingPaymentInteraction bool // INCOMING_PAYMENT_INTERACTION
	QuoteInteraction           bool // QUOTE_INTERACTION
	ListAllInteraction         bool // LIST_ALL_ACCESS_INTERACTION
	// Failpoint names a point where the process kills itself, for tests
	// of crash recovery (RAFIKI_FAILPOINT; docs/OPERATIONS.md); "" in
	// production.
	Failpoint string
	// The admin UI: GraphQLURL (GRAPHQL_URL, as Rafiki's frontend names
	// it) is the admin API it calls, when set; AdminUISessionKey
	// (ADMIN_UI_SESSION_KEY, 32 bytes, base64) seals its session cookies,
	// and unset each process makes its own (sign-ins then end with it).
	GraphQLURL string
	// AuthGraphQLURL (AUTH_GRAPHQL_URL) is the auth service's admin API,
	// where the admin UI reads and revokes grants; under dev the one of
	// the process.
	AuthGraphQLURL    string
	AdminUISessionKey []byte
}

// deletionDaysMax bounds ACCESS_TOKEN_DELETION_DAYS: a century.
const deletionDaysMax = 36_500

// Load reads the environment. Service is "backend", "auth" or "dev": Rafiki's
// backend and auth both call their admin port ADMIN_PORT, so in `dev`, where
// both run in one process, the auth admin port is AUTH_ADMIN_PORT.
func Load(service string) (Config, error) {
	r := reader{}
	nodeEnv := r.str("NODE_ENV", "development")
	c := Config{
		Production:             nodeEnv == "production",
		OperatorTenantID:       r.str("OPERATOR_TENANT_ID", "438fa74a-fa7d-4317-9ced-dde32ece1787"),
		AdminAPISecret:         r.str("ADMIN_API_SECRET", ""),
		AdminSignatureVersion:  r.integer("ADMIN_API_SIGNATURE_VERSION", 1),
		AdminSignatureTTL:      time.Duration(r.integer("ADMIN_API_SIGNATURE_TTL_SECONDS", 30)) * time.Second,
		ILPAddress:             r.str("ILP_ADDRESS", "test.rafiki"),
		DatabaseURL:            r.str("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rafiki_backend?sslmode=disable"),
		AuthDatabaseURL:        r.str("AUTH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rafiki_auth?sslmode=disable"),
		RedisURL:               r.str("REDIS_URL", "redis://127.0.0.1:6379"),
		NATSURL:                r.str("NATS_URL", ""),
		NATSStreamReplicas:     r.integer("NATS_STREAM_REPLICAS", 0),
		DataDir:                r.str("DATA_DIR", "./data"),
		ReadYourWritesTimeout:  time.Duration(r.integer("READ_YOUR_WRITES_TIMEOUT_MS", 5000)) * time.Millisecond,
		RequestTimeout:         time.Duration(r.integer("REQUEST_TIMEOUT_MS", 10000)) * time.Millisecond,
		ShutdownTimeout:        time.Duration(r.integer("SHUTDOWN_TIMEOUT_MS", 10000)) * time.Millisecond,
		OpenPaymentsPort:       r.integer("OPEN_PAYMENTS_PORT", 3000),
		AdminPort:              r.integer("ADMIN_PORT", 3001),
		ConnectorPort:          r.integer("CONNECTOR_PORT", 3002),
		AuthPort:               r.integer("AUTH_PORT", 3006),
		IntrospectionPort:      r.integer("INTROSPECTION_PORT", 3007),
		InteractionPort:        r.integer("INTERACTION_PORT", 3009),
		AuthAdminPort:          r.integer("AUTH_ADMIN_PORT", 3003),
		ServiceAPIPort:         r.integer("SERVICE_API_PORT", 3011),
		AdminUIPort:            r.integer("ADMIN_UI_PORT", 3010),
		ExampleWalletPort:      r.integer("EXAMPLE_WALLET_PORT", 3030),
		WorkerHealthPort:       r.integer("WORKER_HEALTH_PORT", 0),
		EmbeddedNATSPort:       r.integer("EMBEDDED_NATS_PORT", 4223),
		NATSSyncAlways:         r.boolean("NATS_SYNC_ALWAYS", true),
		LocalCacheDuration:     time.Duration(r.integer("LOCAL_CACHE_DURATION_MS", 15000)) * time.Millisecond,
		GraphQLIdempotencyTTL:  time.Duration(r.integer("GRAPHQL_IDEMPOTENCY_KEY_TTL_MS", 86400000)) * time.Millisecond,
		GraphQLIdempotencyLock: time.Duration(r.integer("GRAPHQL_IDEMPOTENCY_KEY_LOCK_MS", 2000)) * time.Millisecond,
	}
	if service == "auth" {
		c.AuthAdminPort = r.integer("ADMIN_PORT", 3003)
	}
	c.EnableSPSP = r.boolean("ENABLE_SPSP_PAYMENT_POINTERS", true)
	c.TrustProxy = r.boolean("TRUST_PROXY", false)
	c.Failpoint = r.str("RAFIKI_FAILPOINT", "")
	c.UseTigerBeetle = r.boolean("USE_TIGERBEETLE", false)
	c.TigerBeetleClusterID = uint64(r.integer("TIGERBEETLE_CLUSTER_ID", 0))
	for _, a := range strings.Split(r.str("TIGERBEETLE_REPLICA_ADDRESSES", "3004"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.TigerBeetleAddresses = append(c.TigerBeetleAddresses, a)
		}
	}
	c.OpenPaymentsURL = strings.TrimRight(r.str("OPEN_PAYMENTS_URL", fmt.Sprintf("http://localhost:%d", c.OpenPaymentsPort)), "/")
	c.AuthServerGrantURL = strings.TrimRight(r.str("AUTH_SERVER_GRANT_URL", fmt.Sprintf("http://localhost:%d", c.AuthPort)), "/")
	c.AuthServerURL = strings.TrimRight(r.str("AUTH_SERVER_URL", fmt.Sprintf("http://localhost:%d", c.AuthPort)), "/")
	c.IdentityServerURL = r.str("IDENTITY_SERVER_URL", "")
	c.IdentityServerSecret = r.str("IDENTITY_SERVER_SECRET", "")
	c.CookieKey = r.str("COOKIE_KEY", "")
	c.GraphQLURL = r.str("GRAPHQL_URL", "")
	c.AuthGraphQLURL = r.str("AUTH_GRAPHQL_URL", "")
	c.InteractionCookieSameSite = strings.ToLower(r.str("INTERACTION_COOKIE_SAME_SITE", ""))
	c.Wait = time.Duration(r.integer("WAIT_SECONDS", 5)) * time.Second
	c.InteractionExpiry = time.Duration(r.integer("INTERACTION_EXPIRY_SECONDS", 600)) * time.Second
	c.AccessTokenExpiry = time.Duration(r.integer("ACCESS_TOKEN_EXPIRY_SECONDS", 600)) * time.Second
	deletionDays := r.integer("ACCESS_TOKEN_DELETION_DAYS", 30)
	c.AccessTokenDeletion = time.Duration(deletionDays) * 24 * time.Hour
	c.IncomingPaymentInteraction = r.boolean("INCOMING_PAYMENT_INTERACTION", false)
	c.QuoteInteraction = r.boolean("QUOTE_INTERACTION", false)
	c.ListAllInteraction = r.boolean("LIST_ALL_ACCESS_INTERACTION", true)
	c.GraphQLIntrospection = r.boolean("GRAPHQL_INTROSPECTION", !c.Production)
	c.UseHTTP = r.boolean("USE_HTTP", nodeEnv == "development")
	c.ExchangeRatesURL = r.str("EXCHANGE_RATES_URL", "")
	c.AuthServerIntrospectionURL = r.str("AUTH_SERVER_INTROSPECTION_URL", fmt.Sprintf("http://localhost:%d", c.IntrospectionPort))
	c.ExchangeRatesLifetime = time.Duration(r.integer("EXCHANGE_RATES_LIFETIME", 15_000)) * time.Millisecond
	c.KeyID = r.str("KEY_ID", keyIDDefault)
	c.PrivateKeyFile = r.str("PRIVATE_KEY_FILE", "")
	c.WalletAddressURL = strings.TrimRight(r.str("WALLET_ADDRESS_URL", c.OpenPaymentsURL+"/.well-known/pay"), "/")
	c.Slippage = r.fraction("SLIPPAGE", 0.01)
	c.OutgoingPaymentRetryAttempts = r.integer("MAX_OUTGOING_PAYMENT_RETRY_ATTEMPTS", 5)
	c.WalletAddressNotFoundPolling = r.boolean("WALLET_ADDRESS_NOT_FOUND_POLLING_ENABLED", false)
	c.WalletAddressLookupTimeout = time.Duration(r.integer("WALLET_ADDRESS_LOOKUP_TIMEOUT_MS", 1500)) * time.Millisecond
	c.WalletAddressPollingFrequency = time.Duration(r.integer("WALLET_ADDRESS_POLLING_FREQUENCY_MS", 100)) * time.Millisecond
	c.WebhookURL = r.str("WEBHOOK_URL", "")
	c.WebhookTimeout = time.Duration(r.integer("WEBHOOK_TIMEOUT", 2000)) * time.Millisecond
	c.WebhookMaxRetry = r.integer("WEBHOOK_MAX_RETRY", 10)
	c.SignatureSecret = r.str("SIGNATURE_SECRET", "")
	c.SignatureVersion = r.integer("SIGNATURE_VERSION", 1)
	c.SendTenantWebhooksToOperator = r.boolean("SEND_TENANT_WEBHOOKS_TO_OPERATOR", false)
	c.WebhookWorkerIdle = time.Duration(r.integer("WEBHOOK_WORKER_IDLE", 200)) * time.Millisecond
	c.WebhookRetryBackoff = 10 * time.Second
	c.PartialPaymentDecision = r.boolean("ENABLE_PARTIAL_PAYMENT_DECISION", false)
	c.PartialPaymentDecisionMaxWait = time.Duration(r.integer("PARTIAL_PAYMENT_DECISION_MAX_WAIT_MS", 1500)) * time.Millisecond
	c.PartialPaymentDecisionSafetyMargin = time.Duration(r.integer("PARTIAL_PAYMENT_DECISION_SAFETY_MARGIN_MS", 100)) * time.Millisecond
	if r.err != nil {
		return c, r.err
	}
	if c.ExchangeRatesLifetime < 0 {
		return c, fmt.Errorf("config: EXCHANGE_RATES_LIFETIME (%d) must not be negative", c.ExchangeRatesLifetime.Milliseconds())
	}
	if c.WebhookTimeout <= 0 || c.WebhookMaxRetry < 0 || c.WebhookWorkerIdle <= 0 || c.SignatureVersion < 0 {
		return c, fmt.Errorf("config: WEBHOOK_TIMEOUT and WEBHOOK_WORKER_IDLE must be above 0, WEBHOOK_MAX_RETRY and SIGNATURE_VERSION not negative")
	}
	if c.PartialPaymentDecisionMaxWait <= 0 || c.PartialPaymentDecisionSafetyMargin < 0 {
		return c, fmt.Errorf("config: PARTIAL_PAYMENT_DECISION_MAX_WAIT_MS must be above 0, PARTIAL_PAYMENT_DECISION_SAFETY_MARGIN_MS not negative")
	}
	if c.WalletAddressLookupTimeout < 0 || c.WalletAddressPollingFrequency <= 0 {
		return c, fmt.Errorf("config: WALLET_ADDRESS_LOOKUP_TIMEOUT_MS must not be negative, WALLET_ADDRESS_POLLING_FREQUENCY_MS must be above 0")
	}
	if c.RequestTimeout <= 0 || c.ReadYourWritesTimeout <= 0 || c.ReadYourWritesTimeout >= c.RequestTimeout {
		return c, fmt.Errorf("config: READ_YOUR_WRITES_TIMEOUT_MS (%d) must be above 0 and below REQUEST_TIMEOUT_MS (%d)",
			c.ReadYourWritesTimeout.Milliseconds(), c.RequestTimeout.Milliseconds())
	}
	// Far past the bound the duration would overflow.
	expiryMaxMs := r.integer("INCOMING_PAYMENT_EXPIRY_MAX_MS", 2592000000)
	if expiryMaxMs <= 0 || expiryMaxMs > incomingPaymentExpiryMaxMs {
		return c, fmt.Errorf("config: INCOMING_PAYMENT_EXPIRY_MAX_MS (%d) must be above 0 and at most %d (100 years)", expiryMaxMs, incomingPaymentExpiryMaxMs)
	}
	c.IncomingPaymentExpiryMax = time.Duration(expiryMaxMs) * time.Millisecond
	lifespanMs := r.integer("QUOTE_LIFESPAN", 300_000)
	if lifespanMs <= 0 || lifespanMs > incomingPaymentExpiryMaxMs {
		return c, fmt.Errorf("config: QUOTE_LIFESPAN (%d) must be above 0 and at most %d (100 years)", lifespanMs, incomingPaymentExpiryMaxMs)
	}
	c.QuoteLifespan = time.Duration(lifespanMs) * time.Millisecond
	level, err := logLevel(r.str("LOG_LEVEL", "info"))
	if err != nil {
		return c, err
	}
	c.LogLevel = level
	if !valid.ILPAddress(c.ILPAddress) {
		return c, fmt.Errorf("config: ILP_ADDRESS (%q) must be an ILP address, as test.rafiki or g.bank (interledger RFC 15)", c.ILPAddress)
	}
	for _, u := range []struct {
		name, value string
		optional    bool
	}{
		{"OPEN_PAYMENTS_URL", c.OpenPaymentsURL, false}, {"WALLET_ADDRESS_URL", c.WalletAddressURL, false},
		{"AUTH_SERVER_URL", c.AuthServerURL, false}, {"AUTH_SERVER_GRANT_URL", c.AuthServerGrantURL, false},
		{"AUTH_SERVER_INTROSPECTION_URL", c.AuthServerIntrospectionURL, false},
		{"IDENTITY_SERVER_URL", c.IdentityServerURL, true}, {"EXCHANGE_RATES_URL", c.ExchangeRatesURL, true},
		{"WEBHOOK_URL", c.WebhookURL, true}, {"GRAPHQL_URL", c.GraphQLURL, true}, {"AUTH_GRAPHQL_URL", c.AuthGraphQLURL, true},
	} {
		// The value is not repeated: a URL may carry a password.
		if (u.value != "" || !u.optional) && !valid.HTTPURL(u.value, valid.TextLengthMax) {
			return c, fmt.Errorf("config: %s must be an http:// or https:// URL with a host", u.name)
		}
	}
	if c.NATSStreamReplicas < 0 || c.NATSStreamReplicas > 5 {
		return c, fmt.Errorf("config: NATS_STREAM_REPLICAS (%d) must be 1 to 5, or unset", c.NATSStreamReplicas)
	}
	if c.UseHTTP && c.Production {
		return c, fmt.Errorf("config: USE_HTTP must not be set in production")
	}
	switch c.InteractionCookieSameSite {
	case "", "lax", "strict", "none":
	default:
		return c, fmt.Errorf("config: INTERACTION_COOKIE_SAME_SITE (%q) must be lax, strict, none or unset", c.InteractionCookieSameSite)
	}
	if c.Wait < 0 || c.InteractionExpiry <= 0 || c.AccessTokenExpiry <= 0 {
		return c, fmt.Errorf("config: WAIT_SECONDS must be 0 or more, INTERACTION_EXPIRY_SECONDS and ACCESS_TOKEN_EXPIRY_SECONDS above 0")
	}
	// The bound keeps the duration far from overflowing.
	if deletionDays < 0 || deletionDays > deletionDaysMax {
		return c, fmt.Errorf("config: ACCESS_TOKEN_DELETION_DAYS (%d) must be 0 to %d", deletionDays, deletionDaysMax)
	}
	// Production leaves an unset COOKIE_KEY empty: only the auth service
	// needs one, and refuses to start without it.
	if c.CookieKey == "" && !c.Production {
		c.CookieKey = devCookieKey
	}
	if c.AdminAPISecret == "" {
		if c.Production {
			return c, fmt.Errorf("config: ADMIN_API_SECRET must be set in production")
		}
		c.AdminAPISecret = devAdminAPISecret
	}
	secret, err := streamSecret(r.str("STREAM_SECRET", ""), c)
	if err != nil {
		return c, err
	}
	c.StreamSecret = secret
	if c.EventSecretsKey, err = key("EVENT_SECRETS_KEY", r.str("EVENT_SECRETS_KEY", "")); err != nil {
		return c, err
	}
	if c.AdminUISessionKey, err = key("ADMIN_UI_SESSION_KEY", r.str("ADMIN_UI_SESSION_KEY", "")); err != nil {
		return c, err
	}
	if c.EventSecretsPreviousKey, err = key("EVENT_SECRETS_KEY_PREVIOUS", r.str("EVENT_SECRETS_KEY_PREVIOUS", "")); err != nil {
		return c, err
	}
	if c.Production {
		if c.EventSecretsKey == nil {
			return c, fmt.Errorf("config: EVENT_SECRETS_KEY must be set in production")
		}
		if err := refuseShippedSecrets(r); err != nil {
			return c, err
		}
	}
	return c, nil
}

// key reads a 32-byte key, base64-encoded; nil when unset.
func key(name, text string) ([]byte, error) {
	if text == "" {
		return nil, nil
	}
	k, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("config: %s must be 32 bytes, base64-encoded (openssl rand -base64 32)", name)
	}
	return k, nil
}

type reader struct{ err error }

func (r *reader) str(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return fallback
}

// incomingPaymentExpiryMaxMs bounds INCOMING_PAYMENT_EXPIRY_MAX_MS.
const incomingPaymentExpiryMaxMs = 100 * 365 * 24 * 60 * 60 * 1000

func (r *reader) integer(name string, fallback int) int {
	v := r.str(name, "")
	if v == "" {
		return fallback
	}
	n, err := strconv.Atoi(v)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("config: %s=%q is not a whole number", name, v)
	}
	return n
}

// fraction reads a number from 0 to 1.
func (r *reader) fraction(name string, fallback float64) float64 {
	v := r.str(name, "")
	if v == "" {
		return fallback
	}
	f, err := strconv.ParseFloat(v, 64)
	if (err != nil || !(f >= 0 && f <= 1)) && r.err == nil {
		r.err = fmt.Errorf("config: %s=%q is not a number from 0 to 1", name, v)
	}
	return f
}

func (r *reader) boolean(name string, fallback bool) bool {
	v := r.str(name, "")
	if v == "" {
		return fallback
	}
	b, err := strconv.ParseBool(v)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("config: %s=%q is not true or false", name, v)
	}
	return b
}

// streamSecret reads STREAM_SECRET (base64, 32 bytes). Outside production it
// may be unset: it is then derived from ADMIN_API_SECRET, so that every
// process of one development setup agrees on it across restarts.
func streamSecret(text string, c Config) ([]byte, error) {
	if text == "" {
		if c.Production {
			return nil, fmt.Errorf("config: STREAM_SECRET must be set in production")
		}
		mac := hmac.New(sha256.New, []byte(c.AdminAPISecret))
		mac.Write([]byte("rafiki development stream secret"))
		return mac.Sum(nil), nil
	}
	secret, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(secret) != 32 {
		return nil, fmt.Errorf("config: STREAM_SECRET must be 32 bytes, base64-encoded")
	}
	return secret, nil
}

// ConnectionURL is a database URL for a single connection (migrations,
// creating the database): without the pool settings pgxpool reads from it
// (pool_max_conns and the like), which Postgres would refuse as unknown
// parameters, and with the default connect timeout (WithConnectTimeout).
func ConnectionURL(databaseURL string) string {
	base, query, _ := strings.Cut(databaseURL, "?")
	var kept []string
	for _, param := range strings.Split(query, "&") {
		if param != "" && !strings.HasPrefix(param, "pool_") {
			kept = append(kept, param)
		}
	}
	if len(kept) == 0 {
		return WithConnectTimeout(base)
	}
	return WithConnectTimeout(base + "?" + strings.Join(kept, "&"))
}

// WithConnectTimeout is a database URL with a connect_timeout of 5 s unless
// it sets one, so that an unreachable server fails a start or a request
// instead of hanging it.
func WithConnectTimeout(databaseURL string) string {
	base, query, found := strings.Cut(databaseURL, "?")
	for _, param := range strings.Split(query, "&") {
		if strings.HasPrefix(param, "connect_timeout=") {
			return databaseURL
		}
	}
	if !found || query == "" {
		return base + "?connect_timeout=5"
	}
	return databaseURL + "&connect_timeout=5"
}

// keyIDDefault names the backend's client key when KEY_ID is unset; a key
// id is public, so one default serves everywhere.
const keyIDDefault = "rafiki-backend"

// logLevel reads LOG_LEVEL as Rafiki's logger names its levels (trace,
// debug, info, warn, error, fatal, silent), or as slog does.
func logLevel(name string) (slog.Level, error) {
	switch strings.ToLower(name) {
	case "trace":
		return slog.LevelDebug - 4, nil
	case "fatal":
		return slog.LevelError + 4, nil
	case "silent":
		return slog.LevelError + 100, nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(name)); err != nil {
		return 0, fmt.Errorf("config: LOG_LEVEL (%q) must be trace, debug, info, warn, error, fatal or silent", name)
	}
	return l, nil
}
