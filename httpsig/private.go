package httpsig

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
)

// ParsePrivateKeyPEM reads an Ed25519 private key from a PEM "PRIVATE KEY"
// block (PKCS #8), as Rafiki's PRIVATE_KEY_FILE holds it
// (`openssl genpkey -algorithm ed25519`).
func ParsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("no PEM PRIVATE KEY block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PKCS #8 private key: %w", err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is a %T, not Ed25519", key)
	}
	return ed, nil
}

// PublicJWK is the JWK a client publishes for key under keyID.
func PublicJWK(key ed25519.PrivateKey, keyID string) JWK {
	return JWK{KID: keyID, Alg: "EdDSA", Kty: "OKP", Crv: "Ed25519",
		X: base64.RawURLEncoding.EncodeToString(key.Public().(ed25519.PublicKey))}
}
