package config

import (
	"encoding/base64"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadDefaultsAndRafikiNames(t *testing.T) {
	t.Setenv("NODE_ENV", "")
	t.Setenv("ADMIN_API_SECRET", "")
	t.Setenv("STREAM_SECRET", "")
	t.Setenv("ADMIN_PORT", "4001")
	t.Setenv("ADMIN_API_SIGNATURE_TTL_SECONDS", "45")
	t.Setenv("NATS_STREAM_REPLICAS", "")
	t.Setenv("USE_HTTP", "")
	c, err := Load("dev")
	if err != nil {
		t.Fatal(err)
	}
	if c.Production || !c.GraphQLIntrospection || !c.UseHTTP || c.AdminPort != 4001 || c.AdminSignatureTTL != 45*time.Second {
		t.Fatalf("dev config %+v", c)
	}
	if c.OpenPaymentsPort != 3000 || c.AuthAdminPort != 3003 || c.AdminAPISecret == "" || len(c.StreamSecret) != 32 ||
		c.NATSStreamReplicas != 0 || c.AccessTokenDeletion != 30*24*time.Hour || c.ExchangeRatesLifetime != 15*time.Second ||
		c.IncomingPaymentExpiryMax != 30*24*time.Hour || c.QuoteLifespan != 5*time.Minute || c.Slippage != 0.01 ||
		c.WebhookTimeout != 2*time.Second || c.WebhookMaxRetry != 10 ||
		c.SignatureVersion != 1 || c.SendTenantWebhooksToOperator || c.WebhookWorkerIdle != 200*time.Millisecond {
		t.Fatalf("defaults: %+v", c)
	}
	again, _ := Load("dev")
	if string(again.StreamSecret) != string(c.StreamSecret) {
		t.Fatal("the development stream secret is not stable across loads")
	}
	auth, _ := Load("auth")
	if auth.AuthAdminPort != 4001 {
		t.Fatalf("auth reads its admin port from ADMIN_PORT: %d", auth.AuthAdminPort)
	}
}

func TestLoadProductionRequiresSecretsAndHidesIntrospection(t *testing.T) {
	t.Setenv("NODE_ENV", "production")
	t.Setenv("ADMIN_API_SECRET", "")
	t.Setenv("STREAM_SECRET", "")
	t.Setenv("GRAPHQL_INTROSPECTION", "")
	if _, err := Load("backend"); err == nil || !strings.Contains(err.Error(), "ADMIN_API_SECRET") {
		t.Fatalf("production without ADMIN_API_SECRET: %v", err)
	}
	t.Setenv("ADMIN_API_SECRET", "s")
	if _, err := Load("backend"); err == nil || !strings.Contains(err.Error(), "STREAM_SECRET") {
		t.Fatalf("production without STREAM_SECRET: %v", err)
	}
	t.Setenv("STREAM_SECRET", base64.StdEncoding.EncodeToString(make([]byte, 32)))
	if _, err := Load("backend"); err == nil || !strings.Contains(err.Error(), "EVENT_SECRETS_KEY") {
		t.Fatalf("production without EVENT_SECRETS_KEY: %v", err)
	}
	t.Setenv("EVENT_SECRETS_KEY", base64.StdEncoding.EncodeToString(make([]byte, 32)))
	t.Setenv("USE_HTTP", "")
	c, err := Load("backend")
	if err != nil || c.GraphQLIntrospection || c.UseHTTP {
		t.Fatalf("production: %v, introspection %v, USE_HTTP %v", err, c.GraphQLIntrospection, c.UseHTTP)
	}
	t.Setenv("USE_HTTP", "true")
	if _, err := Load("backend"); err == nil || !strings.Contains(err.Error(), "USE_HTTP") {
		t.Fatalf("production with USE_HTTP=true: %v", err)
	}
	t.Setenv("USE_HTTP", "")
	t.Setenv("GRAPHQL_INTROSPECTION", "true")
	if c, _ := Load("backend"); !c.GraphQLIntrospection {
		t.Fatal("GRAPHQL_INTROSPECTION=true did not turn introspection on")
	}
}

func TestLoadRejectsMalformedValues(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"ADMIN_PORT", "three thousand"},
		{"NATS_SYNC_ALWAYS", "perhaps"},
		// JetStream allows 1 to 5 replicas.
		{"NATS_STREAM_REPLICAS", "7"},
		{"STREAM_SECRET", base64.StdEncoding.EncodeToString(make([]byte, 16))},
		{"EVENT_SECRETS_KEY", base64.StdEncoding.EncodeToString(make([]byte, 16))},
		{"ACCESS_TOKEN_DELETION_DAYS", "-1"},
		// Far past it the duration would overflow.
		{"ACCESS_TOKEN_DELETION_DAYS", "36501"},
		{"EXCHANGE_RATES_LIFETIME", "-1"},
		{"INCOMING_PAYMENT_EXPIRY_MAX_MS", "0"},
		{"INCOMING_PAYMENT_EXPIRY_MAX_MS", "9223372036854775807"},
		{"QUOTE_LIFESPAN", "0"},
		{"SLIPPAGE", "1.5"},
		{"SLIPPAGE", "-0.1"},
		{"SLIPPAGE", "NaN"},
		{"SLIPPAGE", "a lot"},
		{"QUOTE_LIFESPAN", "9223372036854775807"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Setenv("NODE_ENV", "")
			t.Setenv(tc.name, tc.value)
			if _, err := Load("backend"); err == nil {
				t.Fatalf("%s=%q accepted", tc.name, tc.value)
			}
		})
	}
}

