package adminauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/gowebpki/jcs"

	"github.com/rafiki-go/rafiki/canonical"
)

// A client that marshals a map of strings, as adminclient does, sends a
// canonical body: signing and checking it costs no transformation.
func TestMarshalledBodyIsCanonical(t *testing.T) {
	body, err := json.Marshal(map[string]any{"query": `mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id } } }`,
		"variables": map[string]any{"input": map[string]any{"code": "USD", "scale": 2, "withdrawalThreshold": "100"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !canonical.IsCanonical(body) {
		t.Fatalf("%s is not taken as canonical", body)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = canonicalJSON(body) }); allocs != 0 {
		t.Fatalf("canonicalJSON of a canonical body: %v allocations", allocs)
	}
}

// A number is taken only as its signature reads it: as JCS writes it, or an
// integer a float64 holds exactly (below 10^21, where JCS starts writing
// exponents). Any other spelling would be signed as one number and run as
// another (the API reads digits as sent): integers beyond 2^53, 1e2 for
// 100, 100.0, -0, digits past a float64's precision. Numbers in strings are
// the strings' own.
func TestNumbersAreTakenAsTheyAreSigned(t *testing.T) {
	for _, tc := range []struct {
		json    string
		refused bool
	}{
		{`{"amount":10000000000000001}`, true},
		{`{"amount":9007199254740993}`, true}, // 2^53 + 1
		{`{"a":[1,{"b":18446744073709551615}]}`, true},
		{`{"amount":-9007199254740993}`, true},
		{`{"amount":10000000000000000}`, false},
		{`{"amount":9007199254740992}`, false},      // 2^53
		{`{"amount":1152921504606846976}`, false},   // 2^60
		{`{"amount":1000000000000000000000}`, true}, // 10^21, which JCS writes 1e+21
		{`{"amount":1e+21}`, false},
		{`{"amount":"10000000000000001"}`, false},
		{`{"rate":0.10000000000000001}`, true},
		{`{"rate":0.1}`, false},
		{`{"rate":1.5}`, false},
		{`{"rate":-2.5e-7}`, false},
		{`{"rate":1e30}`, true},
		{`{"rate":1e+30}`, false},
		{`{"n":1e2}`, true},
		{`{"n":100.0}`, true},
		{`{"n":-0}`, true},
		{`{"n":0}`, false},
		{`{"n":"1e2","q":"-0 1.0 \"2e3\""}`, false},
		{`{ "amount": 12 }`, false},
	} {
		_, err := canonicalJSON([]byte(tc.json))
		if refused := errors.Is(err, ErrInexactNumber); refused != tc.refused || (!tc.refused && err != nil) {
			t.Errorf("canonicalJSON(%s): %v, want refused %v", tc.json, err, tc.refused)
		}
	}
}

// canonicalJSON always agrees with JCS: the same text or the same error,
// but for numbers it refuses.
func FuzzCanonicalJSON(f *testing.F) {
	for _, seed := range []string{`{"query":"{ assets { edges { node { id } } } }"}`, `{"variables": {"b": 1, "a": "\u00e9"}, "query": ""}`,
		`{"a":1,"a":2}`, `"\ud800"`, `{"rate":1.5e3}`, `[-0]`, ``, `{"amount":10000000000000001}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wantErr := jcs.Transform(bytes.Clone(in))
		got, err := canonicalJSON(bytes.Clone(in))
		if errors.Is(err, ErrInexactNumber) {
			return
		}
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("canonicalJSON(%q) = %q, %v; JCS gives %q, %v", in, got, err, want, wantErr)
		}
	})
}
