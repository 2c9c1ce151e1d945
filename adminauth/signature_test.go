package adminauth

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
)

const hexDigest = "3aebe045adb5f33ffb62be52b46c3159af3535e792e72ec9b00de77bf6fd7db0"

func TestParseSignatureHeader(t *testing.T) {
	digest, _ := hex.DecodeString(hexDigest)
	valid := []struct {
		header string
		want   signature
	}{
		{"t=1700000000123, v1=" + hexDigest, signature{"1700000000123", 1700000000123, 1, digest, ""}},
		{"t=1700000000123,v1=" + hexDigest, signature{"1700000000123", 1700000000123, 1, digest, ""}},
		{"  v1=" + strings.ToUpper(hexDigest) + " ,  t=5 ", signature{"5", 5, 1, digest, ""}},
		{"t=007, n=nonce, v2=" + hexDigest + ", x", signature{"007", 7, 2, digest, "nonce"}},
		{"t=1, vx=zz, v12=" + hexDigest + ", n=5f0c", signature{"1", 1, 12, digest, "5f0c"}},
	}
	for _, tc := range valid {
		got, err := parseSignatureHeader(tc.header)
		if err != nil {
			t.Errorf("parse(%q): %v", tc.header, err)
			continue
		}
		if got.rawTimestamp != tc.want.rawTimestamp || got.timestamp != tc.want.timestamp ||
			got.version != tc.want.version || !bytes.Equal(got.digest, tc.want.digest) || got.nonce != tc.want.nonce {
			t.Errorf("parse(%q) = %+v, want %+v", tc.header, got, tc.want)
		}
	}

	invalid := map[string]string{
		"":                          "missing timestamp",
		"t=1":                       "missing signature",
		"v1=" + hexDigest:           "missing timestamp",
		"t=1, t=2, v1=" + hexDigest: "more than one timestamp",
		"t=1, v1=" + hexDigest + ", v2=" + hexDigest:                            "more than one signature",
		"t=, v1=" + hexDigest:                                                   "timestamp",
		"t=1.5, v1=" + hexDigest:                                                "timestamp",
		"t=-1, v1=" + hexDigest:                                                 "timestamp",
		"t=9223372036854775808, v1=" + hexDigest:                                "timestamp",
		"t=1, v1=" + hexDigest[:62]:                                             "digest",
		"t=1, v1=" + hexDigest + "00":                                           "digest",
		"t=1, v1=g" + hexDigest[1:]:                                             "digest",
		"t=1, v99999999999=" + hexDigest:                                        "missing signature",
		"t=1, n=a, n=b, v1=" + hexDigest:                                        "more than one nonce",
		"t=1, n=, v1=" + hexDigest:                                              "nonce",
		"t=1, v1=" + hexDigest + ", n=" + strings.Repeat("x", nonceLengthMax+1): "nonce",
	}
	for header, want := range invalid {
		_, err := parseSignatureHeader(header)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parse(%q) error = %v, want one mentioning %q", header, err, want)
		}
	}
}

func FuzzParseSignatureHeader(f *testing.F) {
	for _, seed := range []string{
		"t=1700000000123, v1=" + hexDigest,
		"t=1,v2=" + hexDigest + ",n=x",
		"t=007, v01=" + strings.ToUpper(hexDigest),
		"t=, v1=",
		",,=,=",
		"t=1, t=2",
		"v=1, v-1=ab, v1=abc",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		sig, err := parseSignatureHeader(header)
		if err != nil {
			return
		}
		if sig.timestamp < 0 || sig.version < 0 || len(sig.digest) != 32 {
			t.Fatalf("parse(%q) = %+v", header, sig)
		}
		// The canonical form is what replay protection keys on, so it must
		// parse back to the same signature.
		again, err := parseSignatureHeader(sig.String())
		if err != nil || again.String() != sig.String() || again.timestamp != sig.timestamp {
			t.Fatalf("canonical form %q of %q does not round-trip: %+v, %v", sig.String(), header, again, err)
		}
	})
}

// BenchmarkVerify measures the CPU side of authenticating one request:
// header parsing, canonicalization and the HMAC, without Redis.
func BenchmarkVerify(b *testing.B) {
	body := []byte(`{"query":"mutation CreateAsset($input: CreateAssetInput!) { createAsset(input: $input) { asset { id code scale withdrawalThreshold liquidityThreshold } } }","variables":{"input":{"code":"USD","scale":2,"withdrawalThreshold":"100","liquidityThreshold":"1000","idempotencyKey":"b6e2f0c4-5a1d-4f8e-9c3b-2d7a1e0f9b84"}},"operationName":"CreateAsset"}`)
	const secret = "a-tenant-api-secret-of-realistic-length-0123456789"
	header, err := Sign(secret, 1, body, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		sig, err := parseSignatureHeader(header)
		if err != nil {
			b.Fatal(err)
		}
		canonical, err := jcs.Transform(body)
		if err != nil {
			b.Fatal(err)
		}
		if !sig.matches(secret, canonical) {
			b.Fatal("signature does not match")
		}
	}
}
