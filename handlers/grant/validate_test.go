package grant

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

const edKey = `{"kid":"k1","kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA"}`

func TestCheckRequest(t *testing.T) {
	ok := req(incoming)
	for _, tc := range []struct {
		name string
		edit func(*commands.RequestGrant)
		good bool
	}{
		{"incoming", func(c *commands.RequestGrant) {}, true},
		{"tenant id in upper case", func(c *commands.RequestGrant) { c.TenantID = strings.ToUpper(c.TenantID) }, true},
		{"jwk client", func(c *commands.RequestGrant) { c.Client = events.GrantClient{JWK: json.RawMessage(edKey)} }, true},
		{"outgoing with limits", func(c *commands.RequestGrant) {
			o := outgoing
			o.Limits = &events.GrantLimits{Receiver: "https://r.example/ip/1", Interval: "R/2022-04-01T10:00:00Z/P1M",
				DebitAmount: &events.GrantAmount{Value: "18446744073709551615", AssetCode: "USD", AssetScale: 2}}
			c.Access, c.Interact = []events.GrantAccess{o}, finishable
		}, true},
		{"bad tenant id", func(c *commands.RequestGrant) { c.TenantID = "*" }, false},
		{"unknown type", func(c *commands.RequestGrant) { c.Access[0].Type = "payment" }, false},
		{"no actions", func(c *commands.RequestGrant) { c.Access[0].Actions = nil }, false},
		{"unknown action", func(c *commands.RequestGrant) { c.Access[0].Actions = []string{"delete"} }, false},
		{"action of another type", func(c *commands.RequestGrant) {
			c.Access[0] = events.GrantAccess{Type: TypeQuote, Actions: []string{ActionList}}
		}, false},
		{"repeated action", func(c *commands.RequestGrant) { c.Access[0].Actions = []string{ActionRead, ActionRead} }, false},
		{"identifier not a URL", func(c *commands.RequestGrant) { c.Access[0].Identifier = "alice" }, false},
		{"limits on incoming", func(c *commands.RequestGrant) { c.Access[0].Limits = &events.GrantLimits{} }, false},
		{"bad amount", func(c *commands.RequestGrant) {
			c.Access = []events.GrantAccess{{Type: TypeOutgoingPayment, Actions: []string{ActionCreate}, Identifier: walletA,
				Limits: &events.GrantLimits{DebitAmount: &events.GrantAmount{Value: "-5", AssetCode: "USD"}}}}
		}, false},
		{"amount without asset", func(c *commands.RequestGrant) {
			c.Access = []events.GrantAccess{{Type: TypeOutgoingPayment, Actions: []string{ActionCreate}, Identifier: walletA,
				Limits: &events.GrantLimits{DebitAmount: &events.GrantAmount{Value: "5"}}}}
		}, false},
		{"bad interval", func(c *commands.RequestGrant) {
			c.Access = []events.GrantAccess{{Type: TypeOutgoingPayment, Actions: []string{ActionCreate}, Identifier: walletA,
				Limits: &events.GrantLimits{Interval: "P1M"}}}
		}, false},
		{"too many items", func(c *commands.RequestGrant) {
			for range accessItemsMax {
				c.Access = append(c.Access, incoming)
			}
		}, false},
		{"no client", func(c *commands.RequestGrant) { c.Client = events.GrantClient{} }, false},
		{"both clients", func(c *commands.RequestGrant) { c.Client.JWK = json.RawMessage(edKey) }, false},
		{"client not a URL", func(c *commands.RequestGrant) { c.Client.WalletAddress = "ftp://x" }, false},
		{"rsa jwk", func(c *commands.RequestGrant) {
			c.Client = events.GrantClient{JWK: json.RawMessage(`{"kid":"k","kty":"RSA","n":"x","e":"AQAB"}`)}
		}, false},
		{"jwk without kid", func(c *commands.RequestGrant) {
			c.Client = events.GrantClient{JWK: json.RawMessage(strings.Replace(edKey, `"kid":"k1",`, "", 1))}
		}, false},
		{"jwk short key", func(c *commands.RequestGrant) {
			c.Client = events.GrantClient{JWK: json.RawMessage(`{"kid":"k","kty":"OKP","crv":"Ed25519","x":"AAAA"}`)}
		}, false},
		{"start mode", func(c *commands.RequestGrant) { c.Interact = &events.GrantInteract{Start: []string{"user_code"}} }, false},
		{"no start mode", func(c *commands.RequestGrant) { c.Interact = &events.GrantInteract{} }, false},
		{"finish method", func(c *commands.RequestGrant) {
			c.Interact = &events.GrantInteract{Start: []string{"redirect"}, Finish: &events.GrantFinish{Method: "push", URI: "https://c.example", Nonce: "n"}}
		}, false},
		{"finish without nonce", func(c *commands.RequestGrant) {
			c.Interact = &events.GrantInteract{Start: []string{"redirect"}, Finish: &events.GrantFinish{Method: "redirect", URI: "https://c.example"}}
		}, false},
		{"finish nonce with a space", func(c *commands.RequestGrant) {
			c.Interact = &events.GrantInteract{Start: []string{"redirect"}, Finish: &events.GrantFinish{Method: "redirect", URI: "https://c.example", Nonce: "a b"}}
		}, false},
		{"finish uri not http", func(c *commands.RequestGrant) {
			c.Interact = &events.GrantInteract{Start: []string{"redirect"}, Finish: &events.GrantFinish{Method: "redirect", URI: "javascript:x", Nonce: "n"}}
		}, false},
		{"empty subject id", func(c *commands.RequestGrant) { c.Subject = []events.GrantSubjectID{{Format: "uri"}} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			c.Access = append([]events.GrantAccess(nil), ok.Access...)
			c.Access[0].Actions = append([]string(nil), ok.Access[0].Actions...)
			tc.edit(&c)
			got, err := checkRequest(c)
			if tc.good && (err != nil || got.TenantID != tenantID) {
				t.Fatalf("refused: %v", err)
			}
			if !tc.good && apperr.KindOf(err) != apperr.InvalidInput {
				t.Fatalf("accepted: %v", err)
			}
		})
	}
}

