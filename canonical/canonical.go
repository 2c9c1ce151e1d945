// Package canonical writes JSON texts in their JCS form (RFC 8785), the
// form Rafiki signs: the admin API's request signatures and the webhooks'.
// Texts already in that form, as clients that marshal sorted maps send them,
// are recognised in one pass; others whose numbers are all plain integers
// (the API's amounts go as strings) are rewritten in one pass more; any
// other goes through the general JCS implementation, which also gives the
// errors.
package canonical

import (
	"slices"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// depthMax bounds the nesting the one-pass paths follow; deeper texts take
// the general path.
const depthMax = 64

// IntegerDigitsMax is the longest integer the one-pass paths take: every
// integer of up to 15 digits is a float64 exactly, so JCS writes it back
// with the same digits.
const IntegerDigitsMax = 15

// Transform returns the JCS form of a JSON text: b itself when it is in that
// form already.
func Transform(b []byte) ([]byte, error) {
	if IsCanonical(b) {
		return b, nil
	}
	t := transformer{in: b, out: make([]byte, 0, len(b))}
	if t.value(0) && t.end() {
		return t.out, nil
	}
	return jcs.Transform(b)
}

// IsCanonical reports whether b is a JSON text that JCS leaves unchanged.
// It may say no to some canonical texts (integers of more than 15 digits,
// fractions, escaped object keys, deep nesting); never yes to another.
func IsCanonical(b []byte) bool {
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
		return depth < depthMax && s.object(depth+1)
	case '[':
		return depth < depthMax && s.array(depth+1)
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
	case digits == 0 || digits > IntegerDigitsMax:
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

// transformer writes the JCS form of in to out in one pass, and reports
// false, leaving the text to the general path, for anything it does not
// take: a number other than a plain integer of up to 15 digits, a
// duplicate key, a string that is not valid UTF-8 or holds an unpaired
// surrogate, deep nesting, or a text that is not JSON.
type transformer struct {
	in  []byte
	i   int
	out []byte
}

// member is an object member as written: its key, unescaped, and where its
// value's canonical form lies in out.
type member struct {
	key        []byte
	start, end int
}

func (t *transformer) space() {
	for t.i < len(t.in) {
		switch t.in[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		default:
			return
		}
	}
}

// end reports whether nothing but white space follows the value.
func (t *transformer) end() bool {
	t.space()
	return t.i == len(t.in)
}

func (t *transformer) value(depth int) bool {
	t.space()
	if t.i >= len(t.in) {
		return false
	}
	switch t.in[t.i] {
	case '{':
		return depth < depthMax && t.object(depth+1)
	case '[':
		return depth < depthMax && t.array(depth+1)
	case '"':
		s, ok := t.str()
		if ok {
			t.out = appendString(t.out, s)
		}
		return ok
	case 't':
		return t.literal("true")
	case 'f':
		return t.literal("false")
	case 'n':
		return t.literal("null")
	}
	return t.number()
}

// object writes the members' values one after another, then rewrites them
// in the order of their keys' UTF-16 code units.
func (t *transformer) object(depth int) bool {
	t.i++ // {
	start := len(t.out)
	t.space()
	if t.i < len(t.in) && t.in[t.i] == '}' {
		t.i++
		t.out = append(t.out, "{}"...)
		return true
	}
	var members []member
	for {
		t.space()
		key, ok := t.str()
		if !ok {
			return false
		}
		t.space()
		if t.i >= len(t.in) || t.in[t.i] != ':' {
			return false
		}
		t.i++
		valueStart := len(t.out)
		if !t.value(depth) {
			return false
		}
		members = append(members, member{key: key, start: valueStart, end: len(t.out)})
		t.space()
		if t.i >= len(t.in) {
			return false
		}
		if t.in[t.i] == '}' {
			t.i++
			break
		}
		if t.in[t.i] != ',' {
			return false
		}
		t.i++
	}
	slices.SortStableFunc(members, func(a, b member) int {
		switch {
		case keyBefore(a.key, b.key):
			return -1
		case keyBefore(b.key, a.key):
			return 1
		}
		return 0
	})
	for k := 1; k < len(members); k++ {
		if !keyBefore(members[k-1].key, members[k].key) {
			return false // a duplicate key, which JCS refuses
		}
	}
	values := slices.Clone(t.out[start:])
	t.out = append(t.out[:start], '{')
	for k, m := range members {
		if k > 0 {
			t.out = append(t.out, ',')
		}
		t.out = appendString(t.out, m.key)
		t.out = append(t.out, ':')
		t.out = append(t.out, values[m.start-start:m.end-start]...)
	}
	t.out = append(t.out, '}')
	return true
}

func (t *transformer) array(depth int) bool {
	t.i++ // [
	t.out = append(t.out, '[')
	t.space()
	if t.i < len(t.in) && t.in[t.i] == ']' {
		t.i++
		t.out = append(t.out, ']')
		return true
	}
	for first := true; ; first = false {
		if !first {
			t.out = append(t.out, ',')
		}
		if !t.value(depth) {
			return false
		}
		t.space()
		if t.i >= len(t.in) {
			return false
		}
		if t.in[t.i] == ']' {
			t.i++
			t.out = append(t.out, ']')
			return true
		}
		if t.in[t.i] != ',' {
			return false
		}
		t.i++
	}
}

// str reads a string and returns its contents unescaped, as UTF-8.
func (t *transformer) str() ([]byte, bool) {
	if t.i >= len(t.in) || t.in[t.i] != '"' {
		return nil, false
	}
	t.i++
	start := t.i
	// Most strings hold no escape: their contents are the text itself.
	for t.i < len(t.in) {
		c := t.in[t.i]
		if c == '"' {
			s := t.in[start:t.i]
			t.i++
			return s, utf8.Valid(s)
		}
		if c == '\\' || c < 0x20 {
			break
		}
		t.i++
	}
	if t.i >= len(t.in) || t.in[t.i] != '\\' {
		return nil, false
	}
	s := slices.Clone(t.in[start:t.i])
	for t.i < len(t.in) {
		c := t.in[t.i]
		switch {
		case c == '"':
			t.i++
			return s, utf8.Valid(s)
		case c < 0x20:
			return nil, false
		case c != '\\':
			s = append(s, c)
			t.i++
			continue
		}
		if t.i+1 >= len(t.in) {
			return nil, false
		}
		switch e := t.in[t.i+1]; e {
		case '"', '\\', '/':
			s = append(s, e)
		case 'b':
			s = append(s, '\b')
		case 'f':
			s = append(s, '\f')
		case 'n':
			s = append(s, '\n')
		case 'r':
			s = append(s, '\r')
		case 't':
			s = append(s, '\t')
		case 'u':
			r, ok := t.hex4(t.i + 2)
			if !ok {
				return nil, false
			}
			if utf16.IsSurrogate(r) {
				lo, ok := t.hex4(t.i + 8)
				if !ok || r >= 0xDC00 || t.in[t.i+6] != '\\' || t.in[t.i+7] != 'u' {
					return nil, false
				}
				if r = utf16.DecodeRune(r, lo); r == utf8.RuneError {
					return nil, false
				}
				t.i += 6
			}
			s = utf8.AppendRune(s, r)
			t.i += 4
		default:
			return nil, false
		}
		t.i += 2
	}
	return nil, false
}

// hex4 reads the four hexadecimal digits at i.
func (t *transformer) hex4(i int) (rune, bool) {
	if i+4 > len(t.in) {
		return 0, false
	}
	var r rune
	for _, c := range t.in[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number copies a plain integer of up to 15 digits, which JCS writes as it
// is; any other number is the general path's.
func (t *transformer) number() bool {
	start := t.i
	negative := t.i < len(t.in) && t.in[t.i] == '-'
	if negative {
		t.i++
	}
	digitsStart := t.i
	for t.i < len(t.in) && '0' <= t.in[t.i] && t.in[t.i] <= '9' {
		t.i++
	}
	digits := t.i - digitsStart
	switch {
	case digits == 0 || digits > IntegerDigitsMax:
		return false
	case t.in[digitsStart] == '0' && (digits > 1 || negative):
		return false
	case t.i < len(t.in) && (t.in[t.i] == '.' || t.in[t.i] == 'e' || t.in[t.i] == 'E'):
		return false
	}
	t.out = append(t.out, t.in[start:t.i]...)
	return true
}

func (t *transformer) literal(word string) bool {
	if len(t.in)-t.i < len(word) || string(t.in[t.i:t.i+len(word)]) != word {
		return false
	}
	t.i += len(word)
	t.out = append(t.out, word...)
	return true
}

// appendString writes s, valid UTF-8, as JCS writes strings: only `"` and
// `\` and control characters escaped, those with a short escape with it,
// the others as \u00xx in lower case.
func appendString(out, s []byte) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c >= 0x20:
			out = append(out, c)
		case c == '\b':
			out = append(out, '\\', 'b')
		case c == '\f':
			out = append(out, '\\', 'f')
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c == '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
	}
	return append(out, '"')
}
