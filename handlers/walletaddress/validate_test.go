package walletaddress

import (
	"strings"
	"testing"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

const (
	tenantID = "00000000-0000-4000-8000-000000000002"
	assetID  = "00000000-0000-4000-8000-0000000000a1"
)

func TestCheckCommands(t *testing.T) {
	props := func(n int, key string) []events.Property {
		out := make([]events.Property, n)
		for i := range out {
			out[i] = events.Property{Key: key, Value: "v"}
		}
		return out
	}
	create := func(mod func(*commands.CreateWalletAddress)) func() error {
		return func() error {
			c := commands.CreateWalletAddress{TenantID: tenantID, AssetID: assetID, Address: "alice"}
			mod(&c)
			_, err := checkCreate(c)
			return err
		}
	}
	for _, tc := range []struct {
		name  string
		check func() error
		ok    bool
	}{
		{"create", create(func(*commands.CreateWalletAddress) {}), true},
		{"create tenant *", create(func(c *commands.CreateWalletAddress) { c.TenantID = "*" }), false},
		{"create asset a.b", create(func(c *commands.CreateWalletAddress) { c.AssetID = "a.b" }), false},
		{"create empty address", create(func(c *commands.CreateWalletAddress) { c.Address = "" }), false},
		{"create address with NUL", create(func(c *commands.CreateWalletAddress) { c.Address = "a\x00" }), false},
		{"create long address", create(func(c *commands.CreateWalletAddress) { c.Address = strings.Repeat("a", 256) }), false},
		{"create name with a line break", create(func(c *commands.CreateWalletAddress) { c.PublicName = "a\nb" }), false},
		{"create many properties", create(func(c *commands.CreateWalletAddress) { c.AdditionalProperties = props(propertiesMax+1, "k") }), false},
		{"create property with NUL", create(func(c *commands.CreateWalletAddress) { c.AdditionalProperties = props(1, "k\x00") }), false},
		{"create blank property", create(func(c *commands.CreateWalletAddress) { c.AdditionalProperties = props(1, "  ") }), true},
		{"update", func() error {
			_, err := checkUpdate(commands.UpdateWalletAddress{WalletAddressID: assetID, Status: StatusInactive})
			return err
		}, true},
		{"update id *", func() error { _, err := checkUpdate(commands.UpdateWalletAddress{WalletAddressID: "*"}); return err }, false},
		{"update status", func() error {
			_, err := checkUpdate(commands.UpdateWalletAddress{WalletAddressID: assetID, Status: "GONE"})
			return err
		}, false},
		{"update properties", func() error {
			p := props(1, strings.Repeat("k", 256))
			_, err := checkUpdate(commands.UpdateWalletAddress{WalletAddressID: assetID, AdditionalProperties: &p})
			return err
		}, false},
		{"key", func() error {
			_, err := checkCreateKey(commands.CreateWalletAddressKey{WalletAddressID: assetID, JWK: commands.JWK{Kid: "k"}})
			return err
		}, true},
		{"key wallet address >", func() error {
			_, err := checkCreateKey(commands.CreateWalletAddressKey{WalletAddressID: ">", JWK: commands.JWK{Kid: "k"}})
			return err
		}, false},
		{"key empty kid", func() error {
			_, err := checkCreateKey(commands.CreateWalletAddressKey{WalletAddressID: assetID})
			return err
		}, false},
		{"key kid with NUL", func() error {
			_, err := checkCreateKey(commands.CreateWalletAddressKey{WalletAddressID: assetID, JWK: commands.JWK{Kid: "\x00"}})
			return err
		}, false},
		{"revoke", func() error { _, err := checkRevokeKey(commands.RevokeWalletAddressKey{KeyID: assetID}); return err }, true},
		{"revoke empty id", func() error { _, err := checkRevokeKey(commands.RevokeWalletAddressKey{}); return err }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check()
			if tc.ok != (err == nil) || (!tc.ok && apperr.KindOf(err) != apperr.InvalidInput) {
				t.Fatalf("got %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// A full URL must lie in the tenant's base on whole path segments.
func TestResolveAddress(t *testing.T) {
	for _, tc := range []struct {
		requested, base, want string
	}{
		{"alice", "https://a.example/ali", "https://a.example/ali/alice"},
		{"/Alice", "https://a.example/ali/", "https://a.example/ali/alice"},
		{"https://a.example/ali/bob", "https://a.example/ali", "https://a.example/ali/bob"},
		{"https://A.example/ALI/bob", "https://a.example/ali", "https://a.example/ali/bob"},
		{"https://a.example/alice", "https://a.example/ali", ""},
		{"https://a.example/ali", "https://a.example/ali/x", ""},
		{"http://a.example/ali/bob", "https://a.example/ali", ""},
		{"https://a.example.evil/ali/bob", "https://a.example/ali", ""},
		{"https://a.example/ali/../bob", "https://a.example/ali", ""},
		{"../bob", "https://a.example/ali", ""},
		{"%2e%2e/bob", "https://a.example/ali", ""},
		{"bob?x=1", "https://a.example/ali", ""},
		{"bob/incoming-payments", "https://a.example/ali", ""},
		{"bob/", "https://a.example/ali", ""},
		{"https://a.example/ali/bob/", "https://a.example/ali", ""},
		{"bob/jwks.json", "https://a.example/ali", ""},
		{"bob/jwks.json2", "https://a.example/ali", "https://a.example/ali/bob/jwks.json2"},
		{".well-known/pay", "https://a.example/", "https://a.example/.well-known/pay"},
	} {
		got, err := resolveAddress(tc.requested, tc.base)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("resolveAddress(%q, %q) = %q %v, want %q", tc.requested, tc.base, got, err, tc.want)
		}
	}
}
