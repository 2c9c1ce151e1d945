package outgoingpayment

import (
	"context"
	"errors"
	"fmt"
	"time"

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
// it, which must fit a STREAM packet.
func decideFund(s State, c commands.FundOutgoingPayment) ([]events.Event, error) {
	if !s.Exists || !c.Actor.CanActFor(s.TenantID) {
		return nil, errUnknownPayment()
	}
	if s.State != Funding {
		return nil, errWrongState()
	}
	if len(c.DataToTransmit) > DataToTransmitBytesMax {
		return nil, apperr.E(apperr.InvalidInput, "dataToTransmit is longer than %d bytes", DataToTransmitBytesMax)
	}
	return []events.Event{&events.OutgoingPaymentFunded{Amount: s.DebitAmount, DataToTransmit: c.DataToTransmit}}, nil
}

// fundCheckDelay is when a payment's funding is checked again, should its
// funder stop between the deposit and recording it.
const fundCheckDelay = 30 * time.Second

// Fund deposits a payment's debit amount into its account and has it sent
// (depositOutgoingPaymentLiquidity). The deposit's transfer id is the id of
// the payment's first event, so a payment is funded once however often it
// is asked. Before the deposit a send is scheduled for a little later: a
// funder stopping after the deposit leaves it to find the money, record
// the funding and send.
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
	// another) fails the record's append, which reads it then. Any other
	// is read, with whether this command ran before.
	s, version, known := h.payments.CachedAt(t.Subject)
	var done *handlers.Result
	if !known || s.State != Funding {
		if s, version, done, err = handlers.LoadFor(ctx, h.store, t.Subject, c.ID, Evolve); err != nil {
			return handlers.Result{}, err
		}
	}
	if done == nil {
		if _, err := decideFund(s, c); err != nil {
			return handlers.Result{Sequence: version}, err
		}
		if err := h.deposit(ctx, s, c.ID); err != nil {
			return handlers.Result{}, err
		}
		res, found, err := h.recordFunding(ctx, t, c, s, version)
		if err != nil {
			if found.State == Cancelled {
				// Cancelled between the check and the deposit: the
				// money goes back, and the funder is told it lost.
				return res, errors.Join(err, h.returnDeposit(ctx, found))
			}
			return res, err
		}
		done = &res
	}
	// A retry enqueues the send again, in case the first run stopped
	// before it did, and so does a funder that raced another and found the
	// payment funded: the payment's own id makes them one command, so that
	// two senders never race for one payment (the loser's attempt would
	// fail, and the payment wait for its retry).
	send := commands.SendOutgoingPayment{TenantID: t.TenantID, OutgoingPaymentID: id}
	if err := h.enqueue(ctx, commands.SendOutgoingPaymentSubject, "send:"+id, time.Time{}, send); err != nil {
		return handlers.Result{}, fmt.Errorf("enqueue the send of outgoing payment %s: %w", id, err)
	}
	return *done, nil
}

// recordFunding appends the funding of a payment whose deposit was made. The
// payment read before the deposit is almost always the payment still: the
// funding expects it, and only one that moved meanwhile (a cancel, a
// sender that found the deposit first) is read again and decided anew.
// found is the payment the funding was decided on.
func (h *Handler) recordFunding(ctx context.Context, t handlers.Target, c commands.FundOutgoingPayment, s State, version uint64) (handlers.Result, State, error) {
	evs, err := decideFund(s, c)
	if err != nil {
		return handlers.Result{}, s, err
	}
	res, err := handlers.AppendEvents(ctx, h.store, t.Subject, version, handlers.Meta(t, info(c.Meta)), c.ID, evs...)
	if err == nil {
		h.payments.Appended(t.Subject, version, res)
	}
	if !errors.Is(err, eventstore.ErrConflict) {
		return res, s, err
	}
	found := s
	res, err = handlers.Execute(ctx, h.store, t, info(c.Meta), Evolve, func(s State) ([]events.Event, error) {
		found = s
		if s.State == Sending {
			// The sender found the deposit first.
			return nil, nil
		}
		return decideFund(s, c)
	})
	return res, found, err
}

// returnDeposit gives a cancelled payment's deposit back to the asset's
// settlement account, once: a funder whose deposit landed as the payment
// was cancelled leaves no money in an account nothing will send or
// withdraw from. The funder does it when its append finds the payment
// cancelled, and the funding check it scheduled before its deposit does it
// when the funder stopped in between.
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

// deposit puts the payment's debit amount into its account, made with it,
// once.
func (h *Handler) deposit(ctx context.Context, s State, commandID string) error {
	account, err := Account(s)
	if err != nil {
		return err
	}
	check := commands.SendOutgoingPayment{TenantID: s.TenantID, OutgoingPaymentID: s.ID}
	if err := h.enqueue(ctx, commands.SendOutgoingPaymentSubject, "fund-check:"+s.ID+":"+commandID, time.Now().Add(fundCheckDelay), check); err != nil {
		return fmt.Errorf("schedule the funding check of outgoing payment %s: %w", s.ID, err)
	}
	err = h.ledger.Deposit(ctx, ledger.Deposit{ID: s.CreatedBy, Account: account, Amount: s.DebitAmount, Open: true})
	switch {
	case err == nil, errors.Is(err, ledger.ErrTransferExists):
		return nil
	case errors.Is(err, ledger.ErrInvalidAmount):
		// Rafiki's amounts go to 2^64 - 1; the Postgres ledger holds 2^63 - 1.
		return fmt.Errorf("%w: %w", apperr.E(apperr.InvalidInput, "the payment's debit amount %d is more than the ledger holds", s.DebitAmount), err)
	}
	return fmt.Errorf("fund outgoing payment %s: %w", s.ID, err)
}
