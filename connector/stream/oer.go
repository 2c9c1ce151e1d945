package stream

// The Octet Encoding Rules subset STREAM packets use (interledger RFC 30):
// fixed uint8, var-uint (a length-prefixed big-endian unsigned integer) and
// var-octet-string (a length prefix, then the bytes).

import (
	"errors"
	"fmt"
	"math"
)

// lengthPrefixBytesMax bounds the long form of a length prefix: four bytes
// already say more than any ILP packet can hold.
const lengthPrefixBytesMax = 4

var errShort = errors.New("unexpected end of data")

type reader struct {
	b   []byte
	off int
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) uint8() (uint8, error) {
	if r.off >= len(r.b) {
		return 0, errShort
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

// length reads a length prefix. As the reference reader does, it refuses a
// long form that a short one, or a shorter long one, could have said.
func (r *reader) length() (int, error) {
	first, err := r.uint8()
	if err != nil {
		return 0, err
	}
	if first < 0x80 {
		return int(first), nil
	}
	n := int(first & 0x7f)
	if n == 0 || n > lengthPrefixBytesMax {
		return 0, fmt.Errorf("length prefix of %d bytes", n)
	}
	if r.remaining() < n {
		return 0, errShort
	}
	if r.b[r.off] == 0 {
		return 0, errors.New("length prefix not canonical: leading zero byte")
	}
	length := 0
	for _, c := range r.b[r.off : r.off+n] {
		length = length<<8 | int(c)
	}
	r.off += n
	if length < 0x80 {
		return 0, fmt.Errorf("length prefix not canonical: %d in the long form", length)
	}
	return length, nil
}

// octets reads a var-octet-string; the result aliases the input.
func (r *reader) octets() ([]byte, error) {
	n, err := r.length()
	if err != nil {
		return nil, err
	}
	if r.remaining() < n {
		return nil, fmt.Errorf("%d bytes announced, %d left: %w", n, r.remaining(), errShort)
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v, nil
}

// varUint reads a var-uint of at most eight bytes. Leading zero bytes are
// accepted within those eight, as the reference reader accepts them.
func (r *reader) varUint() (uint64, error) {
	v, big, err := r.varUintWide()
	if err != nil {
		return 0, err
	}
	if big {
		return 0, errors.New("var-uint longer than 8 bytes")
	}
	return v, nil
}

// saturatingVarUint reads a var-uint and makes one longer than eight bytes
// MaxUint64, as RFC 29 §5.1.4 requires for receiveMax and sendMax.
func (r *reader) saturatingVarUint() (uint64, error) {
	v, big, err := r.varUintWide()
	if big {
		return math.MaxUint64, err
	}
	return v, err
}

func (r *reader) varUintWide() (v uint64, big bool, err error) {
	b, err := r.octets()
	if err != nil {
		return 0, false, err
	}
	if len(b) == 0 {
		return 0, false, errors.New("var-uint of length 0")
	}
	if len(b) > 8 {
		return 0, true, nil
	}
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, false, nil
}

func appendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n <= 0xff:
		return append(b, 0x81, byte(n))
	case n <= 0xffff:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func appendOctets(b, v []byte) []byte {
	return append(appendLength(b, len(v)), v...)
}

func appendString(b []byte, v string) []byte {
	return append(appendLength(b, len(v)), v...)
}

// varUintBytes is the minimal length of v's big-endian form, at least one.
func varUintBytes(v uint64) int {
	n := 1
	for v > 0xff {
		v >>= 8
		n++
	}
	return n
}

func appendVarUint(b []byte, v uint64) []byte {
	n := varUintBytes(v)
	b = append(b, byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// str reads a var-octet-string as a string; RFC 29 calls these UTF-8, but
// the bytes are kept as sent so that a peer's odd error message does not
// cost it the whole packet.
func (r *reader) str() (string, error) {
	b, err := r.octets()
	return string(b), err
}
