package httpsig

import "testing"

// TestThumbprint: RFC 8037's example (appendix A.3) and the members that
// are not part of a thumbprint.
func TestThumbprint(t *testing.T) {
	k := JWK{Kty: "OKP", Crv: "Ed25519", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
	const want = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	if got := k.Thumbprint(); got != want {
		t.Fatalf("Thumbprint = %s, want %s", got, want)
	}
	k.KID, k.Alg = "another-kid", "EdDSA"
	if got := k.Thumbprint(); got != want {
		t.Errorf("kid and alg changed the thumbprint: %s", got)
	}
	k.X = "22qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	if got := k.Thumbprint(); got == want {
		t.Error("another key has the same thumbprint")
	}
}
