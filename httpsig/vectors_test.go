package httpsig

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/testkit"
)

type vectorFile struct {
	Ed25519SeedHex string `json:"ed25519SeedHex"`
	JWK            JWK    `json:"jwk"`
	Created        int64  `json:"created"`
	Cases          []struct {
		Name          string            `json:"name"`
		Method        string            `json:"method"`
		URL           string            `json:"url"`
		Body          string            `json:"body"`
		Headers       map[string]string `json:"headers"`
		SignatureBase string            `json:"signatureBase"`
	} `json:"cases"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) < 8 {
		t.Fatalf("%d vector cases, want at least 8", len(v.Cases))
	}
	return v
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func vectorKey(t *testing.T, v vectorFile) ed25519.PrivateKey {
	t.Helper()
	seed, err := hex.DecodeString(v.Ed25519SeedHex)
	if err != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("seed: %v", err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// TestReferenceVectorsVerify verifies every request the reference
// implementation signed, as a server receives it.
func TestReferenceVectorsVerify(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			req := received(t, newClientRequest(t, c.Method, c.URL, c.Headers), []byte(c.Body))
			got, err := Verify(req, []byte(c.Body), InlineKey(v.JWK), Options{
				Replay: &memoryGuard{},
				Now:    func() time.Time { return time.Unix(v.Created, 0) },
			})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.KeyID != v.JWK.KID || got.Created.Unix() != v.Created {
				t.Fatalf("Verified %+v", got)
			}
		})
	}
}

// TestSignMatchesReference signs each vector's request in Go and expects
// the reference's headers and signature base byte for byte (Ed25519 is
// deterministic).
func TestSignMatchesReference(t *testing.T) {
	v := loadVectors(t)
	key := vectorKey(t, v)
	pub, err := v.JWK.PublicKey()
	if err != nil || !pub.Equal(key.Public()) {
		t.Fatalf("the vectors' JWK is not the seed's key: %v", err)
	}
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			in := map[string]string{}
			if a, ok := c.Headers["authorization"]; ok {
				in["Authorization"] = a
			}
			req := newClientRequest(t, c.Method, c.URL, in)
			if err := Sign(req, []byte(c.Body), key, v.JWK.KID, time.Unix(v.Created, 0)); err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"signature-input", "signature", "content-digest", "content-length", "content-type"} {
				if got := req.Header.Get(h); got != c.Headers[h] {
					t.Errorf("%s = %q, reference %q", h, got, c.Headers[h])
				}
			}
			list, _, err := readSignature(req.Header)
			if err != nil {
				t.Fatal(err)
			}
			base, err := signatureBase(req, nil, list.items, list.serialize())
			if err != nil {
				t.Fatal(err)
			}
			if base != c.SignatureBase {
				t.Errorf("signature base\n%s\nreference\n%s", base, c.SignatureBase)
			}
			if req.ContentLength != int64(len(c.Body)) {
				t.Errorf("ContentLength %d, body %d bytes", req.ContentLength, len(c.Body))
			}
		})
	}
}

// TestSharedVectorsAgree checks the project's fixtures against the shared
// research vectors: each shared case verifies, and a request both files
// hold was signed identically.
func TestSharedVectorsAgree(t *testing.T) {
	data := testkit.Shared(t, "research/vectors/http-signature-vectors.json")
	var shared struct {
		JWK     JWK   `json:"jwk"`
		Created int64 `json:"created"`
		Cases   []struct {
			Method  string            `json:"method"`
			URL     string            `json:"url"`
			Body    string            `json:"body"`
			Headers map[string]string `json:"headersToSend"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &shared); err != nil {
		t.Fatal(err)
	}
	ours := loadVectors(t)
	if shared.JWK != ours.JWK || shared.Created != ours.Created {
		t.Fatalf("shared key or clock differ: %+v %d", shared.JWK, shared.Created)
	}
	matched := 0
	for _, s := range shared.Cases {
		req := received(t, newClientRequest(t, s.Method, s.URL, s.Headers), []byte(s.Body))
		if _, err := Verify(req, []byte(s.Body), InlineKey(shared.JWK), Options{
			Replay: &memoryGuard{},
			Now:    func() time.Time { return time.Unix(shared.Created, 0) },
		}); err != nil {
			t.Errorf("shared case %s %s: %v", s.Method, s.URL, err)
		}
		for _, o := range ours.Cases {
			if o.Method == s.Method && o.URL == s.URL && o.Body == s.Body {
				matched++
				if !bytes.Equal([]byte(o.Headers["signature"]), []byte(s.Headers["signature"])) {
					t.Errorf("%s %s: signature %s, shared %s", s.Method, s.URL, o.Headers["signature"], s.Headers["signature"])
				}
			}
		}
	}
	if matched == 0 {
		t.Fatal("no shared case is among the project's fixtures")
	}
}
