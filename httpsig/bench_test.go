package httpsig

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// acceptingGuard takes every signature as new, so that one signed request
// can be verified again and again.
type acceptingGuard struct{}

func (acceptingGuard) Use(_ context.Context, _ string, now time.Time, _ time.Duration) (time.Time, bool, error) {
	return now, true, nil
}

// BenchmarkVerify is the whole check of a signed POST with a GNAP token and
// a JSON body: parsing, components, digest, Ed25519. Target: ≥ 10,000/s per
// core (go test -run '^$' -bench Verify -cpu 1 ./httpsig/).
func BenchmarkVerify(b *testing.B) {
	key, jwk := testKey(b, 7, "k1")
	client := newClientRequest(b, http.MethodPost, testURL, map[string]string{"Authorization": "GNAP tok"})
	body := []byte(testBody)
	if err := Sign(client, body, key, "k1", testNow); err != nil {
		b.Fatal(err)
	}
	req := received(b, client, body)
	opts := Options{Replay: acceptingGuard{}, Now: func() time.Time { return testNow }}
	if _, err := Verify(req, body, InlineKey(jwk), opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(req, body, InlineKey(jwk), opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}
