package postgres

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger/internal/u128"
)

// TestAssertRows: the rules the tables' CHECKs held, now run on every row a
// batch writes.
func TestAssertRows(t *testing.T) {
	now := time.Now()
	good := func() *transfer {
		return &transfer{
			id: uuid.New(), group: uuid.New(), debit: uuid.New(), credit: uuid.New(), amount: 5, ledger: 1,
			state: statePending, timeout: time.Minute, createdAt: now, expiresAt: now.Add(time.Minute), created: true,
		}
	}
	tests := []struct {
		name    string
		account func(*account)
		change  func(*transfer)
		// expiredKnown: the batch counted every expired transfer.
		expiredKnown bool
		ok           bool
	}{
		{name: "pending transfer", ok: true},
		{name: "posted at once", change: func(t *transfer) { t.state, t.timeout, t.expiresAt = statePosted, 0, time.Time{} }, ok: true},
		{name: "settled", change: func(t *transfer) { t.created, t.dirty, t.state = false, true, stateExpired }, ok: true},
		{name: "unchanged rows are not checked", change: func(t *transfer) { t.created, t.amount = false, 0 }, ok: true},
		{name: "zero amount", change: func(t *transfer) { t.amount = 0 }},
		{name: "amount over int64", change: func(t *transfer) { t.amount = amountMax + 1 }},
		{name: "no ledger", change: func(t *transfer) { t.ledger = 0 }},
		{name: "one account both sides", change: func(t *transfer) { t.credit = t.debit }},
		{name: "timeout without expiry", change: func(t *transfer) { t.expiresAt = time.Time{} }},
		{name: "expiry without timeout", change: func(t *transfer) { t.timeout, t.state = 0, statePosted }},
		{name: "negative timeout", change: func(t *transfer) { t.timeout = -time.Second }},
		{name: "created and voided in one batch", change: func(t *transfer) { t.state = stateVoided }, ok: true},
		{name: "created voided without a timeout", change: func(t *transfer) { t.state, t.timeout, t.expiresAt = stateVoided, 0, time.Time{} }},
		{name: "created expired", change: func(t *transfer) { t.state = stateExpired }},
		{name: "unknown state", change: func(t *transfer) { t.created, t.dirty, t.state = false, true, "LOST" }},
		{name: "account totals past 64 bits", account: func(a *account) { a.creditsPosted, a.debitsPosted = u128.U128{Hi: 3}, u128.U128{Hi: 2} }, ok: true},
		{name: "pending debits over credits", account: func(a *account) { a.flags, a.creditsPosted = flagDebitsMustNotExceedCredits, u128.From(4) }, expiredKnown: true},
		{name: "pending debits over credits, expired ones unknown", account: func(a *account) { a.flags, a.creditsPosted = flagDebitsMustNotExceedCredits, u128.From(4) }, ok: true},
		{name: "posted debits over credits", account: func(a *account) {
			a.flags, a.creditsPosted, a.debitsPosted = flagDebitsMustNotExceedCredits, u128.From(4), u128.From(5)
		}},
		{name: "debits at credits", account: func(a *account) { a.flags, a.creditsPosted = flagDebitsMustNotExceedCredits, u128.From(5) }, expiredKnown: true, ok: true},
		{name: "expired debits not held", account: func(a *account) {
			a.flags, a.creditsPosted, a.expiredDebits = flagDebitsMustNotExceedCredits, u128.From(3), u128.From(2)
		}, expiredKnown: true, ok: true},
		{name: "credits over debits", account: func(a *account) {
			a.flags, a.creditsPosted, a.debitsPosted = flagCreditsMustNotExceedDebits, u128.U128{Hi: 1, Lo: 1}, u128.U128{Hi: 1}
		}},
		{name: "account without ledger", account: func(a *account) { a.ledger = 0 }},
		{name: "clean account not checked", account: func(a *account) { a.dirty, a.flags = false, flagDebitsMustNotExceedCredits }, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := good()
			a := &account{id: tr.debit, ledger: 1, debitsPending: u128.From(5), dirty: true}
			if tt.change != nil {
				tt.change(tr)
			}
			if tt.account != nil {
				tt.account(a)
			}
			s := &batchState{
				accounts:     map[uuid.UUID]*account{a.id: a},
				transfers:    map[uuid.UUID]*transfer{tr.id: tr},
				expiredKnown: tt.expiredKnown,
			}
			err := s.assertRows()
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, errInvariant)) {
				t.Fatalf("assertRows = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
