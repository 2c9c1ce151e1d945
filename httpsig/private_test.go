package httpsig

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestParsePrivateKeyPEM(t *testing.T) {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ed)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	block := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"ed25519 PKCS #8", block("PRIVATE KEY", der), true},
		{"not PEM", []byte("not a key"), false},
		{"another block type", block("PUBLIC KEY", der), false},
		{"not PKCS #8", block("PRIVATE KEY", []byte{1, 2, 3}), false},
		{"not Ed25519", block("PRIVATE KEY", ecDER), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrivateKeyPEM(tc.data)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if tc.ok && !got.Equal(ed) {
				t.Fatal("parsed key differs")
			}
		})
	}
	jwk := PublicJWK(ed, "k1")
	pub, err := jwk.PublicKey()
	if err != nil || !pub.Equal(ed.Public()) {
		t.Fatalf("PublicJWK: %v %v", jwk, err)
	}
}