func TestConnectionURLDropsPoolSettings(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://h/db":                                      "postgres://h/db?connect_timeout=5",
		"postgres://h/db?sslmode=disable":                      "postgres://h/db?sslmode=disable&connect_timeout=5",
		"postgres://h/db?pool_max_conns=1":                     "postgres://h/db?connect_timeout=5",
		"postgres://h/db?sslmode=disable&pool_max_conns=1&a=b": "postgres://h/db?sslmode=disable&a=b&connect_timeout=5",
		"postgres://h/db?pool_min_conns=2&connect_timeout=9":   "postgres://h/db?connect_timeout=9",
	} {
		if got := ConnectionURL(in); got != want {
			t.Errorf("ConnectionURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadClientSettings(t *testing.T) {
	for _, tc := range []struct {
		name                                    string
		env                                     map[string]string
		keyID, privateKeyFile, walletAddressURL string
	}{
		{"defaults", map[string]string{"OPEN_PAYMENTS_URL": "https://op.example/", "KEY_ID": "", "PRIVATE_KEY_FILE": "", "WALLET_ADDRESS_URL": ""},
			"rafiki-backend", "", "https://op.example/.well-known/pay"},
		{"set", map[string]string{"OPEN_PAYMENTS_URL": "https://op.example", "KEY_ID": "k1", "PRIVATE_KEY_FILE": "/keys/k1.pem",
			"WALLET_ADDRESS_URL": "https://op.example/client/"}, "k1", "/keys/k1.pem", "https://op.example/client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("NODE_ENV", "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := Load("backend")
			if err != nil {
				t.Fatal(err)
			}
			if c.KeyID != tc.keyID || c.PrivateKeyFile != tc.privateKeyFile || c.WalletAddressURL != tc.walletAddressURL {
				t.Fatalf("KeyID %q PrivateKeyFile %q WalletAddressURL %q", c.KeyID, c.PrivateKeyFile, c.WalletAddressURL)
			}
		})
	}
}

// Rafiki's settings this implementation does not read are told, each
// with why, only when set.
func TestUnreadSettings(t *testing.T) {
	t.Setenv("ENABLE_TELEMETRY", "true")
	t.Setenv("DB_ENCRYPTION_SECRET", "")
	got := map[string]string{}
	for _, s := range Unread() {
		got[s.Name] = s.Why
	}
	if len(got) != 2 || got["ENABLE_TELEMETRY"] == "" || got["DB_ENCRYPTION_SECRET"] == "" {
		t.Fatalf("unread settings told: %v", got)
	}
	// None of them is read: a setting both read and told as unread would
	// tell the operator something untrue.
	for _, s := range unread {
		t.Run(s.Name, func(t *testing.T) {
			t.Setenv(s.Name, "set-by-test")
			before, _ := Load("dev")
			os.Unsetenv(s.Name)
			after, _ := Load("dev")
			if !reflect.DeepEqual(before, after) {
				t.Errorf("%s is told as unread, yet it changes the configuration", s.Name)
			}
		})
	}
}

// Settings that would start a service that cannot work are refused at
// start, naming the setting.
func TestMalformedAddressesAreRefused(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"OPEN_PAYMENTS_URL", "localhost:21050"},
		{"OPEN_PAYMENTS_URL", "ftp://wallet.example"},
		{"OPEN_PAYMENTS_URL", " https://wallet.example"},
		{"AUTH_SERVER_URL", "auth.example"},
		{"WEBHOOK_URL", "https://hooks.example:99999/x"},
		{"EXCHANGE_RATES_URL", "rates"},
		{"ILP_ADDRESS", "test..x"},
		{"ILP_ADDRESS", "test.ra fiki"},
		{"ILP_ADDRESS", "nowhere.rafiki"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			_, err := Load("dev")
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("%s=%q: %v, want a refusal naming it", tc.name, tc.value, err)
			}
		})
	}
	t.Setenv("OPEN_PAYMENTS_URL", "https://wallet.example/base/")
	t.Setenv("ILP_ADDRESS", "g.bank-1")
	if _, err := Load("dev"); err != nil {
		t.Fatalf("well-formed settings: %v", err)
	}
}

// LOG_LEVEL takes Rafiki's level names, and refuses others instead of
// logging at info.
func TestLogLevels(t *testing.T) {
	for name, want := range map[string]slog.Level{"trace": slog.LevelDebug - 4, "debug": slog.LevelDebug, "info": slog.LevelInfo,
		"warn": slog.LevelWarn, "error": slog.LevelError, "fatal": slog.LevelError + 4, "silent": slog.LevelError + 100, "WARN": slog.LevelWarn} {
		t.Setenv("LOG_LEVEL", name)
		c, err := Load("dev")
		if err != nil || c.LogLevel != want {
			t.Errorf("LOG_LEVEL=%s: %v (%v), want %v", name, c.LogLevel, err, want)
		}
	}
	t.Setenv("LOG_LEVEL", "verbose")
	if _, err := Load("dev"); err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Fatalf("LOG_LEVEL=verbose: %v, want a refusal naming it", err)
	}
}
