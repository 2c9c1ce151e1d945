package u128

import (
	"math"
	"math/big"
	"testing"
)

func (a U128) big() *big.Int {
	v := new(big.Int).SetUint64(a.Hi)
	v.Lsh(v, 64)
	return v.Or(v, new(big.Int).SetUint64(a.Lo))
}

func TestText(t *testing.T) {
	tests := []struct {
		text string
		want U128
		ok   bool
	}{
		{"0", U128{}, true},
		{"9223372036854775807", From(math.MaxInt64), true},
		{"18446744073709551615", From(math.MaxUint64), true},
		{"18446744073709551616", U128{Hi: 1}, true},
		{"10000000000000000000", From(1e19), true},
		{"100000000000000000000000000000000000000", U128{Hi: 0x4b3b4ca85a86c47a, Lo: 0x098a224000000000}, true},
		{"340282366920938463463374607431768211455", Max, true},
		{"340282366920938463463374607431768211456", U128{}, false},
		{"3402823669209384634633746074317682114550", U128{}, false},
		{"0018446744073709551616", U128{Hi: 1}, true},
		{"", U128{}, false},
		{"-1", U128{}, false},
		{"1.5", U128{}, false},
		{"1e3", U128{}, false},
		{" 1", U128{}, false},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.text))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, ok %v", tt.text, got, err, tt.want, tt.ok)
		}
		if !tt.ok || tt.text[0] == '0' && len(tt.text) > 1 {
			continue
		}
		if s := got.String(); s != tt.text {
			t.Errorf("%v.String() = %q, want %q", got, s, tt.text)
		}
	}
	var scanned U128
	if err := scanned.ScanBytes(nil); err == nil {
		t.Error("NULL scanned without an error")
	}
}

func TestArithmetic(t *testing.T) {
	values := []U128{{}, From(1), From(math.MaxInt64), From(math.MaxUint64), {Hi: 1}, {Hi: 1, Lo: math.MaxUint64}, {Hi: math.MaxUint64}, Max}
	limit := Max.big()
	for _, a := range values {
		for _, b := range values {
			sum, ok := a.Add(b)
			want := new(big.Int).Add(a.big(), b.big())
			if fits := want.Cmp(limit) <= 0; ok != fits || fits && sum.big().Cmp(want) != 0 {
				t.Errorf("%v + %v = %v, %v; want %v", a, b, sum, ok, want)
			}
			difference, ok := a.Sub(b)
			want = new(big.Int).Sub(a.big(), b.big())
			if fits := want.Sign() >= 0; ok != fits || fits && difference.big().Cmp(want) != 0 {
				t.Errorf("%v - %v = %v, %v; want %v", a, b, difference, ok, want)
			}
			if less := a.big().Cmp(b.big()) < 0; a.Less(b) != less {
				t.Errorf("%v < %v = %v", a, b, a.Less(b))
			}
		}
		v, ok := a.Uint64()
		if fits := a.Hi == 0; ok != fits || fits && v != a.Lo || a.Clamp() != smaller(a.big(), new(big.Int).SetUint64(math.MaxUint64)).Uint64() {
			t.Errorf("%v as uint64 = %d, %v; clamped %d", a, v, ok, a.Clamp())
		}
	}
}

func smaller(a, b *big.Int) *big.Int {
	if a.Cmp(b) < 0 {
		return a
	}
	return b
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "18446744073709551616", "340282366920938463463374607431768211455", "340282366920938463463374607431768211456", "x"} {
		f.Add([]byte(s))
	}
	limit := Max.big()
	f.Fuzz(func(t *testing.T, s []byte) {
		got, err := Parse(s)
		want, ok := new(big.Int).SetString(string(s), 10)
		valid := ok && len(s) > 0 && s[0] != '+' && s[0] != '-' && want.Sign() >= 0 && want.Cmp(limit) <= 0
		for _, c := range s {
			valid = valid && c >= '0' && c <= '9'
		}
		if valid != (err == nil) {
			t.Fatalf("Parse(%q) = %v, %v; big says %v", s, got, err, want)
		}
		if valid && (got.big().Cmp(want) != 0 || got.String() != want.String()) {
			t.Fatalf("Parse(%q) = %v (%s), want %v", s, got, got.String(), want)
		}
	})
}
