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

// Integers a float64 does not hold are refused: JCS would sign another
// number than the one the API runs. Those it holds, however long, and
// digits in strings or fractions are taken.
func TestInexactIntegersAreRefused(t *testing.T) {
	for _, tc := range []struct {
		json    string
		refused bool
	}{
		{`{"amount":10000000000000001}`, true},
		{`{"amount":9007199254740993}`, true}, // 2^53 + 1
		{`{"a":[1,{"b":18446744073709551615}]}`, true},
		{`{"amount":-9007199254740993}`, true},
		{`{"amount":10000000000000000}`, false},
		{`{"amount":9007199254740992}`, false},    // 2^53
		{`{"amount":1152921504606846976}`, false}, // 2^60
		{`{"amount":"10000000000000001"}`, false},
		{`{"rate":0.10000000000000001}`, false},
		{`{"rate":1e30}`, false},
		{`{ "amount": 12 }`, false},
	} {
		_, err := canonicalJSON([]byte(tc.json))
		if refused := errors.Is(err, ErrInexactInteger); refused != tc.refused || (!tc.refused && err != nil) {
			t.Errorf("canonicalJSON(%s): %v, want refused %v", tc.json, err, tc.refused)
		}
	}
}

// canonicalJSON always agrees with JCS: the same text or the same error,
// but for integers a float64 does not hold.
func FuzzCanonicalJSON(f *testing.F) {
	for _, seed := range []string{`{"query":"{ assets { edges { node { id } } } }"}`, `{"variables": {"b": 1, "a": "\u00e9"}, "query": ""}`,
		`{"a":1,"a":2}`, `"\ud800"`, `{"rate":1.5e3}`, `[-0]`, ``, `{"amount":10000000000000001}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wantErr := jcs.Transform(bytes.Clone(in))
		got, err := canonicalJSON(bytes.Clone(in))
		if errors.Is(err, ErrInexactInteger) {
			return
		}
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("canonicalJSON(%q) = %q, %v; JCS gives %q, %v", in, got, err, want, wantErr)
		}
	})
}
