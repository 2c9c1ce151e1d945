package oer

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestLengthPrefix(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		max  int
		want int
		err  string
	}{
		{"zero", []byte{0x00}, 100, 0, ""},
		{"127 in the short form", []byte{0x7f}, 1000, 127, ""},
		{"128 in two bytes", []byte{0x81, 0x80}, 1000, 128, ""},
		{"RFC 30 example 130", []byte{0x81, 0x82}, 1000, 130, ""},
		{"RFC 30 example 4660", []byte{0x82, 0x12, 0x34}, 5000, 4660, ""},
		{"RFC 30 example 11259375", []byte{0x83, 0xab, 0xcd, 0xef}, 1 << 24, 11259375, ""},
		{"four length bytes", []byte{0x84, 0x01, 0x00, 0x00, 0x00}, 1 << 25, 1 << 24, ""},
		{"empty input", nil, 10, 0, "need 1 byte"},
		{"0x80 has no length bytes", []byte{0x80}, 10, 0, "length prefix of 0 bytes"},
		{"long form below 128", []byte{0x81, 0x7f}, 1000, 0, "uses the long form"},
		{"long form of zero", []byte{0x81, 0x00}, 1000, 0, "leading zero"},
		{"leading zero byte", []byte{0x82, 0x00, 0x80}, 1000, 0, "leading zero"},
		{"length bytes missing", []byte{0x82, 0x01}, 1000, 0, "needs 2 bytes, 1 left"},
		{"more than four length bytes", []byte{0x85, 1, 0, 0, 0, 0}, 1 << 30, 0, "length prefix of 5 bytes"},
		{"eight length bytes", []byte{0x88, 0xac, 0x01, 0x05, 0x5a, 0x1d, 0xeb, 0xac, 0x1e}, 1 << 30, 0, "length prefix of 8 bytes"},
		{"over the maximum", []byte{0x0b}, 10, 0, "length 11 exceeds the maximum 10"},
		{"over the maximum in the long form", []byte{0x82, 0x80, 0x00}, 32767, 0, "exceeds the maximum"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(c.in)
			got, err := r.LengthPrefix(c.max)
			if c.err != "" {
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want ErrMalformed with %q", err, c.err)
				}
				if r.Offset() != 0 {
					t.Fatalf("offset %d after an error, want 0", r.Offset())
				}
				return
			}
			if err != nil || got != c.want || r.Len() != 0 {
				t.Fatalf("got %d, %v, %d left; want %d", got, err, r.Len(), c.want)
			}
			if b := AppendLengthPrefix(nil, c.want); !bytes.Equal(b, c.in) || LengthPrefixSize(c.want) != len(b) {
				t.Fatalf("AppendLengthPrefix(%d) = %x, size %d; want %x", c.want, b, LengthPrefixSize(c.want), c.in)
			}
		})
	}
}

func TestVarOctetString(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 255, 256, 1000, 32767, 65536} {
		s := bytes.Repeat([]byte{0x5a}, n)
		b := AppendVarOctetString([]byte{0xee}, s)
		if len(b) != 1+VarOctetStringSize(n) {
			t.Fatalf("%d bytes: encoded %d bytes, size says %d", n, len(b)-1, VarOctetStringSize(n))
		}
		r := NewReader(b[1:])
		got, err := r.VarOctetString(n)
		if err != nil || !bytes.Equal(got, s) || r.End() != nil {
			t.Fatalf("%d bytes: %v, %d left", n, err, r.Len())
		}
		if n > 0 {
			r := NewReader(b[1:])
			if _, err := r.VarOctetString(n - 1); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%d bytes under a maximum of %d: %v", n, n-1, err)
			}
			r = NewReader(b[1 : len(b)-1])
			if _, err := r.VarOctetString(n); !errors.Is(err, ErrMalformed) || r.Offset() != 0 {
				t.Fatalf("%d bytes, one missing: %v at %d", n, err, r.Offset())
			}
		}
		if s := AppendVarString(nil, string(s)); !bytes.Equal(s, b[1:]) {
			t.Fatalf("%d bytes: AppendVarString differs", n)
		}
	}
}

