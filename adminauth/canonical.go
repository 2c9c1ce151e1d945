package adminauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// canonicalDepthMax bounds the nesting the one-pass check follows; deeper
// bodies take the general path.
const canonicalDepthMax = 64

// canonicalNumberDigitsMax is the longest integer the one-pass check
// accepts: every integer of up to 15 digits is a float64 exactly, so JCS
// writes it back with the same digits.
const canonicalNumberDigitsMax = 15

// canonicalJSON is the JCS form (RFC 8785) of a JSON text. A body that is
// canonical already, as clients that marshal sorted maps without spacing
// send it, is recognised in one pass without allocating and returned as it
// is; any other is transformed.
func canonicalJSON(body []byte) ([]byte, error) {
	if isCanonical(body) {
		return body, nil
	}
	if err := integersExact(body); err != nil {
		return nil, err
	}
	return jcs.Transform(body)
}

// ErrInexactInteger is a body holding an integer that the signature would
// not cover: JCS writes numbers as the float64 nearest them, while the API
// reads integers digit for digit, so 10000000000000001 would be signed as
// 10000000000000000 and run as itself. Such integers go as strings, as the
// API's amounts do.
var ErrInexactInteger = errors.New("the body holds an integer a float64 cannot hold exactly (beyond 2^53): send it as a string")

// integersExact checks that every integer in a JSON text is a float64
// exactly. Only runs of 16 digits or more can fail, so a body without one
// is not parsed.
func integersExact(body []byte) error {
	if !hasDigitRun(body, canonicalNumberDigitsMax+1) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			// io.EOF at the end; a malformed text is JCS's to refuse.
			return nil
		}
		n, ok := tok.(json.Number)
		if !ok || strings.ContainsAny(string(n), ".eE") {
			continue
		}
		exact, ok := new(big.Int).SetString(string(n), 10)
		if !ok {
			continue
		}
		f, _ := strconv.ParseFloat(string(n), 64)
		if got, _ := big.NewFloat(f).Int(nil); got.Cmp(exact) != 0 {
			return ErrInexactInteger
		}
	}
}

func hasDigitRun(b []byte, n int) bool {
	run := 0
	for _, c := range b {
		if '0' <= c && c <= '9' {
			if run++; run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// isCanonical reports whether b is a JSON text that JCS leaves unchanged.
// It may say no to some canonical texts (integers of more than 15 digits,
// fractions, escaped object keys, deep nesting); never yes to another.
func isCanonical(b []byte) bool {
	s := canonicalScanner{b: b}
	return s.value(0) && s.i == len(b)
}

type canonicalScanner struct {
	b []byte
	i int
}

func (s *canonicalScanner) next(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *canonicalScanner) value(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '{':
		return depth < canonicalDepthMax && s.object(depth+1)
	case '[':
		return depth < canonicalDepthMax && s.array(depth+1)
	case '"':
		_, _, ok := s.str()
		return ok
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.number()
}

// object checks members in JCS order: keys unique and sorted by their
// UTF-16 code units.
func (s *canonicalScanner) object(depth int) bool {
	s.i++ // {
	if s.next('}') {
		return true
	}
	var prev []byte
	for first := true; ; first = false {
		key, escaped, ok := s.str()
		if !ok || escaped || (!first && !keyBefore(prev, key)) || !s.next(':') || !s.value(depth) {
			return false
		}
		prev = key
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

func (s *canonicalScanner) array(depth int) bool {
	s.i++ // [
	if s.next(']') {
		return true
	}
	for {
		if !s.value(depth) {
			return false
		}
		if s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// str checks a string written as JCS writes it: valid UTF-8, only `"` and
// `\` and control characters escaped, those that have a short escape with
// it, the others as \u00xx in lower case. It returns the raw contents and
// whether they hold an escape.
func (s *canonicalScanner) str() (raw []byte, escaped, ok bool) {
	if !s.next('"') {
		return nil, false, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, false, false
			}
			escaped = true
			switch s.b[s.i+1] {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || s.b[s.i+2] != '0' || s.b[s.i+3] != '0' {
					return nil, false, false
				}
				hi, lo := s.b[s.i+4], s.b[s.i+5]
				if (hi != '0' && hi != '1') || !isLowerHex(lo) {
					return nil, false, false
				}
				// The five with a short escape are written short.
				if hi == '0' && (lo == '8' || lo == '9' || lo == 'a' || lo == 'c' || lo == 'd') {
					return nil, false, false
				}
				s.i += 6
			default:
				return nil, false, false
			}
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, false, false
			}
			s.i += n
		}
	}
	return nil, false, false
}

func isLowerHex(c byte) bool { return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') }

// number accepts integers written as JCS writes them: no sign but a minus,
// no leading zero, no -0, no fraction or exponent, and few enough digits
// that the float64 JCS goes through holds them exactly.
func (s *canonicalScanner) number() bool {
	negative := s.next('-')
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	digits := s.i - start
	switch {
	case digits == 0 || digits > canonicalNumberDigitsMax:
		return false
	case s.b[start] == '0' && (digits > 1 || negative):
		return false
	}
	// A fraction or exponent: JCS may write the number differently.
	return s.i == len(s.b) || (s.b[s.i] != '.' && s.b[s.i] != 'e' && s.b[s.i] != 'E')
}

func (s *canonicalScanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// keyBefore reports whether key a sorts strictly before b by UTF-16 code
// units, as JCS orders members. Both are valid UTF-8 without escapes.
func keyBefore(a, b []byte) bool {
	for len(a) > 0 && len(b) > 0 {
		ra, na := utf8.DecodeRune(a)
		rb, nb := utf8.DecodeRune(b)
		if ra != rb {
			// A rune beyond the basic plane is written as a surrogate pair,
			// whose first unit sorts below U+E000–U+FFFF.
			ua, ub := firstUTF16Unit(ra), firstUTF16Unit(rb)
			if ua != ub {
				return ua < ub
			}
			return ra < rb
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) == 0 && len(b) > 0
}

func firstUTF16Unit(r rune) rune {
	if r < 0x10000 {
		return r
	}
	return 0xD800 + (r-0x10000)>>10
}
