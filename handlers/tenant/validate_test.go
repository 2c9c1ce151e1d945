package tenant

import (
	"strings"
	"testing"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

func setting(key, value string) []events.Setting { return []events.Setting{{Key: key, Value: value}} }

func TestCheckCreate(t *testing.T) {
	long := strings.Repeat("x", 256)
	for _, tc := range []struct {
		name   string
		cmd    commands.CreateTenant
		ok     bool
		wantID string
	}{
		{"minimal", commands.CreateTenant{APISecret: "s"}, true, ""},
		{"id canonicalised", commands.CreateTenant{TenantID: "urn:uuid:A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", APISecret: "s"}, true, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"id not a uuid", commands.CreateTenant{TenantID: "*", APISecret: "s"}, false, ""},
		{"dotted id", commands.CreateTenant{TenantID: "a.b", APISecret: "s"}, false, ""},
		{"no secret", commands.CreateTenant{}, false, ""},
		{"secret too long", commands.CreateTenant{APISecret: long}, false, ""},
		{"control character in name", commands.CreateTenant{APISecret: "s", PublicName: "a\x00"}, false, ""},
		{"email too long", commands.CreateTenant{APISecret: "s", Email: long}, false, ""},
		{"consent URL not http", commands.CreateTenant{APISecret: "s", IDPConsentURL: "javascript:alert(1)"}, false, ""},
		{"consent URL", commands.CreateTenant{APISecret: "s", IDPConsentURL: "https://idp.example/consent"}, true, ""},
		{"unicode name", commands.CreateTenant{APISecret: "s", PublicName: "Bänk 日本"}, true, ""},
		{"bad setting", commands.CreateTenant{APISecret: "s", Settings: setting(SettingWebhookURL, "not a url")}, false, ""},
		{"unknown setting", commands.CreateTenant{APISecret: "s", Settings: setting("COLOUR", "blue")}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checkCreate(tc.cmd)
			if tc.ok != (err == nil) || (!tc.ok && apperr.KindOf(err) != apperr.InvalidInput) {
				t.Fatalf("got %v, want ok %v", err, tc.ok)
			}
			if tc.wantID != "" && got.TenantID != tc.wantID {
				t.Fatalf("id %q, want %q", got.TenantID, tc.wantID)
			}
		})
	}
}