func TestVarUint(t *testing.T) {
	cases := []struct {
		in   []byte
		want uint64
		err  string
	}{
		{[]byte{1, 0x00}, 0, ""},
		{[]byte{1, 0xff}, 255, ""},
		{[]byte{2, 0x01, 0x00}, 256, ""},
		{[]byte{4, 0x01, 0x00, 0x00, 0x00}, 1 << 24, ""},
		{[]byte{8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1<<64 - 1, ""},
		{[]byte{0}, 0, "zero bytes"},
		{[]byte{2, 0x00, 0x01}, 0, "leading zero"},
		{[]byte{2, 0x00, 0x00}, 0, "leading zero"},
		{[]byte{9, 1, 0, 0, 0, 0, 0, 0, 0, 0}, 0, "exceeds the maximum 8"},
		{[]byte{2, 0x01}, 0, "need 2 bytes, 1 left"},
	}
	for _, c := range cases {
		r := NewReader(c.in)
		got, err := r.VarUint()
		if c.err != "" {
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.err) || r.Offset() != 0 {
				t.Fatalf("%x: %v at %d, want ErrMalformed with %q", c.in, err, r.Offset(), c.err)
			}
			continue
		}
		if err != nil || got != c.want || r.Len() != 0 {
			t.Fatalf("%x: %d, %v; want %d", c.in, got, err, c.want)
		}
		if b := AppendVarUint(nil, c.want); !bytes.Equal(b, c.in) || VarUintSize(c.want) != len(b) {
			t.Fatalf("AppendVarUint(%d) = %x, want %x", c.want, b, c.in)
		}
	}
}

// TestVarUintReaders reads each input with the three var-uint readers:
// ILP's strict one, and STREAM's padded and saturating ones. want is the
// value read, or the error expected, per reader.
func TestVarUintReaders(t *testing.T) {
	type want struct {
		v   uint64
		err string
	}
	nineZeros := append([]byte{9}, make([]byte, 9)...)
	cases := []struct {
		name                     string
		in                       []byte
		strict, padded, saturate want
	}{
		{"zero", []byte{1, 0x00}, want{0, ""}, want{0, ""}, want{0, ""}},
		{"shortest 256", []byte{2, 0x01, 0x00}, want{256, ""}, want{256, ""}, want{256, ""}},
		{"eight bytes", []byte{8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			want{1<<64 - 1, ""}, want{1<<64 - 1, ""}, want{1<<64 - 1, ""}},
		{"one leading zero", []byte{2, 0x00, 0x01},
			want{0, "leading zero"}, want{1, ""}, want{1, ""}},
		{"zero in two bytes", []byte{2, 0x00, 0x00},
			want{0, "leading zero"}, want{0, ""}, want{0, ""}},
		{"eight bytes of padding", []byte{8, 0, 0, 0, 0, 0, 0, 0x12, 0x34},
			want{0, "leading zero"}, want{0x1234, ""}, want{0x1234, ""}},
		{"nine bytes", []byte{9, 1, 0, 0, 0, 0, 0, 0, 0, 0},
			want{0, "exceeds the maximum 8"}, want{0, "exceeds the maximum 8"}, want{1<<64 - 1, ""}},
		{"nine zero bytes", nineZeros,
			want{0, "exceeds the maximum 8"}, want{0, "exceeds the maximum 8"}, want{1<<64 - 1, ""}},
		{"200 bytes in the long form", append([]byte{0x81, 200}, make([]byte, 200)...),
			want{0, "exceeds the maximum 8"}, want{0, "exceeds the maximum 8"}, want{1<<64 - 1, ""}},
		{"zero bytes", []byte{0}, want{0, "zero bytes"}, want{0, "zero bytes"}, want{0, "zero bytes"}},
		{"empty input", nil, want{0, "need 1 byte"}, want{0, "need 1 byte"}, want{0, "need 1 byte"}},
		{"truncated", []byte{2, 0x01}, want{0, "need 2 bytes, 1 left"}, want{0, "need 2 bytes, 1 left"},
			want{0, "need 2 bytes, 1 left"}},
		{"nine bytes truncated", []byte{9, 1, 0, 0}, want{0, "exceeds the maximum 8"},
			want{0, "exceeds the maximum 8"}, want{0, "need 9 bytes, 3 left"}},
		{"long-form length prefix", []byte{0x81, 0x02, 0x01, 0x00}, want{0, "uses the long form"},
			want{0, "uses the long form"}, want{0, "uses the long form"}},
	}
	readers := []struct {
		name string
		read func(*Reader) (uint64, error)
		want func(int) want
	}{
		{"VarUint", (*Reader).VarUint, func(i int) want { return cases[i].strict }},
		{"VarUintPadded", (*Reader).VarUintPadded, func(i int) want { return cases[i].padded }},
		{"VarUintSaturating", (*Reader).VarUintSaturating, func(i int) want { return cases[i].saturate }},
	}
	for i, c := range cases {
		for _, rd := range readers {
			t.Run(c.name+"/"+rd.name, func(t *testing.T) {
				w := rd.want(i)
				in := c.in
				if w.err == "" {
					// A byte after the integer must be left unread.
					in = append(in[:len(in):len(in)], 0xee)
				}
				r := NewReader(in)
				got, err := rd.read(&r)
				if w.err != "" {
					if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), w.err) || r.Offset() != 0 {
						t.Fatalf("%d, %v at %d; want ErrMalformed with %q at 0", got, err, r.Offset(), w.err)
					}
					return
				}
				if err != nil || got != w.v || r.Offset() != len(c.in) {
					t.Fatalf("%d, %v at %d; want %d at %d", got, err, r.Offset(), w.v, len(c.in))
				}
			})
		}
	}
}

