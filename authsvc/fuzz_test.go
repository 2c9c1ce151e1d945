package authsvc

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/rafiki-go/rafiki/handlers/grant"
)

// FuzzParseGrantRequest: any body either parses into a command or is
// refused with a GNAP error; nothing panics, and a parsed command's client
// is exactly one of a wallet address or a key.
func FuzzParseGrantRequest(f *testing.F) {
	for _, seed := range []string{
		`{"access_token":{"access":[{"type":"incoming-payment","actions":["create","read"]}]},"client":"https://w.example/a"}`,
		`{"access_token":{"access":[{"type":"outgoing-payment","actions":["create"],"identifier":"https://w.example/a",` +
			`"limits":{"debitAmount":{"value":"1","assetCode":"USD","assetScale":2},"interval":"R/2024-01-01T00:00:00Z/P1D"}}]},` +
			`"client":{"walletAddress":"https://w.example/a"},"interact":{"start":["redirect"],"finish":{"method":"redirect","uri":"https://c.example","nonce":"n"}}}`,
		`{"client":{"jwk":{"kid":"k","alg":"EdDSA","kty":"OKP","crv":"Ed25519","x":"AAAA"}},"subject":{"sub_ids":[{"id":"x","format":"uri"}]}}`,
		`{"client":null}`, `{"client":1}`, `{"client":{"walletAddress":"a","jwk":{}}}`, `[]`, `"x"`, `{"access_token":{"access":[{"limits":{"debitAmount":{"assetScale":300}}}]}}`,
		``, `{`, `{"interact":{"finish":null},"client":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	policy := grant.DefaultPolicy("https://auth.example")
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := parseGrantRequest(body, "00000000-0000-4000-8000-000000000001")
		if err != nil {
			var ge *grant.Error
			if !errors.As(err, &ge) || ge.Code == "" {
				t.Fatalf("refusal %v is not a GNAP error", err)
			}
			return
		}
		if (c.Client.WalletAddress == "") == (len(c.Client.JWK) == 0) {
			t.Fatalf("client %+v", c.Client)
		}
		_, _ = grant.Interactive(c, policy)
		if _, err := json.Marshal(c); err != nil {
			t.Fatalf("parsed command does not encode: %v", err)
		}
	})
}

// FuzzParseContinueBody: a continuation body is a poll, an interact_ref
// or a GNAP refusal.
func FuzzParseContinueBody(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"interact_ref":"ABC"}`, `{"interact_ref":1}`, `{"interact_ref":""}`, `{"x":1}`, `null`, `[`, `"s"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ref, err := parseContinueBody(body)
		var ge *grant.Error
		if err != nil && (!errors.As(err, &ge) || ge.Code != grant.InvalidRequest || ref != "") {
			t.Fatalf("refusal %v with ref %q", err, ref)
		}
	})
}
