package adminauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/gowebpki/jcs"
)

// canonicalCases are JSON texts with whether the one-pass check takes them
// as canonical. Every one is also a seed of FuzzCanonicalJSON.
var canonicalCases = []struct {
	json      string
	canonical bool
}{
	{`{"query":"mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id } } }","variables":{"input":{"address":"alice","assetId":"7d6b7a1e-9a0f-4c0e-8f55-1f7b3e7e2a11","publicName":"Alice"}}}`, true},
	{`{}`, true},
	{`[]`, true},
	{`[1,-2,0,true,false,null,"x",{},[]]`, true},
	{`{"a":{"b":[{"c":1}]},"b":null}`, true},
	{`"\"\\\b\f\n\r\t\u0000\u001f"`, true},
	{"\"é\u2028\x7f/<>&\"", true},
	{`{"a":1,"b":2,"é":3,"😀":4,"ﬀ":5}`, true}, // U+1F600 is a surrogate pair, below U+FB00
	{`{"ﬀ":1,"😀":2}`, false},                  // the same two in code point order
	{`{"a":1,"ab":2,"b":3}`, true},            // a prefix sorts first
	{`{"b":1,"a":2}`, false},                  // unsorted
	{`{"a":1,"a":2}`, false},                  // duplicate
	{`{"\u0061":1}`, false},                   // escaped key
	{`{ "a":1}`, false},                       // spacing
	{`{"a":1} `, false},                       // trailing space
	{"{\"a\":1}\n", false},                    // trailing newline
	{`[1 ,2]`, false},                         // spacing
	{`"\/"`, false},                           // needless escape
	{`"\u0041"`, false},                       // escaped letter
	{`"\u001F"`, false},                       // upper-case hex
	{`"\u000a"`, false},                       // has a short escape
	{`"\u007f"`, false},                       // written raw by JCS
	{`"\u003c"`, false},                       // as encoding/json escapes <
	{`"\ud83d\ude00"`, false},                 // escaped surrogate pair
	{"\"\xff\"", false},                       // not UTF-8
	{"\"a\x01\"", false},                      // raw control character
	{`1.0`, false},
	{`1e2`, false},
	{`-0`, false},
	{`01`, false},
	{`-`, false},
	{`123456789012345`, true},
	{`1234567890123456`, false}, // more digits than certainly exact
	{`tru`, false},
	{`nul`, false},
	{`{"a":}`, false},
	{`{"a"1}`, false},
	{`{"a":1,}`, false},
	{`[1,]`, false},
	{`"abc`, false},
	{``, false},
}

func TestIsCanonical(t *testing.T) {
	for _, tc := range canonicalCases {
		if got := isCanonical([]byte(tc.json)); got != tc.canonical {
			t.Errorf("isCanonical(%q) = %v, want %v", tc.json, got, tc.canonical)
		}
		// What the one-pass check accepts, JCS leaves as it is.
		if tc.canonical {
			out, err := jcs.Transform([]byte(tc.json))
			if err != nil || !bytes.Equal(out, []byte(tc.json)) {
				t.Errorf("JCS of %q: %q, %v", tc.json, out, err)
			}
		}
	}
	deep := bytes.Repeat([]byte("["), canonicalDepthMax+1)
	deep = append(deep, bytes.Repeat([]byte("]"), canonicalDepthMax+1)...)
	if isCanonical(deep) {
		t.Errorf("nesting deeper than %d is left to JCS", canonicalDepthMax)
	}
}

// A client that marshals a map of strings, as adminclient does, sends a
// canonical body: signing and checking it costs no transformation.
func TestMarshalledBodyIsCanonical(t *testing.T) {
	body, err := json.Marshal(map[string]any{"query": `mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id } } }`,
		"variables": map[string]any{"input": map[string]any{"code": "USD", "scale": 2, "withdrawalThreshold": "100"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !isCanonical(body) {
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
	for _, tc := range canonicalCases {
		f.Add([]byte(tc.json))
	}
	f.Add([]byte(`{"amount":10000000000000001}`))
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
