package outgoingpayment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/valid"
)

// decideFund funds a payment that waits for its money, with exactly its
// debit amount, as Rafiki's funding does.
func decideFund(s State, actor commands.Actor) ([]events.Event, error) {
	if !s.Exists || !actor.CanActFor(s.TenantID) {
		return nil, errUnknownPayment()
	}
	if s.State != Funding {
		return nil, errWrongState()
	}
	return []events.Event{&events.OutgoingPaymentFunded{Amount: s.DebitAmount}}, nil
}

// Fund deposits a payment's debit amount into its account and has it sent
// (depositOutgoingPaymentLiquidity). The deposit's transfer id is the id of
// the payment's first event, so a payment is funded once however often it
// is asked. The send is enqueued before the deposit: a funder stopping
// after the deposit leaves the sender to find the money and send it.
func (h *Handler) Fund(ctx context.Context, c commands.FundOutgoingPayment) (handlers.Result, error) {
	id, ok := valid.ID(c.OutgoingPaymentID)
	if !ok {
		return handlers.Result{}, errUnknownPayment()
	}
	t, err := h.locate(ctx, c.Actor, id)
	if err != nil {
		return handlers.Result{}, err
	}
	s, version, done, err := handlers.LoadFor(ctx, h.store, t.Subject, c.ID, Evolve)
	if err != nil || done != nil {
		return deref(done), err
	}
	if _, err := decideFund(s, c.Actor); err != nil {
		return handlers.Result{Sequence: version}, err
	}
	account, err := Account(s)
	if err != nil {
		return handlers.Result{}, err
	}
	send := commands.SendOutgoingPayment{TenantID: s.TenantID, OutgoingPaymentID: s.ID}
	if err := h.enqueue(ctx, commands.SendOutgoingPaymentSubject, "send:"+s.ID+":"+c.ID, time.Time{}, send); err != nil {
		return handlers.Result{}, fmt.Errorf("enqueue the send of outgoing payment %s: %w", s.ID, err)
	}
	if err := h.ledger.CreateLiquidityAccount(ctx, account); err != nil {
		return handlers.Result{}, fmt.Errorf("account of outgoing payment %s: %w", s.ID, err)
	}
	err = h.ledger.Deposit(ctx, ledger.Deposit{ID: s.CreatedBy, Account: account, Amount: s.DebitAmount})
	if err != nil && !errors.Is(err, ledger.ErrTransferExists) {
		return handlers.Result{}, fmt.Errorf("fund outgoing payment %s: %w", s.ID, err)
	}
	return handlers.Execute(ctx, h.store, t, info(c.Meta), Evolve, func(s State) ([]events.Event, error) {
		if s.State == Sending {
			// The sender found the deposit first.
			return nil, nil
		}
		return decideFund(s, c.Actor)
	})
}

func deref(r *handlers.Result) handlers.Result {
	if r == nil {
		return handlers.Result{}
	}
	return *r
}
