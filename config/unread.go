package config

import "os"

// Setting is one of Rafiki's settings, named as Rafiki names it.
type Setting struct {
	Name string
	// Why says why it is not read, and what stands in its place.
	Why string
}

// unread are Rafiki's settings this implementation does not read. An
// operator who sets one is told so at start (Unread), instead of finding
// out from behaviour that did not change.
var unread = []Setting{
	{"DB_ENCRYPTION_SECRET", "secrets in events are sealed with EVENT_SECRETS_KEY"},
	{"REDIS_TLS_CA_FILE_PATH", "use a rediss:// REDIS_URL; a private CA is not loaded"},
	{"REDIS_TLS_KEY_FILE_PATH", "client certificates for Redis are not supported"},
	{"REDIS_TLS_CERT_FILE_PATH", "client certificates for Redis are not supported"},
	{"ENABLE_AUTO_PEERING", "auto-peering is not implemented; peers are created with createPeer"},
	{"AUTO_PEERING_SERVER_PORT", "auto-peering is not implemented"},
	{"ENABLE_TELEMETRY", "OpenTelemetry export is not implemented; see the health endpoints and logs"},
	{"ENABLE_TELEMETRY_TRACES", "OpenTelemetry export is not implemented"},
	{"OPEN_TELEMETRY_COLLECTOR_URLS", "OpenTelemetry export is not implemented"},
	{"OPEN_TELEMETRY_TRACE_COLLECTOR_URLS", "OpenTelemetry export is not implemented"},
	{"OPEN_TELEMETRY_EXPORT_INTERVAL", "OpenTelemetry export is not implemented"},
	{"TELEMETRY_EXCHANGE_RATES_URL", "OpenTelemetry export is not implemented"},
	{"TELEMETRY_EXCHANGE_RATES_LIFETIME", "OpenTelemetry export is not implemented"},
	{"LIVENET", "OpenTelemetry export is not implemented"},
	{"ENABLE_ILP_TIMING_TELEMETRY", "OpenTelemetry export is not implemented"},
	{"POLL_INCOMING_PAYMENT_CREATED_WEBHOOK", "incoming payments are not held for the created webhook's approval"},
	{"INCOMING_PAYMENT_CREATED_POLL_TIMEOUT_MS", "incoming payments are not held for the created webhook's approval"},
	{"INCOMING_PAYMENT_CREATED_POLL_FREQUENCY_MS", "incoming payments are not held for the created webhook's approval"},
	{"WALLET_ADDRESS_DEACTIVATION_PAYMENT_GRACE_PERIOD_MS", "a deactivated wallet address's incoming payments keep their expiry"},
	{"ENABLE_MANUAL_MIGRATIONS", "services migrate their databases at start; rafiki migrate runs them alone"},
	{"WITHDRAWAL_THROTTLE_DELAY", "web monetization withdrawals are not delayed"},
	{"TIGERBEETLE_TWO_PHASE_TIMEOUT_SECONDS", "each withdrawal's timeoutSeconds is its own"},
	{"AUTH_SERVICE_API_URL", "the backend asks the auth service nothing over this API"},
	{"CARD_SERVICE_URL", "card payments are not implemented"},
	{"CARD_WEBHOOK_SERVICE_URL", "card payments are not implemented"},
	{"POS_SERVICE_URL", "point-of-sale payments are not implemented"},
	{"POS_WEBHOOK_SERVICE_URL", "point-of-sale payments are not implemented"},
	{"OUTGOING_PAYMENT_WORKERS", "work is shared by rafiki worker processes, not by workers within one"},
	{"INCOMING_PAYMENT_WORKERS", "work is shared by rafiki worker processes, not by workers within one"},
	{"WEBHOOK_WORKERS", "work is shared by rafiki worker processes, not by workers within one"},
	{"WALLET_ADDRESS_WORKERS", "work is shared by rafiki worker processes, not by workers within one"},
	{"DATABASE_CLEANUP_WORKERS", "each rafiki worker process runs one cleanup"},
}

// Unread answers the settings of Rafiki's, set in the environment, that
// this implementation does not read.
func Unread() []Setting {
	var set []Setting
	for _, s := range unread {
		if _, ok := os.LookupEnv(s.Name); ok {
			set = append(set, s)
		}
	}
	return set
}
