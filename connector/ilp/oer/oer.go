// Package oer reads and writes the subset of Octet Encoding Rules
// (ITU-T X.696) that Interledger packets use: fixed-size unsigned
// integers, length prefixes, variable-length octet strings and
// variable-length unsigned integers, as interledger RFC 30 profiles them.
//
// The reader is strict: every length prefix and variable-length integer
// must be in its shortest form, so that one value has exactly one
// encoding and a decoded packet re-encodes to the bytes it came from.
// STREAM (interledger RFC 29) follows a reference that is laxer about
// variable-length integers; VarUintPadded and VarUintSaturating read
// them its way and are for STREAM only.
package oer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrMalformed is wrapped by every error the reader returns.
var ErrMalformed = errors.New("malformed OER")

// lengthBytesMax bounds the long-form length prefix: four bytes already
// describe lengths far beyond any input the reader is given.
const lengthBytesMax = 4

// Reader consumes an OER encoding from the front of a byte slice. Byte
// slices it returns share the slice's memory.
type Reader struct {
	b   []byte
	off int
}

// NewReader returns a reader positioned at the start of b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Offset is the number of bytes consumed so far.
func (r *Reader) Offset() int { return r.off }

// Len is the number of bytes not yet consumed.
func (r *Reader) Len() int { return len(r.b) - r.off }

func (r *Reader) malformed(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrMalformed, r.off, fmt.Sprintf(format, args...))
}

// Fixed consumes exactly n bytes.
func (r *Reader) Fixed(n int) ([]byte, error) {
	if n < 0 || r.Len() < n {
		return nil, r.malformed("need %d bytes, %d left", n, r.Len())
	}
	b := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return b, nil
}