func TestCheckUpdateDeleteAndSettings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func() error
		ok    bool
	}{
		{"update", func() error {
			_, err := checkUpdate(commands.UpdateTenant{TenantID: tenantID, PublicName: str("B")})
			return err
		}, true},
		{"update upper-case id", func() error {
			_, err := checkUpdate(commands.UpdateTenant{TenantID: strings.ToUpper(tenantID)})
			return err
		}, true},
		{"update *", func() error { _, err := checkUpdate(commands.UpdateTenant{TenantID: "*"}); return err }, false},
		{"update >", func() error { _, err := checkUpdate(commands.UpdateTenant{TenantID: ">"}); return err }, false},
		{"update empty id", func() error { _, err := checkUpdate(commands.UpdateTenant{}); return err }, false},
		{"update braced id", func() error { _, err := checkUpdate(commands.UpdateTenant{TenantID: "{" + tenantID + "}"}); return err }, false},
		{"update empty secret", func() error {
			_, err := checkUpdate(commands.UpdateTenant{TenantID: tenantID, APISecret: str("")})
			return err
		}, false},
		{"update NUL in email", func() error {
			_, err := checkUpdate(commands.UpdateTenant{TenantID: tenantID, Email: str("a\x00@b")})
			return err
		}, false},
		{"update consent URL", func() error {
			_, err := checkUpdate(commands.UpdateTenant{TenantID: tenantID, IDPConsentURL: str("ftp://x")})
			return err
		}, false},
		{"delete", func() error { _, err := checkDelete(commands.DeleteTenant{TenantID: tenantID}); return err }, true},
		{"delete *", func() error { _, err := checkDelete(commands.DeleteTenant{TenantID: "*"}); return err }, false},
		{"settings none", func() error { _, err := checkSetSettings(commands.SetTenantSettings{TenantID: tenantID}); return err }, false},
		{"settings bad tenant", func() error {
			_, err := checkSetSettings(commands.SetTenantSettings{TenantID: "", Settings: setting(SettingWebhookMaxRetry, "1")})
			return err
		}, false},
		{"settings key twice", func() error {
			_, err := checkSetSettings(commands.SetTenantSettings{TenantID: tenantID, Settings: []events.Setting{
				{Key: SettingWebhookMaxRetry, Value: "1"}, {Key: SettingWebhookMaxRetry, Value: "2"}}})
			return err
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check()
			if tc.ok != (err == nil) || (!tc.ok && apperr.KindOf(err) != apperr.InvalidInput) {
				t.Fatalf("got %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestSettingValues(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		ok         bool
	}{
		{SettingWebhookURL, "https://bank.example/hooks", true},
		{SettingWebhookURL, "mailto:a@b", false},
		{SettingExchangeRatesURL, "http://rates.example/x?y=1", true},
		{SettingExchangeRatesURL, "https://", false},
		{SettingWalletAddressURL, "https://wallet.example/bank", true},
		{SettingWalletAddressURL, "https://wallet.example/bank?x=1", false},
		{SettingWalletAddressURL, "https://wallet.example/../x", false},
		{SettingWalletAddressURL, "https://wallet.example/" + strings.Repeat("a", 250), false},
		{SettingWebhookTimeout, "2000", true},
		{SettingWebhookTimeout, "0", false},
		{SettingWebhookTimeout, "1.5", false},
		{SettingWebhookTimeout, "1e3", false},
		{SettingWebhookTimeout, "-5", false},
		{SettingWebhookTimeout, "600001", false},
		{SettingWebhookMaxRetry, "0", true},
		{SettingWebhookMaxRetry, "1001", false},
		{SettingWebhookMaxRetry, "+1", false},
		{SettingWebhookMaxRetry, "99999999999999999999", false},
		{SettingILPAddress, "test.bank", true},
		{SettingILPAddress, "test", false},
		{SettingILPAddress, "test.*", false},
		{SettingILPAddress, "test." + strings.Repeat("a", 251), false},
	} {
		err := validateSettings(setting(tc.key, tc.value))
		if tc.ok != (err == nil) {
			t.Errorf("%s=%q: %v, want ok %v", tc.key, tc.value, err, tc.ok)
		}
	}
}

// No tenant's WALLET_ADDRESS_URL or ILP_ADDRESS may lie in another's, or
// hold it, on whole segments, nor in one the other set before; a tenant's
// own space is no obstacle.
func TestSpacesOverlap(t *testing.T) {
	sp := NewSpaces()
	sp.byTenant["other"] = []Space{{WalletAddressURL: "https://a.example/ali"}, {ILPAddress: "test.bank"},
		{WalletAddressURL: "https://old.example/c"}}
	for _, tc := range []struct {
		name  string
		space Space
		ok    bool
	}{
		{"unrelated", Space{WalletAddressURL: "https://b.example", ILPAddress: "test.other"}, true},
		{"sibling path", Space{WalletAddressURL: "https://a.example/alice"}, true},
		{"inside", Space{WalletAddressURL: "https://a.example/ali/x"}, false},
		{"the same", Space{WalletAddressURL: "https://a.example/ali"}, false},
		{"the same in other case and scheme", Space{WalletAddressURL: "http://A.example/ALI"}, false},
		{"holding it", Space{WalletAddressURL: "https://a.example"}, false},
		{"sibling ILP address", Space{ILPAddress: "test.bankx"}, true},
		{"ILP address inside", Space{ILPAddress: "test.bank.x"}, false},
		{"ILP address holding it", Space{ILPAddress: "test"}, false},
		{"no space", Space{}, true},
		{"in a space its holder moved away from", Space{WalletAddressURL: "https://old.example/c/alice"}, false},
	} {
		err := sp.Overlap("self", tc.space)
		if tc.ok != (err == nil) || (!tc.ok && apperr.KindOf(err) != apperr.InvalidInput) {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
		if err := sp.Overlap("other", tc.space); err != nil {
			t.Errorf("%s: the holder itself: %v", tc.name, err)
		}
	}
	if holder, ok := sp.Holder("https://a.example/ali/bob"); !ok || holder != "other" {
		t.Errorf("holder of a URL inside: %q %v", holder, ok)
	}
	if holder, ok := sp.Holder("https://old.example/c/bob"); !ok || holder != "other" {
		t.Errorf("holder of a URL in a space set before: %q %v", holder, ok)
	}
	if _, ok := sp.Holder("https://a.example/alice/bob"); ok {
		t.Error("a URL outside has a holder")
	}
}

// Requested ILP addresses stay clear of the ones tenants get by default.
func TestReservedForDefaults(t *testing.T) {
	for _, tc := range []struct {
		requested string
		ok        bool
	}{
		{"test.bank", true},
		{"test.rafiki.bank", true},
		{"test.rafiki." + tenantID, true},
		{"test.rafiki." + tenantID + ".sub", true},
		{"test.rafiki." + operatorID, false},
		{"test.rafiki." + operatorID + ".sub", false},
		{"test.rafiki", false},
		{"test", false},
		{"test.rafikix", true},
		{"", true},
	} {
		err := reservedForDefaults(tc.requested, "test.rafiki", tenantID)
		if tc.ok != (err == nil) || (!tc.ok && apperr.KindOf(err) != apperr.InvalidInput) {
			t.Errorf("%q: %v, want ok %v", tc.requested, err, tc.ok)
		}
	}
	if err := reservedForDefaults("test.rafiki", "", tenantID); err != nil {
		t.Errorf("without an operator ILP address nothing is reserved: %v", err)
	}
}

func TestRequestedSpace(t *testing.T) {
	space, claims := requestedSpace([]events.Setting{{Key: SettingWebhookMaxRetry, Value: "1"}})
	if claims || space != (Space{}) {
		t.Fatalf("settings without a space claim %+v", space)
	}
	space, claims = requestedSpace([]events.Setting{{Key: SettingILPAddress, Value: "test.x"}, {Key: SettingWalletAddressURL, Value: "https://a.example"}})
	if !claims || space != (Space{WalletAddressURL: "https://a.example", ILPAddress: "test.x"}) {
		t.Fatalf("requested space %+v %v", space, claims)
	}
}
