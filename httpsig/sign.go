package httpsig

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sign signs req as Open Payments clients do (@interledger/http-signature-utils):
// Signature-Input sig1 covering "@method", "@target-uri", "authorization"
// when req has one and, when body is not empty, "content-digest" (SHA-512),
// "content-length" and "content-type" (application/json unless set), with
// keyid and created. It sets req's body to body.
func Sign(req *http.Request, body []byte, key ed25519.PrivateKey, keyID string, created time.Time) error {
	return SignNonce(req, body, key, keyID, created, "")
}

// SignNonce signs as Sign, with a nonce parameter when nonce is not empty:
// Ed25519 signs the same base alike, so two equal requests within a second
// would otherwise carry the same signature, which a verifier that refuses
// replays (Verify) takes only once.
func SignNonce(req *http.Request, body []byte, key ed25519.PrivateKey, keyID string, created time.Time, nonce string) error {
	if len(key) != ed25519.PrivateKeySize {
		return refuse(ReasonBadKey, "signing key is not an Ed25519 private key")
	}
	if keyID == "" || strings.IndexFunc(keyID, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		return refuse(ReasonBadKey, "key id %q is empty or not printable ASCII", keyID)
	}
	components := []string{"@method", "@target-uri"}
	if _, ok, _ := fieldValue(req.Header, "Authorization"); ok {
		components = append(components, "authorization")
	}
	if len(body) > 0 {
		sum := sha512.Sum512(body)
		req.Header.Set("Content-Digest", "sha-512=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
		req.Header.Set("Content-Length", strconv.Itoa(len(body)))
		if req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
		components = append(components, bodyComponents...)
	}
	// http.NoBody, not an empty reader: a client request with a body and
	// ContentLength 0 is sent chunked, as of unknown length.
	req.ContentLength = int64(len(body))
	req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}

	list := sfInnerList{items: components, params: []sfParam{
		{key: "keyid", str: keyID},
		{key: "created", num: created.Unix(), isInt: true},
	}}
	if nonce != "" {
		list.params = append(list.params, sfParam{key: "nonce", str: nonce})
	}
	params := list.serialize()
	base, err := signatureBase(req, nil, components, params)
	if err != nil {
		return err
	}
	sig := ed25519.Sign(key, []byte(base))
	req.Header.Set("Signature-Input", label+"="+params)
	req.Header.Set("Signature", label+"=:"+base64.StdEncoding.EncodeToString(sig)+":")
	return nil
}
