package tigerbeetle

import (
	"fmt"

	tb "github.com/tigerbeetle/tigerbeetle-go"

	"github.com/rafiki-go/rafiki/ledger/internal/u128"
)

// u128Of is a TigerBeetle amount.
func u128Of(v tb.Uint128) u128.U128 {
	lo, hi := v.Uint64()
	return u128.U128{Hi: hi, Lo: lo}
}

// balance is Rafiki's calculateBalance. A settlement account (the one that
// must not have more credits than debits) holds what was deposited minus
// what was withdrawn, pending withdrawals included: debits posted + debits
// pending - credits posted. Any other account holds credits posted - debits
// posted - debits pending. The account's flags make both non-negative; the
// checks only turn a broken invariant into an error instead of a wrap.
func balance(a tb.Account) (uint64, error) {
	debitsPosted, debitsPending, creditsPosted := u128Of(a.DebitsPosted), u128Of(a.DebitsPending), u128Of(a.CreditsPosted)
	debits, ok := debitsPosted.Add(debitsPending)
	if !ok {
		return 0, fmt.Errorf("account %s: debits overflow 128 bits", uuidOf(a.ID))
	}
	var b u128.U128
	if a.AccountFlags().CreditsMustNotExceedDebits {
		b, ok = debits.Sub(creditsPosted)
	} else {
		b, ok = creditsPosted.Sub(debits)
	}
	if !ok {
		return 0, fmt.Errorf("account %s: negative balance despite its flags %#x", uuidOf(a.ID), a.Flags)
	}
	v, ok := b.Uint64()
	if !ok {
		return 0, fmt.Errorf("account %s: balance exceeds 64 bits", uuidOf(a.ID))
	}
	return v, nil
}

// total is one of an account's u128 sums as a uint64.
func total(a tb.Account, name string, v tb.Uint128) (uint64, error) {
	t, ok := u128Of(v).Uint64()
	if !ok {
		return 0, fmt.Errorf("account %s: %s exceed 64 bits", uuidOf(a.ID), name)
	}
	return t, nil
}