func TestFixedIntegers(t *testing.T) {
	r := NewReader([]byte{0xac, 0x01, 0x05, 0x5a, 0x1d, 0xeb, 0xac, 0x1e, 0x07, 0x09})
	v, err := r.Uint64()
	if err != nil || v != 12394193534107495454 {
		t.Fatalf("Uint64 = %d, %v", v, err)
	}
	u, err := r.Uint8()
	if err != nil || u != 7 {
		t.Fatalf("Uint8 = %d, %v", u, err)
	}
	if err := r.End(); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "1 trailing bytes") {
		t.Fatalf("End = %v", err)
	}
	if _, err := r.Uint64(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Uint64 past the end: %v", err)
	}
	if _, err := r.Fixed(-1); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Fixed(-1): %v", err)
	}
	if b := AppendUint64(nil, 12394193534107495454); !bytes.Equal(b, []byte{0xac, 0x01, 0x05, 0x5a, 0x1d, 0xeb, 0xac, 0x1e}) {
		t.Fatalf("AppendUint64 = %x", b)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte{0x81, 0x80}, 1000)
	f.Add([]byte{2, 1, 0}, 8)
	f.Add([]byte{0x82, 0x00, 0x80}, 1000)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 0 {
			max = -max
		}
		r := NewReader(b)
		if s, err := r.VarOctetString(max); err == nil {
			if got := AppendVarOctetString(nil, s); !bytes.Equal(got, b[:r.Offset()]) {
				t.Fatalf("%x re-encodes to %x", b[:r.Offset()], got)
			}
		}
		r = NewReader(b)
		if v, err := r.VarUint(); err == nil {
			if got := AppendVarUint(nil, v); !bytes.Equal(got, b[:r.Offset()]) {
				t.Fatalf("%x re-encodes to %x", b[:r.Offset()], got)
			}
		}
	})
}

// FuzzVarUintPadded checks STREAM's var-uint readers against ILP's: the
// padded reader reads what the strict one reads, and the value of what it
// reads re-encodes in the shortest form to a var-uint the strict reader
// reads back; the saturating reader agrees with the padded one up to
// eight bytes.
func FuzzVarUintPadded(f *testing.F) {
	f.Add([]byte{2, 0, 1})
	f.Add([]byte{9, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x81, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		strict, padded, saturating := NewReader(b), NewReader(b), NewReader(b)
		s, errStrict := strict.VarUint()
		p, errPadded := padded.VarUintPadded()
		v, errSaturating := saturating.VarUintSaturating()
		if errStrict == nil && (errPadded != nil || p != s || padded.Offset() != strict.Offset()) {
			t.Fatalf("%x: strict %d, padded %d %v", b, s, p, errPadded)
		}
		if errPadded != nil {
			if errSaturating == nil && v != 1<<64-1 {
				t.Fatalf("%x: padded refused (%v), saturating read %d", b, errPadded, v)
			}
			return
		}
		if errSaturating != nil || v != p || saturating.Offset() != padded.Offset() {
			t.Fatalf("%x: padded %d, saturating %d %v", b, p, v, errSaturating)
		}
		r := NewReader(AppendVarUint(nil, p))
		if again, err := r.VarUint(); err != nil || again != p {
			t.Fatalf("%x: %d re-encodes to %d %v", b, p, again, err)
		}
	})
}
