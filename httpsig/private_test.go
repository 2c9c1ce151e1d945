package httpsig

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"testing"
	"time"
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

// Two equal requests signed in one second with nonces carry two signatures,
// both taken by a verifier that refuses replays however late the second
// comes; without, they carry one, and the second is refused once it comes
// later than a client could have repeated it.
func TestSignNonceMakesEqualRequestsDiffer(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := InlineKey(PublicJWK(key, "k"))
	created := time.Now()
	for _, tc := range []struct {
		name           string
		nonces         [2]string
		secondAccepted bool
	}{
		{"with nonces", [2]string{"n1", "n2"}, true},
		{"without", [2]string{"", ""}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			guard := &memoryGuard{}
			for i, nonce := range tc.nonces {
				body := []byte(`{"a":1}`)
				req := newClientRequest(t, http.MethodPost, "https://as.example/tenant", map[string]string{"Authorization": "GNAP t"})
				if err := SignNonce(req, body, key, "k", created, nonce); err != nil {
					t.Fatal(err)
				}
				now := created.Add(time.Duration(i) * (RepeatGrace + time.Second))
				_, err := Verify(received(t, req, body), body, keys, Options{Replay: guard, Now: func() time.Time { return now }})
				if want := i == 0 || tc.secondAccepted; (err == nil) != want {
					t.Fatalf("request %d: %v, want accepted %v", i, err, want)
				}
			}
		})
	}
}
