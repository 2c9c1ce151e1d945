// Package scalars holds the admin API's custom GraphQL scalars.
package scalars

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
)

// BigInt is an unsigned 64-bit integer, written as a JSON string so that
// clients whose numbers are doubles do not round it.
type BigInt uint64

func (b BigInt) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(strconv.FormatUint(uint64(b), 10)))
}

func (b *BigInt) UnmarshalGQL(v any) error {
	n, err := unsigned(v, math.MaxUint64)
	if err != nil {
		return fmt.Errorf("BigInt: %w", err)
	}
	*b = BigInt(n)
	return nil
}

// UInt8 is an unsigned integer below 256.
type UInt8 uint8

func (u UInt8) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.FormatUint(uint64(u), 10))
}

func (u *UInt8) UnmarshalGQL(v any) error {
	n, err := unsigned(v, math.MaxUint8)
	if err != nil {
		return fmt.Errorf("UInt8: %w", err)
	}
	*u = UInt8(n)
	return nil
}

// unsigned reads a whole number no greater than limit from a string or a
// JSON number.
func unsigned(v any, limit uint64) (uint64, error) {
	var text string
	switch x := v.(type) {
	case string:
		text = x
	case json.Number:
		text = x.String()
	case int:
		text = strconv.Itoa(x)
	case int64:
		text = strconv.FormatInt(x, 10)
	case float64:
		if x != math.Trunc(x) {
			return 0, fmt.Errorf("%v is not a whole number", x)
		}
		text = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return 0, fmt.Errorf("%v (%T) is not a number or a string", v, v)
	}
	n, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		if len(text) > 0 && text[0] == '-' {
			return 0, fmt.Errorf("%s must be unsigned", text)
		}
		return 0, fmt.Errorf("%q is not an unsigned whole number", text)
	}
	if n > limit {
		return 0, fmt.Errorf("%d is above %d", n, limit)
	}
	return n, nil
}
