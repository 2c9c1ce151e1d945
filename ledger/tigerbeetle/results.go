package tigerbeetle

import (
	"fmt"

	tb "github.com/tigerbeetle/tigerbeetle-go"

	"github.com/rafiki-go/rafiki/ledger"
)

// phase is what a create_transfers request does: one status means different
// things in each.
type phase int

const (
	phaseCreate phase = iota // deposits, withdrawals, transfer legs
	phasePost
	phaseVoid
)

// failedTransfer finds the event that failed a create_transfers request:
// in a linked chain the others only report linked_event_failed. index is -1
// when every event was created.
func failedTransfer(results []tb.CreateTransferResult, events int) (index int, status tb.CreateTransferStatus, err error) {
	if len(results) != events {
		return 0, 0, fmt.Errorf("tigerbeetle: %d results for %d transfers", len(results), events)
	}
	index = -1
	for i, r := range results {
		switch {
		case r.Status == tb.TransferCreated:
		case r.Status != tb.TransferLinkedEventFailed:
			return i, r.Status, nil
		case index < 0:
			// A chain failed with no culprit only if the server broke its
			// contract; report it rather than claim success.
			index, status = i, r.Status
		}
	}
	return index, status, nil
}

// transferError maps a failed transfer's status to the ledger's errors, as
// Rafiki's tigerbeetle/transfers.ts does, with these differences:
//   - a post or void whose own (derived) id already exists is the same post
//     or void done before, so it is ErrAlreadyPosted or ErrAlreadyVoided;
//   - pending_transfer_not_pending means the transfer was single-phase, that
//     is posted at once, so it is ErrAlreadyPosted for a void too (Rafiki's
//     Postgres service says so; its TigerBeetle one says AlreadyVoided);
//   - id_already_failed (TigerBeetle ≥ 0.16.4 burns the id of a transfer that
//     failed on balances or missing accounts) is ErrTransferExists for a new
//     transfer: the id is spent and a retry needs a new one. For a post or
//     void the only such failure is pending_transfer_not_found, so it stays
//     ErrUnknownTransfer.
//
// Statuses that only a bug in this package can cause are returned as plain
// errors naming the status.
func transferError(p phase, status tb.CreateTransferStatus) error {
	switch status {
	case tb.TransferExists,
		tb.TransferExistsWithDifferentFlags,
		tb.TransferExistsWithDifferentPendingID,
		tb.TransferExistsWithDifferentTimeout,
		tb.TransferExistsWithDifferentDebitAccountID,
		tb.TransferExistsWithDifferentCreditAccountID,
		tb.TransferExistsWithDifferentAmount,
		tb.TransferExistsWithDifferentUserData128,
		tb.TransferExistsWithDifferentUserData64,
		tb.TransferExistsWithDifferentUserData32,
		tb.TransferExistsWithDifferentLedger,
		tb.TransferExistsWithDifferentCode:
		switch p {
		case phasePost:
			return ledger.ErrAlreadyPosted
		case phaseVoid:
			return ledger.ErrAlreadyVoided
		}
		return ledger.ErrTransferExists
	case tb.TransferIDAlreadyFailed:
		if p == phaseCreate {
			return fmt.Errorf("an earlier transfer with this id failed: %w", ledger.ErrTransferExists)
		}
		return ledger.ErrUnknownTransfer
	case tb.TransferIDMustNotBeZero, tb.TransferIDMustNotBeIntMax:
		return ledger.ErrInvalidID
	case tb.TransferAccountsMustBeDifferent:
		return ledger.ErrSameAccounts
	case tb.TransferDebitAccountIDMustNotBeZero, tb.TransferDebitAccountIDMustNotBeIntMax, tb.TransferDebitAccountNotFound:
		return ledger.ErrUnknownSourceAccount
	case tb.TransferCreditAccountIDMustNotBeZero, tb.TransferCreditAccountIDMustNotBeIntMax, tb.TransferCreditAccountNotFound:
		return ledger.ErrUnknownDestinationAccount
	case tb.TransferAccountsMustHaveTheSameLedger, tb.TransferTransferMustHaveTheSameLedgerAsAccounts:
		return ledger.ErrDifferentAssets
	case tb.TransferExceedsCredits:
		return ledger.ErrInsufficientBalance
	case tb.TransferExceedsDebits:
		return ledger.ErrInsufficientDebitBalance
	case tb.TransferOverflowsTimeout:
		return ledger.ErrInvalidTimeout
	case tb.TransferPendingTransferNotFound:
		return ledger.ErrUnknownTransfer
	case tb.TransferPendingTransferNotPending, tb.TransferPendingTransferAlreadyPosted:
		return ledger.ErrAlreadyPosted
	case tb.TransferPendingTransferAlreadyVoided:
		return ledger.ErrAlreadyVoided
	case tb.TransferPendingTransferExpired:
		return ledger.ErrTransferExpired
	}
	return fmt.Errorf("tigerbeetle: %s", status)
}
