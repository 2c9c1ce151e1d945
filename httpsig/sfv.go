package httpsig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The subset of RFC 8941 structured fields the profile's headers use:
// dictionaries whose members are inner lists of strings with parameters
// (Signature-Input) or byte sequences (Signature, Content-Digest).
// Tokens, decimals, booleans, parameters on items and on byte sequences,
// and repeated keys are refused: the profile never sends them, and a key
// given twice would leave it to the parser which value counts.

const (
	fieldBytesMax   = 8 << 10
	membersMax      = 8
	innerItemsMax   = 16
	parametersMax   = 8
	integerDigitMax = 15
)

// sfParam is one parameter: a string or an integer.
type sfParam struct {
	key   string
	str   string
	num   int64
	isInt bool
}

// sfInnerList is an inner list of strings and its parameters.
type sfInnerList struct {
	items  []string
	params []sfParam
}

// serialize is the list's canonical form (RFC 8941 section 4.1.1), which
// RFC 9421 signs as the value of "@signature-params".
func (l sfInnerList) serialize() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, it := range l.items {
		if i > 0 {
			b.WriteByte(' ')
		}
		writeString(&b, it)
	}
	b.WriteByte(')')
	for _, p := range l.params {
		b.WriteByte(';')
		b.WriteString(p.key)
		b.WriteByte('=')
		if p.isInt {
			b.WriteString(strconv.FormatInt(p.num, 10))
		} else {
			writeString(&b, p.str)
		}
	}
	return b.String()
}

func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) eof() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSP() {
	for !p.eof() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *sfParser) expect(c byte) error {
	if p.peek() != c {
		return fmt.Errorf("expected %q at offset %d", c, p.i)
	}
	p.i++
	return nil
}

func (p *sfParser) key() (string, error) {
	start := p.i
	c := p.peek()
	if !(c >= 'a' && c <= 'z' || c == '*') {
		return "", fmt.Errorf("expected a key at offset %d", p.i)
	}
	for !p.eof() {
		c = p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) str() (string, error) {
	if err := p.expect('"'); err != nil {
		return "", err
	}
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.eof() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return "", errors.New("bad escape in string")
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", fmt.Errorf("byte %#x in string", c)
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("unterminated string")
}

func (p *sfParser) integer() (int64, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	digits := p.i
	for !p.eof() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if n := p.i - digits; n == 0 || n > integerDigitMax {
		return 0, fmt.Errorf("expected an integer of 1 to %d digits at offset %d", integerDigitMax, start)
	}
	if c := p.peek(); c == '.' {
		return 0, errors.New("decimals are not accepted")
	}
	return strconv.ParseInt(p.s[start:p.i], 10, 64)
}

func (p *sfParser) byteSeq() ([]byte, error) {
	if err := p.expect(':'); err != nil {
		return nil, err
	}
	end := strings.IndexByte(p.s[p.i:], ':')
	if end < 0 {
		return nil, errors.New("unterminated byte sequence")
	}
	raw := p.s[p.i : p.i+end]
	p.i += end + 1
	b, err := base64.StdEncoding.Strict().DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("byte sequence: %w", err)
	}
	return b, nil
}

func (p *sfParser) params() ([]sfParam, error) {
	var out []sfParam
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		for _, q := range out {
			if q.key == k {
				return nil, fmt.Errorf("parameter %q given twice", k)
			}
		}
		if len(out) == parametersMax {
			return nil, fmt.Errorf("more than %d parameters", parametersMax)
		}
		if err := p.expect('='); err != nil {
			return nil, fmt.Errorf("parameter %q: only string and integer values are accepted", k)
		}
		q := sfParam{key: k}
		if p.peek() == '"' {
			q.str, err = p.str()
		} else {
			q.num, err = p.integer()
			q.isInt = true
		}
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", k, err)
		}
		out = append(out, q)
	}
	return out, nil
}

func (p *sfParser) innerList() (sfInnerList, error) {
	var l sfInnerList
	if err := p.expect('('); err != nil {
		return l, err
	}
	for {
		p.skipSP()
		if p.peek() == ')' {
			p.i++
			break
		}
		if len(l.items) > 0 && p.s[p.i-1] != ' ' {
			return l, fmt.Errorf("expected a space or ')' at offset %d", p.i)
		}
		if len(l.items) == innerItemsMax {
			return l, fmt.Errorf("more than %d items", innerItemsMax)
		}
		it, err := p.str()
		if err != nil {
			return l, err
		}
		if p.peek() == ';' {
			return l, fmt.Errorf("parameters on %q are not accepted", it)
		}
		l.items = append(l.items, it)
	}
	var err error
	l.params, err = p.params()
	return l, err
}

// parseDict walks a dictionary, handing each member's value to member,
// which must consume exactly it.
func parseDict(field string, member func(p *sfParser, key string) error) error {
	if len(field) > fieldBytesMax {
		return fmt.Errorf("field longer than %d bytes", fieldBytesMax)
	}
	p := &sfParser{s: strings.TrimRight(field, " ")}
	p.skipSP()
	var seen []string
	for !p.eof() {
		k, err := p.key()
		if err != nil {
			return err
		}
		for _, s := range seen {
			if s == k {
				return fmt.Errorf("member %q given twice", k)
			}
		}
		if len(seen) == membersMax {
			return fmt.Errorf("more than %d members", membersMax)
		}
		seen = append(seen, k)
		if err := p.expect('='); err != nil {
			return fmt.Errorf("member %q has no value", k)
		}
		if err := member(p, k); err != nil {
			return fmt.Errorf("member %q: %w", k, err)
		}
		p.skipOWS()
		if p.eof() {
			return nil
		}
		if err := p.expect(','); err != nil {
			return err
		}
		p.skipOWS()
		if p.eof() {
			return errors.New("trailing comma")
		}
	}
	return errors.New("empty field")
}

// parseSignatureInput parses a Signature-Input field into its members.
func parseSignatureInput(field string) (map[string]sfInnerList, error) {
	out := map[string]sfInnerList{}
	err := parseDict(field, func(p *sfParser, k string) error {
		l, err := p.innerList()
		out[k] = l
		return err
	})
	return out, err
}

// parseByteSeqDict parses a dictionary of byte sequences: a Signature or a
// Content-Digest field.
func parseByteSeqDict(field string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := parseDict(field, func(p *sfParser, k string) error {
		b, err := p.byteSeq()
		if err != nil {
			return err
		}
		if p.peek() == ';' {
			return errors.New("parameters are not accepted")
		}
		out[k] = b
		return nil
	})
	return out, err
}
