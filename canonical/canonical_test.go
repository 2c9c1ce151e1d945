package canonical

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"
)

// canonicalCases are JSON texts with whether the one-pass check takes them
// as canonical. Every one is also a seed of FuzzTransform.
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
		if got := IsCanonical([]byte(tc.json)); got != tc.canonical {
			t.Errorf("IsCanonical(%q) = %v, want %v", tc.json, got, tc.canonical)
		}
		// What the one-pass check accepts, JCS leaves as it is.
		if tc.canonical {
			out, err := jcs.Transform([]byte(tc.json))
			if err != nil || !bytes.Equal(out, []byte(tc.json)) {
				t.Errorf("JCS of %q: %q, %v", tc.json, out, err)
			}
		}
	}
	deep := []byte(strings.Repeat("[", depthMax+1) + strings.Repeat("]", depthMax+1))
	if IsCanonical(deep) {
		t.Error("nesting past depthMax is left to the general path")
	}
}

// Texts as Postgres writes jsonb and as encoding/json and JavaScript's
// JSON.stringify write objects are rewritten in one pass, to what JCS gives.
func TestTransformInOnePass(t *testing.T) {
	for _, in := range []string{
		`{"id": "7d6b7a1e-9a0f-4c0e-8f55-1f7b3e7e2a11", "state": "PENDING", "metadata": {"description": "Hello my friend", "externalRef": null}, "assetScale": 2, "incomingAmount": {"value": "1002", "assetCode": "USD", "assetScale": 2}}`,
		`{"query":"\n      mutation CreateReceiver($input: CreateReceiverInput!) {\n        createReceiver(input: $input) { receiver { id } }\n      }\n    ","variables":{"input":{"expiresAt":null,"metadata":{"description":"Hello my friend","externalRef":null},"incomingAmount":{"assetCode":"USD","assetScale":2,"value":1002},"walletAddressUrl":"https://cloud-nine-wallet-backend/accounts/bhamchest"}}}`,
		`{"type":"incoming_payment.created","id":"x","data":{"a\u003cb":"\u0026\u2028\ud83d\ude00\/","ﬀ":[1, -2, 0, true, false, null],"😀":{}}}`,
		" \t\r\n[ {\"b\" : 1 , \"a\" : [ ] } ] \n",
	} {
		want, err := jcs.Transform([]byte(in))
		if err != nil {
			t.Fatalf("JCS of %q: %v", in, err)
		}
		tr := transformer{in: []byte(in)}
		if !tr.value(0) || !tr.end() {
			t.Fatalf("%q left to the general path", in)
		}
		got, err := Transform([]byte(in))
		if err != nil || !bytes.Equal(got, want) || !bytes.Equal(tr.out, want) {
			t.Fatalf("Transform(%q) = %q, %v; JCS gives %q", in, got, err, want)
		}
	}
}

// Transform always agrees with JCS: the same text, or an error where JCS
// gives one.
func FuzzTransform(f *testing.F) {
	for _, tc := range canonicalCases {
		f.Add([]byte(tc.json))
	}
	f.Add([]byte(`{"b": 1, "a": {"d": [1, 2, {"z": null, "y": "\u00e9\n"}], "c": "x"}}`))
	f.Add([]byte(`{"a": 1, "a": 2}`))
	f.Add([]byte(`{"a": "\ud800"}`))
	f.Add([]byte(`{"a": "\udc00\ud800"}`))
	f.Add([]byte(`{"a": 1.5e3, "b": -0, "c": 10000000000000001}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wantErr := jcs.Transform(bytes.Clone(in))
		got, err := Transform(bytes.Clone(in))
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("Transform(%q) = %q, %v; JCS gives %q, %v", in, got, err, want, wantErr)
		}
	})
}

// A webhook's body: its data as Postgres writes jsonb.
var webhookBody = []byte(`{"id":"0b2b0b6e-6d2f-4b8e-9a4a-7c1b9e2f3a10","type":"outgoing_payment.created","data":{"id": "0b2b0b6e-6d2f-4b8e-9a4a-7c1b9e2f3a10", "sent": {"value": "0", "assetCode": "USD", "assetScale": 2}, "error": null, "state": "FUNDING", "quoteId": "0b2b0b6e-6d2f-4b8e-9a4a-7c1b9e2f3a10", "metadata": {"description": "Hello my friend"}, "receiver": "https://wallet.example/438fa74a-fa7d-4317-9ced-dde32ece1787/incoming-payments/2e3c0b18-e160-5666-bd6b-693efc937359", "createdAt": "2026-12-06T14:17:48.043Z", "debitAmount": {"value": "500", "assetCode": "USD", "assetScale": 2}, "receiveAmount": {"value": "500", "assetCode": "USD", "assetScale": 2}, "walletAddressId": "9bae5037-d3b9-5e38-bbde-2b6dabe4eedd", "stateAttempts": 0}}`)

func BenchmarkTransform(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Transform(webhookBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTransformJCS(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jcs.Transform(webhookBody); err != nil {
			b.Fatal(err)
		}
	}
}
