package httpsig

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// JWK is a client's public key as Open Payments publishes it.
type JWK struct {
	KID string `json:"kid"`
	Alg string `json:"alg"`
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	// D is read only to refuse a key that publishes its private part.
	D string `json:"d,omitempty"`
}

// PublicKey checks that the JWK is an Ed25519 public key the profile
// accepts (kty OKP, crv Ed25519, alg EdDSA, x 32 bytes of unpadded
// base64url) and returns it.
func (k JWK) PublicKey() (ed25519.PublicKey, error) {
	switch {
	case k.KID == "":
		return nil, refuse(ReasonBadKey, "JWK has no kid")
	case k.Kty != "OKP" || k.Crv != "Ed25519":
		return nil, refuse(ReasonBadKey, "JWK %q is kty %q crv %q; only OKP Ed25519 keys are accepted", k.KID, k.Kty, k.Crv)
	case k.Alg != "EdDSA":
		return nil, refuse(ReasonBadKey, "JWK %q has alg %q; only EdDSA is accepted", k.KID, k.Alg)
	case k.D != "":
		return nil, refuse(ReasonBadKey, "JWK %q holds a private key", k.KID)
	}
	x, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return nil, refuse(ReasonBadKey, "JWK %q: x is not 32 bytes of unpadded base64url", k.KID)
	}
	return ed25519.PublicKey(x), nil
}

// ParseJWK reads one JWK (as a grant request's client.jwk carries it).
func ParseJWK(data []byte) (JWK, error) {
	var k JWK
	if err := decodeStrict(data, &k); err != nil {
		return JWK{}, refuse(ReasonBadKey, "JWK is not valid JSON: %v", err)
	}
	if err := publicOnly(data); err != nil {
		return JWK{}, err
	}
	_, err := k.PublicKey()
	return k, err
}

// privateMembers are the JWK members (RFC 7518) that hold a private or
// secret key.
var privateMembers = map[string]bool{"d": true, "p": true, "q": true, "dp": true, "dq": true, "qi": true, "oth": true, "k": true}

// publicOnly refuses a JWK object with a private member under any
// spelling of its name: encoding/json matches names without regard to
// case, so {"d": <key>, "D": ""} would leave D empty while the key itself
// is kept, with the request, wherever the JWK is stored and shown.
func publicOnly(data []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return refuse(ReasonBadKey, "JWK is not a JSON object: %v", err)
	}
	for name := range members {
		if privateMembers[strings.ToLower(name)] {
			return refuse(ReasonBadKey, "JWK holds a private key (%q)", name)
		}
	}
	return nil
}

const jwksKeysMax = 64

// parseJWKS reads a wallet address's jwks.json: {"keys": [...]}. Keys the
// profile cannot use stay in the set with their error, so that a request
// naming one is told why it is refused rather than that the kid is unknown.
func parseJWKS(data []byte) (map[string]jwksEntry, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("jwks.json is not valid JSON: %w", err)
	}
	if len(doc.Keys) > jwksKeysMax {
		return nil, fmt.Errorf("jwks.json has %d keys, more than %d", len(doc.Keys), jwksKeysMax)
	}
	out := make(map[string]jwksEntry, len(doc.Keys))
	for _, raw := range doc.Keys {
		var k JWK
		if err := json.Unmarshal(raw, &k); err != nil || k.KID == "" {
			continue
		}
		pub, err := k.PublicKey()
		if err == nil {
			if err = publicOnly(raw); err != nil {
				pub = nil
			}
		}
		if _, dup := out[k.KID]; dup {
			pub, err = nil, refuse(ReasonBadKey, "kid %q appears twice in jwks.json", k.KID)
		}
		out[k.KID] = jwksEntry{key: pub, err: err}
	}
	return out, nil
}

type jwksEntry struct {
	key ed25519.PublicKey
	err error
}

// decodeStrict refuses trailing data after the JSON value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

// Thumbprint is the key's RFC 7638 thumbprint: SHA-256 of its required
// members (crv, kty, x for an OKP key) in that order, base64url. It names a
// client known by its key alone (directed identity), which has no wallet
// address to be recorded by.
func (k JWK) Thumbprint() string {
	members, _ := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
	}{k.Crv, k.Kty, k.X})
	sum := sha256.Sum256(members)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
