package adminauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"strconv"
	"strings"

	"github.com/rafiki-go/rafiki/canonical"
)

// canonicalJSON is the JCS form (RFC 8785) of a JSON text, refused when it
// holds an integer the form would change. A body that is canonical
// already, as clients that marshal sorted maps without spacing send it, is
// recognised in one pass without allocating and returned as it is
// (canonical.Transform).
func canonicalJSON(body []byte) ([]byte, error) {
	if err := integersExact(body); err != nil {
		return nil, err
	}
	return canonical.Transform(body)
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
	if !hasDigitRun(body, canonical.IntegerDigitsMax+1) {
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