// Uint8 consumes a one-byte unsigned integer.
func (r *Reader) Uint8() (uint8, error) {
	if r.Len() < 1 {
		return 0, r.malformed("need 1 byte, 0 left")
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

// Uint64 consumes an eight-byte big-endian unsigned integer.
func (r *Reader) Uint64() (uint64, error) {
	if r.Len() < 8 {
		return 0, r.malformed("need 8 bytes, %d left", r.Len())
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v, nil
}

// LengthPrefix consumes a length determinant: one byte below 128,
// otherwise 0x80|n followed by the length in n big-endian bytes. The
// long form must not be used for lengths below 128 nor carry a leading
// zero byte, and the length must not exceed max.
func (r *Reader) LengthPrefix(max int) (int, error) {
	start := r.off
	first, err := r.Uint8()
	if err != nil {
		return 0, err
	}
	if first < 0x80 {
		return r.checkLength(start, int(first), max)
	}
	n := int(first & 0x7f)
	if n == 0 || n > lengthBytesMax {
		r.off = start
		return 0, r.malformed("length prefix of %d bytes", n)
	}
	if left := r.Len(); left < n {
		r.off = start
		return 0, r.malformed("length prefix needs %d bytes, %d left", n, left)
	}
	digits := r.b[r.off : r.off+n]
	if digits[0] == 0 {
		r.off = start
		return 0, r.malformed("length prefix has a leading zero byte")
	}
	length := 0
	for _, d := range digits {
		length = length<<8 | int(d)
	}
	r.off += n
	if length < 0x80 {
		r.off = start
		return 0, r.malformed("length %d uses the long form", length)
	}
	return r.checkLength(start, length, max)
}

func (r *Reader) checkLength(start, length, max int) (int, error) {
	if length > max {
		r.off = start
		return 0, r.malformed("length %d exceeds the maximum %d", length, max)
	}
	return length, nil
}

// VarOctetString consumes a length-prefixed octet string of at most max
// bytes.
func (r *Reader) VarOctetString(max int) ([]byte, error) {
	start := r.off
	n, err := r.LengthPrefix(max)
	if err != nil {
		return nil, err
	}
	b, err := r.Fixed(n)
	if err != nil {
		r.off = start
		return nil, err
	}
	return b, nil
}

// VarUint consumes a variable-length unsigned integer: a length prefix
// and one to eight big-endian bytes without a leading zero byte (zero is
// the single byte 0x00).
func (r *Reader) VarUint() (uint64, error) {
	start := r.off
	b, err := r.varUintBytes(8)
	if err != nil {
		return 0, err
	}
	if len(b) > 1 && b[0] == 0 {
		r.off = start
		return 0, r.malformed("variable-length integer has a leading zero byte")
	}
	return bigEndian(b), nil
}

// VarUintPadded consumes a variable-length unsigned integer of one to
// eight bytes that may carry leading zero bytes, as the STREAM reference
// (ilp-protocol-stream) accepts them.
func (r *Reader) VarUintPadded() (uint64, error) {
	b, err := r.varUintBytes(8)
	if err != nil {
		return 0, err
	}
	return bigEndian(b), nil
}

// VarUintSaturating is VarUintPadded, except that an integer longer than
// eight bytes is consumed and read as math.MaxUint64, whatever its bytes:
// RFC 29 §5.1.4 asks this of a STREAM receiveMax and sendMax.
func (r *Reader) VarUintSaturating() (uint64, error) {
	b, err := r.varUintBytes(math.MaxInt)
	if err != nil {
		return 0, err
	}
	if len(b) > 8 {
		return math.MaxUint64, nil
	}
	return bigEndian(b), nil
}

// varUintBytes consumes the non-empty octet string of a variable-length
// integer of at most max bytes.
func (r *Reader) varUintBytes(max int) ([]byte, error) {
	start := r.off
	b, err := r.VarOctetString(max)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		r.off = start
		return nil, r.malformed("variable-length integer of zero bytes")
	}
	return b, nil
}

func bigEndian(b []byte) uint64 {
	var v uint64
	for _, d := range b {
		v = v<<8 | uint64(d)
	}
	return v
}

// End reports bytes left unconsumed.
func (r *Reader) End() error {
	if r.Len() != 0 {
		return r.malformed("%d trailing bytes", r.Len())
	}
	return nil
}

// LengthPrefixSize is the size of the length prefix AppendLengthPrefix
// writes for n.
func LengthPrefixSize(n int) int {
	if n < 0x80 {
		return 1
	}
	size := 1
	for ; n > 0; n >>= 8 {
		size++
	}
	return size
}

// VarOctetStringSize is the encoded size of an n-byte octet string.
func VarOctetStringSize(n int) int { return LengthPrefixSize(n) + n }

// AppendLengthPrefix appends the shortest length determinant of n, which
// must not be negative.
func AppendLengthPrefix(dst []byte, n int) []byte {
	if n < 0x80 {
		return append(dst, byte(n))
	}
	size := LengthPrefixSize(n) - 1
	dst = append(dst, 0x80|byte(size))
	for i := size - 1; i >= 0; i-- {
		dst = append(dst, byte(n>>(8*i)))
	}
	return dst
}

// AppendVarOctetString appends b with its length prefix.
func AppendVarOctetString(dst, b []byte) []byte {
	return append(AppendLengthPrefix(dst, len(b)), b...)
}

// AppendVarString appends s with its length prefix.
func AppendVarString(dst []byte, s string) []byte {
	return append(AppendLengthPrefix(dst, len(s)), s...)
}

// AppendUint64 appends v as eight big-endian bytes.
func AppendUint64(dst []byte, v uint64) []byte {
	return binary.BigEndian.AppendUint64(dst, v)
}

// VarUintSize is the encoded size of v as a variable-length integer.
func VarUintSize(v uint64) int {
	n := 1
	for v > 0xff {
		v >>= 8
		n++
	}
	return 1 + n
}

// AppendVarUint appends v as a variable-length unsigned integer in its
// shortest form.
func AppendVarUint(dst []byte, v uint64) []byte {
	n := VarUintSize(v) - 1
	dst = append(dst, byte(n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}
