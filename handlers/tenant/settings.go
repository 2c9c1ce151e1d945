package tenant

import (
	"strconv"
	"strings"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/valid"
)

// Setting keys, as Rafiki names them.
const (
	SettingExchangeRatesURL = "EXCHANGE_RATES_URL"
	SettingWebhookURL       = "WEBHOOK_URL"
	SettingWebhookTimeout   = "WEBHOOK_TIMEOUT"
	SettingWebhookMaxRetry  = "WEBHOOK_MAX_RETRY"
	SettingWalletAddressURL = "WALLET_ADDRESS_URL"
	SettingILPAddress       = "ILP_ADDRESS"
)

// Bounds of the numeric settings: a webhook waits at most ten minutes for an
// answer and is sent at most a thousand times.
const (
	webhookTimeoutMillisecondsMax = 600_000
	webhookRetriesMax             = 1_000
)

// settingValidators are Rafiki's (tenants/settings/model.ts), stricter where
// Rafiki takes anything its parser does: URLs are http(s), numbers whole
// milliseconds and counts, values no wider than Rafiki's column.
var settingValidators = map[string]func(string) bool{
	SettingExchangeRatesURL: func(v string) bool { return valid.HTTPURL(v, valid.TextLengthMax) },
	SettingWebhookURL:       func(v string) bool { return valid.HTTPURL(v, valid.TextLengthMax) },
	SettingWalletAddressURL: valid.SpaceURL,
	SettingWebhookTimeout:   func(v string) bool { n, ok := whole(v); return ok && n > 0 && n <= webhookTimeoutMillisecondsMax },
	SettingWebhookMaxRetry:  func(v string) bool { n, ok := whole(v); return ok && n <= webhookRetriesMax },
	SettingILPAddress:       func(v string) bool { return len(v) <= valid.TextLengthMax && valid.ILPAddress(v) },
}

// whole reads a setting written as decimal digits only.
func whole(v string) (int, bool) {
	if v == "" || len(v) > 9 || strings.Trim(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

func errInvalidSettings() error {
	return apperr.E(apperr.InvalidInput, "Invalid value for one or more tenant settings")
}

// validateSettings checks each setting's value by its key; a key twice in
// one request would leave which value holds to chance.
func validateSettings(settings []events.Setting) error {
	seen := make(map[string]bool, len(settings))
	for _, s := range settings {
		check, known := settingValidators[s.Key]
		if !known || seen[s.Key] || !check(s.Value) {
			return errInvalidSettings()
		}
		seen[s.Key] = true
	}
	return nil
}

// initialSettings are a new tenant's settings: the defaults and its own ILP
// address, then the requested ones. A request naming ILP_ADDRESS replaces the
// defaults entirely, as Rafiki does.
func initialSettings(tenantID, operatorILPAddress string, requested []events.Setting) []events.Setting {
	for _, s := range requested {
		if s.Key == SettingILPAddress {
			return requested
		}
	}
	out := []events.Setting{
		{Key: SettingWebhookTimeout, Value: "2000"},
		{Key: SettingWebhookMaxRetry, Value: "10"},
	}
	if operatorILPAddress != "" {
		out = append(out, events.Setting{Key: SettingILPAddress, Value: operatorILPAddress + "." + tenantID})
	}
	return append(out, requested...)
}

// decideSetSettings upserts settings of the caller's own tenant.
func decideSetSettings(s State, c commands.SetTenantSettings) ([]events.Event, error) {
	if !s.Active() {
		return nil, apperr.E(apperr.NotFound, "Tenant not found")
	}
	return []events.Event{&events.TenantSettingsSet{Settings: c.Settings}}, nil
}
