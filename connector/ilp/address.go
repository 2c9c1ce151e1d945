package ilp

import (
	"fmt"
	"strings"
)

// AddressBytesMax is the longest ILP address (RFC 15).
const AddressBytesMax = 1023

// addressSchemes are RFC 15's allocation schemes.
var addressSchemes = [...]string{"g", "private", "example", "peer", "self", "test", "test1", "test2", "test3", "local"}

// ValidateAddress reports why a is not an ILP address (RFC 15): an
// allocation scheme and at least one more segment, separated by periods,
// each segment of letters, digits, '_', '~' and '-', 1023 bytes at most.
func ValidateAddress(a string) error {
	if len(a) > AddressBytesMax {
		return fmt.Errorf("ILP address of %d bytes, more than %d", len(a), AddressBytesMax)
	}
	scheme, rest, found := strings.Cut(a, ".")
	if !found {
		return fmt.Errorf("ILP address %q has no segment after its scheme", a)
	}
	if !knownScheme(scheme) {
		return fmt.Errorf("ILP address %q has an unknown allocation scheme", a)
	}
	segmentBytes := 0
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c == '.':
			if segmentBytes == 0 {
				return fmt.Errorf("ILP address %q has an empty segment", a)
			}
			segmentBytes = 0
		case addressByte(c):
			segmentBytes++
		default:
			return fmt.Errorf("ILP address %q has the byte %#x at %d", a, c, len(scheme)+1+i)
		}
	}
	if segmentBytes == 0 {
		return fmt.Errorf("ILP address %q has an empty segment", a)
	}
	return nil
}

func knownScheme(s string) bool {
	for _, k := range addressSchemes {
		if s == k {
			return true
		}
	}
	return false
}

func addressByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '~' || c == '-'
}
