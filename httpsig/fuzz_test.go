package httpsig

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParseSignatureHeaders: the parsers never panic, and what they accept
// serialises to a form they read back as the same value, so the
// "@signature-params" a verifier signs is the one the client meant.
func FuzzParseSignatureHeaders(f *testing.F) {
	f.Add(`sig1=("@method" "@target-uri" "authorization");keyid="test-key-1";created=1700000000`,
		`sig1=:3FwDcGl2GTd4nXt1ClJQIrQhnWiKrCy+UQ28quvyJy0aH4OWw9BXbmfPyD2UKtLSnofhdy4oUa18FoQjd/6YAA==:`)
	f.Add(`sig1=();created=-1, a=("x\"\\y"  "z" );b=2`, `sha-256=:AA==:, sha-512=::`)
	f.Add(`sig1=("a";sf)`, `sig1=:AAAA:;x`)
	f.Add(`sig1=("a" "b"), sig1=()`, ` x=:====:`)
	f.Fuzz(func(t *testing.T, input, sig string) {
		if lists, err := parseSignatureInput(input); err == nil {
			for k, l := range lists {
				again, err := parseSignatureInput(k + "=" + l.serialize())
				if err != nil {
					t.Fatalf("%q serialised as %q, which does not parse: %v", input, l.serialize(), err)
				}
				if !reflect.DeepEqual(again[k], l) {
					t.Fatalf("%q: %+v read back as %+v", input, l, again[k])
				}
			}
		}
		if seqs, err := parseByteSeqDict(sig); err == nil {
			for k, b := range seqs {
				again, err := parseByteSeqDict(k + "=:" + b64(b) + ":")
				if err != nil || !bytes.Equal(again[k], b) {
					t.Fatalf("%q: member %s does not read back: %v", sig, k, err)
				}
			}
		}
	})
}

// FuzzParseJWK: no panic reading a JWK or a key set, and an accepted JWK
// yields a 32-byte key.
func FuzzParseJWK(f *testing.F) {
	f.Add(`{"alg":"EdDSA","kid":"k","kty":"OKP","crv":"Ed25519","x":"iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w"}`)
	f.Add(`{"keys":[]}`)
	f.Fuzz(func(t *testing.T, data string) {
		if set, err := parseJWKS([]byte(data)); err == nil && len(set) > jwksKeysMax {
			t.Fatalf("a set of %d keys", len(set))
		}
		k, err := ParseJWK([]byte(data))
		if err != nil {
			return
		}
		pub, err := k.PublicKey()
		if err != nil || len(pub) != 32 {
			t.Fatalf("accepted %q, then %v", data, err)
		}
	})
}
