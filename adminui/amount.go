package adminui

import (
	"fmt"
	"math/big"
	"strings"
)

// maxUint64 bounds amounts: the API's BigInt is an unsigned 64-bit number.
var maxUint64 = new(big.Int).SetUint64(^uint64(0))

// formatAmount writes an amount in the asset's smallest unit as a decimal
// number at the asset's scale: 12345 at scale 2 is 123.45. It works on the
// digits, so no amount is ever rounded; anything that is not a whole
// number is shown as it came.
func formatAmount(value string, scale int) string {
	if value == "" || scale <= 0 || strings.Trim(value, "0123456789") != "" {
		return value
	}
	if len(value) <= scale {
		value = strings.Repeat("0", scale-len(value)+1) + value
	}
	return value[:len(value)-scale] + "." + value[len(value)-scale:]
}

// parseAmount reads a decimal amount typed at the asset's scale ("1.5" at
// scale 2) into the smallest unit ("150"), exactly: more decimal places
// than the scale, signs, exponents and values past 64 bits are refused,
// never rounded.
func parseAmount(text string, scale int) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", fmt.Errorf("enter an amount")
	}
	whole, frac, _ := strings.Cut(text, ".")
	if whole == "" && frac == "" {
		return "", fmt.Errorf("%q is not an amount", text)
	}
	if strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return "", fmt.Errorf("%q is not an amount: use digits and at most one decimal point", text)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > scale {
		return "", fmt.Errorf("%q has more decimal places than the asset's scale (%d)", text, scale)
	}
	digits := whole + frac + strings.Repeat("0", scale-len(frac))
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return "", fmt.Errorf("%q is not an amount", text)
	}
	if n.Cmp(maxUint64) > 0 {
		return "", fmt.Errorf("%q is too large", text)
	}
	return n.String(), nil
}
