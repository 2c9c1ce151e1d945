package tenant

import (
	"net/url"
	"regexp"
	"strconv"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
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

// An ILP address: an allocation scheme, then one or more segments
// (interledger RFC 0015).
var ilpAddressPattern = regexp.MustCompile(`^(g|private|example|peer|self|test[1-3]?|local)([.][a-zA-Z0-9_~-]+)+$`)

var settingValidators = map[string]func(string) bool{
	SettingExchangeRatesURL: validURL,
	SettingWebhookURL:       validURL,
	SettingWalletAddressURL: validURL,
	SettingWebhookTimeout:   func(v string) bool { return number(v) > 0 },
	SettingWebhookMaxRetry:  func(v string) bool { return number(v) >= 0 },
	SettingILPAddress:       func(v string) bool { return len(v) <= 1023 && ilpAddressPattern.MatchString(v) },
}

func validURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && u.Scheme != "" && u.Host != ""
}

// number parses a setting as a number; anything else reads as -1.
func number(v string) float64 {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return -1
	}
	return f
}

func validateSettings(settings []events.Setting) error {
	for _, s := range settings {
		valid, known := settingValidators[s.Key]
		if !known || !valid(s.Value) {
			return apperr.E(apperr.InvalidInput, "Invalid value for one or more tenant settings")
		}
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
	if len(c.Settings) == 0 {
		return nil, apperr.E(apperr.InvalidInput, "Invalid value for one or more tenant settings")
	}
	if err := validateSettings(c.Settings); err != nil {
		return nil, err
	}
	return []events.Event{&events.TenantSettingsSet{Settings: c.Settings}}, nil
}
