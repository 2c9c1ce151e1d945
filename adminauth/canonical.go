package adminauth

import (
	"errors"
	"math/big"
	"strconv"
	"strings"

	"github.com/gowebpki/jcs"

	"github.com/rafiki-go/rafiki/canonical"
)

// canonicalJSON is the JCS form (RFC 8785) of a JSON text, refused when it
// holds a number the form would write otherwise. A body that is canonical
// already, as clients that marshal sorted maps without spacing send it, is
// recognised in one pass without allocating and returned as it is
// (canonical.Transform).
func canonicalJSON(body []byte) ([]byte, error) {
	if err := numbersExact(body); err != nil {
		return nil, err
	}
	return canonical.Transform(body)
}

// ErrInexactNumber is a body holding a number that the signature would not
// cover as it runs: JCS writes numbers as the float64 nearest them, in
// JavaScript's form, while the API reads a number's digits as sent (into an
// integer, or a String argument), so 10000000000000001 would be signed as
// 10000000000000000, and 1e2, 100.0 or -0 as 100 or 0, and each run as
// itself. Numbers go as JavaScript writes them (JSON.stringify); integers
// beyond 2^53 as strings, as the API's amounts do.
var ErrInexactNumber = errors.New("the body holds a number not written as JSON.stringify writes it, or an integer a float64 cannot hold exactly (beyond 2^53): send it as JavaScript writes it, or as a string")

// numbersExact checks that every number in a JSON text outside its strings
// is written as its signature reads it: as JCS writes it, or an integer a
// float64 holds exactly, which the API reads as the same value. One pass,
// without allocating for the plain integers of up to 15 digits bodies are
// made of; a malformed text is JCS's to refuse.
func numbersExact(body []byte) error {
	inString, escaped := false, false
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		case c == '"':
			inString = true
			continue
		case c != '-' && (c < '0' || c > '9'):
			continue
		}
		j := i + 1
		for j < len(body) && strings.IndexByte("+-.eE0123456789", body[j]) >= 0 {
			j++
		}
		if !numberSigned(string(body[i:j])) {
			return ErrInexactNumber
		}
		i = j - 1
	}
	return nil
}

// numberSigned tells whether a number's literal is what the signature
// covers: its JCS form, or a plain integer below 10^21 (from where JCS
// writes exponents) that a float64 holds exactly; not -0, which JCS
// writes 0.
func numberSigned(lit string) bool {
	digits := strings.TrimPrefix(lit, "-")
	plain := digits != "" && strings.Trim(digits, "0123456789") == "" && lit != "-0"
	if plain && len(digits) <= canonical.IntegerDigitsMax {
		return true
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return true
	}
	if written, err := jcs.NumberToJSON(f); err == nil && written == lit {
		return true
	}
	if !plain || len(digits) > 21 {
		return false
	}
	exact, ok := new(big.Int).SetString(lit, 10)
	if !ok {
		return true
	}
	got, _ := big.NewFloat(f).Int(nil)
	return got.Cmp(exact) == 0
}