func TestCheckIDsAndSecrets(t *testing.T) {
	if _, err := checkContinue(commands.ContinueGrant{GrantID: tenantID, ContinueID: "x"}); err == nil {
		t.Fatal("bad continue id accepted")
	}
	if _, err := checkContinue(commands.ContinueGrant{GrantID: tenantID, ContinueID: tenantID, ContinueToken: "a\nb"}); err == nil {
		t.Fatal("token with a line feed accepted")
	}
	if _, _, err := checkToken(tenantID, "*", "v"); err == nil {
		t.Fatal("token id * accepted")
	}
	if _, _, err := checkInteraction("a.b", tenantID, "n"); err == nil {
		t.Fatal("grant id a.b accepted")
	}
	if _, err := checkRevoke(commands.RevokeGrant{GrantID: strings.ToUpper(tenantID)}); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeAccess feeds any bytes to the access list decoder: it never
// panics, and what it accepts encodes to JSON it decodes to the same list.
func FuzzDecodeAccess(f *testing.F) {
	f.Add(`[{"type":"incoming-payment","actions":["create","read-all"]}]`)
	f.Add(`[{"type":"outgoing-payment","actions":["create"],"identifier":"https://w.example/a","limits":{"debitAmount":{"value":"1","assetCode":"USD","assetScale":2},"interval":"R/2022-04-01T10:00:00Z/P1M"}}]`)
	f.Add(`[{"type":"quote","actions":["create"],"extra":1}]`)
	f.Add(`[] []`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, s string) {
		access, err := DecodeAccess([]byte(s))
		if err != nil {
			return
		}
		data, err := json.Marshal(access)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeAccess(data)
		if err != nil || !reflect.DeepEqual(again, access) {
			t.Fatalf("%s read back as %+v (%v), was %+v", data, again, err, access)
		}
	})
}
