// Package u128 is the unsigned 128-bit integer of account totals: an
// account's lifetime debits and credits, which TigerBeetle keeps in 128 bits
// and the Postgres ledger in numeric(39,0), so that no total stops a ledger
// that every single amount (at most 2^63-1) fits.
package u128

import (
	"errors"
	"math"
	"math/bits"
	"strconv"
)

// U128 is Hi·2^64 + Lo.
type U128 struct{ Hi, Lo uint64 }

// Max is 2^128-1.
var Max = U128{Hi: math.MaxUint64, Lo: math.MaxUint64}

// From is v as a U128.
func From(v uint64) U128 { return U128{Lo: v} }

// Add is a+b; ok is false when it overflows.
func (a U128) Add(b U128) (sum U128, ok bool) {
	lo, carry := bits.Add64(a.Lo, b.Lo, 0)
	hi, carry := bits.Add64(a.Hi, b.Hi, carry)
	return U128{Hi: hi, Lo: lo}, carry == 0
}

// Sub is a-b; ok is false when b is greater than a.
func (a U128) Sub(b U128) (difference U128, ok bool) {
	lo, borrow := bits.Sub64(a.Lo, b.Lo, 0)
	hi, borrow := bits.Sub64(a.Hi, b.Hi, borrow)
	return U128{Hi: hi, Lo: lo}, borrow == 0
}

// Less tells whether a < b.
func (a U128) Less(b U128) bool { return a.Hi < b.Hi || (a.Hi == b.Hi && a.Lo < b.Lo) }

// IsZero tells whether a is 0.
func (a U128) IsZero() bool { return a.Hi == 0 && a.Lo == 0 }

// Uint64 is a as a uint64; ok is false when it does not fit.
func (a U128) Uint64() (value uint64, ok bool) { return a.Lo, a.Hi == 0 }

// Clamp is a, or the largest uint64 when it does not fit: for reports, where
// an error would hide what is being reported.
func (a U128) Clamp() uint64 {
	if a.Hi != 0 {
		return math.MaxUint64
	}
	return a.Lo
}

// AppendText appends a in decimal.
func (a U128) AppendText(b []byte) ([]byte, error) {
	if a.Hi == 0 {
		return strconv.AppendUint(b, a.Lo, 10), nil
	}
	// In groups of 19 digits, the most a uint64 holds: 2^128-1 has 39.
	const tenTo19 = 10_000_000_000_000_000_000
	var groups [3]uint64
	n := 0
	for q := a; !q.IsZero(); n++ {
		var r uint64
		q.Hi, r = bits.Div64(0, q.Hi, tenTo19)
		q.Lo, r = bits.Div64(r, q.Lo, tenTo19)
		groups[n] = r
	}
	b = strconv.AppendUint(b, groups[n-1], 10)
	for i := n - 2; i >= 0; i-- {
		digits := strconv.AppendUint(nil, groups[i], 10)
		for range 19 - len(digits) {
			b = append(b, '0')
		}
		b = append(b, digits...)
	}
	return b, nil
}

// String is a in decimal.
func (a U128) String() string {
	b, _ := a.AppendText(nil)
	return string(b)
}

var errSyntax = errors.New("u128: not an unsigned integer of at most 128 bits")

// Parse reads a decimal number of at most 128 bits, digits only.
func Parse(s []byte) (U128, error) {
	if len(s) == 0 {
		return U128{}, errSyntax
	}
	var v U128
	for _, c := range s {
		if c < '0' || c > '9' {
			return U128{}, errSyntax
		}
		hi, lo := bits.Mul64(v.Lo, 10)
		hiHi, hiLo := bits.Mul64(v.Hi, 10)
		if hiHi != 0 {
			return U128{}, errSyntax
		}
		hi, carry := bits.Add64(hi, hiLo, 0)
		if carry != 0 {
			return U128{}, errSyntax
		}
		next, ok := U128{Hi: hi, Lo: lo}.Add(From(uint64(c - '0')))
		if !ok {
			return U128{}, errSyntax
		}
		v = next
	}
	return v, nil
}

// ScanBytes reads a from a query's text: a numeric column selected ::text.
func (a *U128) ScanBytes(src []byte) error {
	if src == nil {
		return errors.New("u128: NULL")
	}
	v, err := Parse(src)
	if err != nil {
		return err
	}
	*a = v
	return nil
}
