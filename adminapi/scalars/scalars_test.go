package scalars

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestBigInt(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want uint64
		ok   bool
	}{
		{"18446744073709551615", 18446744073709551615, true},
		{json.Number("42"), 42, true},
		{int64(7), 7, true},
		{float64(3), 3, true},
		{float64(3.5), 0, false},
		{"-1", 0, false},
		{"18446744073709551616", 0, false},
		{"1e3", 0, false},
		{true, 0, false},
	} {
		var b BigInt
		err := b.UnmarshalGQL(tc.in)
		if (err == nil) != tc.ok || (tc.ok && uint64(b) != tc.want) {
			t.Errorf("%v: got %d %v", tc.in, b, err)
		}
	}
	var out bytes.Buffer
	BigInt(18446744073709551615).MarshalGQL(&out)
	if out.String() != `"18446744073709551615"` {
		t.Fatalf("marshalled %s", out.String())
	}
}

func TestUInt8(t *testing.T) {
	var u UInt8
	if err := u.UnmarshalGQL(int64(255)); err != nil || u != 255 {
		t.Fatalf("255: %d %v", u, err)
	}
	if err := u.UnmarshalGQL(int64(256)); err == nil {
		t.Fatal("256 accepted")
	}
}

func FuzzBigInt(f *testing.F) {
	f.Add("0")
	f.Add("18446744073709551615")
	f.Add("-0")
	f.Fuzz(func(t *testing.T, s string) {
		var b BigInt
		if err := b.UnmarshalGQL(s); err != nil {
			return
		}
		var out bytes.Buffer
		b.MarshalGQL(&out)
		var back BigInt
		var text string
		if err := json.Unmarshal(out.Bytes(), &text); err != nil {
			t.Fatal(err)
		}
		if err := back.UnmarshalGQL(text); err != nil || back != b {
			t.Fatalf("%q -> %s -> %d %v", s, out.String(), back, err)
		}
	})
}
