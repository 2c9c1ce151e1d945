package tigerbeetle

import (
	"fmt"
	"math"
	"math/bits"

	tb "github.com/tigerbeetle/tigerbeetle-go"
)

// u128 is TigerBeetle's unsigned 128-bit amount, for sums of amounts.
type u128 struct{ hi, lo uint64 }

func u128Of(v tb.Uint128) u128 {
	lo, hi := v.Uint64()
	return u128{hi: hi, lo: lo}
}

func (a u128) add(b u128) (sum u128, ok bool) {
	lo, carry := bits.Add64(a.lo, b.lo, 0)
	hi, carry := bits.Add64(a.hi, b.hi, carry)
	return u128{hi: hi, lo: lo}, carry == 0
}

func (a u128) sub(b u128) (difference u128, ok bool) {
	lo, borrow := bits.Sub64(a.lo, b.lo, 0)
	hi, borrow := bits.Sub64(a.hi, b.hi, borrow)
	return u128{hi: hi, lo: lo}, borrow == 0
}

// uint64 is the amount as the ledger interface carries it; ok is false when
// it does not fit.
func (a u128) uint64() (value uint64, ok bool) { return a.lo, a.hi == 0 }

// clamp is the amount, or the largest uint64 when it does not fit: for
// reports, where an error would hide the imbalance being reported.
func (a u128) clamp() uint64 {
	if a.hi != 0 {
		return math.MaxUint64
	}
	return a.lo
}

// balance is Rafiki's calculateBalance. A settlement account (the one that
// must not have more credits than debits) holds what was deposited minus
// what was withdrawn, pending withdrawals included: debits posted + debits
// pending - credits posted. Any other account holds credits posted - debits
// posted - debits pending. The account's flags make both non-negative; the
// checks only turn a broken invariant into an error instead of a wrap.
func balance(a tb.Account) (uint64, error) {
	debitsPosted, debitsPending, creditsPosted := u128Of(a.DebitsPosted), u128Of(a.DebitsPending), u128Of(a.CreditsPosted)
	debits, ok := debitsPosted.add(debitsPending)
	if !ok {
		return 0, fmt.Errorf("account %s: debits overflow 128 bits", uuidOf(a.ID))
	}
	var b u128
	if a.AccountFlags().CreditsMustNotExceedDebits {
		b, ok = debits.sub(creditsPosted)
	} else {
		b, ok = creditsPosted.sub(debits)
	}
	if !ok {
		return 0, fmt.Errorf("account %s: negative balance despite its flags %#x", uuidOf(a.ID), a.Flags)
	}
	v, ok := b.uint64()
	if !ok {
		return 0, fmt.Errorf("account %s: balance exceeds 64 bits", uuidOf(a.ID))
	}
	return v, nil
}

// total is one of an account's u128 sums as a uint64.
func total(a tb.Account, name string, v tb.Uint128) (uint64, error) {
	t, ok := u128Of(v).uint64()
	if !ok {
		return 0, fmt.Errorf("account %s: %s exceed 64 bits", uuidOf(a.ID), name)
	}
	return t, nil
}
