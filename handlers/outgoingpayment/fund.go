package outgoingpayment

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/valid"
)

// decideFund funds a payment that waits for its money, with exactly its
// debit amount, as Rafiki's funding does, and keeps the data to send with
// it, which must fit a STREAM packet. amountMax is the most the ledger
// holds in one transfer: a debit amount past it could never be deposited.
func decideFund(s State, c commands.FundOutgoingPayment, amountMax uint64) ([]events.Event, error) {
	if !s.Exists || !c.Actor.CanActFor(s.TenantID) {
		return nil, errUnknownPayment()
	}
	if s.State != Funding {
		return nil, errWrongState()
	}
	if len(c.DataToTransmit) > DataToTransmitBytesMax {
		return nil, apperr.E(apperr.InvalidInput, "dataToTransmit is longer than %d bytes", DataToTransmitBytesMax)
	}
	if s.DebitAmount > amountMax {
		// Rafiki's amounts go to 2^64 - 1; the Postgres ledger holds 2^63 - 1.
		return nil, apperr.E(apperr.InvalidInput, "the payment's debit amount %d is more than the ledger holds", s.DebitAmount)
	}
	return []events.Event{&events.OutgoingPaymentFunded{Amount: s.DebitAmount, DataToTransmit: c.DataToTransmit}}, nil
}

// Fund records a payment's funding (depositOutgoingPaymentLiquidity). Its
// sender follows the payments' events: told of the funding, it deposits
// the debit amount into the payment's account, under the id of the
// payment's first event so that it is made once, and sends. The funding is
// thus one event, and no stop between a deposit and its record can leave
// money in a payment nothing sends, nor a cancel land between them. A
// payment found funded already is in the wrong state, as Rafiki answers,
// unless it was funded by another funder while this one decided.
func (h *Handler) Fund(ctx context.Context, c commands.FundOutgoingPayment) (handlers.Result, error) {
	id, ok := valid.ID(c.OutgoingPaymentID)
	if !ok {
		return handlers.Result{}, errUnknownPayment()
	}
	t, err := h.locate(ctx, c.Actor, id)
	if err != nil {
		return handlers.Result{}, err
	}
	// A payment this process made or read waiting for its money is funded
	// as it knew it, unread: one that moved since (cancelled, funded by
	// another) fails the append, which reads it then. Any other is read,
	// with whether this command ran before.
	s, version, known := h.payments.CachedAt(t.Subject)
	if !known || s.State != Funding {
		var done *handlers.Result
		s, version, done, err = handlers.LoadFor(ctx, h.store, t.Subject, c.ID, Evolve)
		if err != nil {
			return handlers.Result{}, err
		}
		if done != nil {
			return *done, nil
		}
	}
	evs, err := decideFund(s, c, h.amountMax)
	if err != nil {
		return handlers.Result{Sequence: version}, err
	}
	res, err := handlers.AppendEvents(ctx, h.store, t.Subject, version, handlers.Meta(t, info(c.Meta)), c.ID, evs...)
	if err == nil {
		h.payments.Appended(t.Subject, version, res)
	}
	if !errors.Is(err, eventstore.ErrConflict) {
		return res, err
	}
	// The payment moved since it was read waiting for its money. Funded
	// meanwhile by another funder (a wallet funding on the created webhook
	// while an operator funds by hand), it is what this funder asked for:
	// no error, and no second funding.
	return handlers.Execute(ctx, h.store, t, info(c.Meta), Evolve, func(now State) ([]events.Event, error) {
		if now.State != Funding && now.State != Cancelled {
			return nil, nil
		}
		return decideFund(now, c, h.amountMax)
	})
}

// returnDeposit gives a cancelled payment's deposit back to the asset's
// settlement account, once. An earlier version deposited before recording
// the funding, and scheduled a check of the funding before its deposit: a
// funder that stopped in between, the payment cancelled meanwhile, left
// money in an account nothing would send or withdraw from, which that
// check, when it comes, returns.
func (h *Handler) returnDeposit(ctx context.Context, s State) error {
	account, err := Account(s)
	if err != nil {
		return err
	}
	err = h.ledger.Withdraw(ctx, ledger.Withdrawal{ID: DepositReturnID(s.CreatedBy), Account: account, Amount: s.DebitAmount})
	switch {
	case err == nil, errors.Is(err, ledger.ErrTransferExists):
		return nil
	case errors.Is(err, ledger.ErrUnknownSourceAccount), errors.Is(err, ledger.ErrInsufficientBalance),
		errors.Is(err, ledger.ErrInsufficientDebitBalance):
		// No deposit was made.
		return nil
	}
	return fmt.Errorf("return the deposit of cancelled outgoing payment %s: %w", s.ID, err)
}

// DepositReturnID names the return of a cancelled payment's deposit,
// derived from the deposit's id, the id of the payment's first event.
func DepositReturnID(createdBy uuid.UUID) uuid.UUID {
	return events.DeriveID("deposit-return:"+createdBy.String(), 0)
}
