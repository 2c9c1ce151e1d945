package outgoingpayment

import (
	"context"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/quote"
)

// Quoter makes quotes (quote.Handler).
type Quoter interface {
	Create(ctx context.Context, c commands.CreateQuote) (string, handlers.Result, error)
	// LoadIn reads a quote of a tenant; one that does not exist is the
	// zero State.
	LoadIn(ctx context.Context, tenantID, id string) (quote.State, error)
}

// quoteCommandID is the id of the quote command a payment from an incoming
// payment sends, so that a retry finds the quote its first run made.
func quoteCommandID(commandID string) string { return commandID + ":quote" }

// CreateFromIncomingPayment pays an incoming payment a fixed debit amount,
// or what it still expects, as Rafiki does: a quote, then a payment of the
// quote. It answers both results, so that a reader may wait for the quote
// too.
func (h *Handler) CreateFromIncomingPayment(ctx context.Context, c commands.CreateOutgoingPaymentFromIncomingPayment) (id string, quote, payment handlers.Result, err error) {
	quoteID, quote, err := h.quotes.Create(ctx, commands.CreateQuote{
		Meta:            commands.Meta{ID: quoteCommandID(c.ID), CorrelationID: c.CorrelationID, Actor: c.Actor},
		WalletAddressID: c.WalletAddressID, Receiver: c.IncomingPayment, DebitAmount: c.DebitAmount, Client: c.Client,
	})
	if err != nil {
		return "", handlers.Result{}, handlers.Result{}, err
	}
	id, payment, err = h.Create(ctx, commands.CreateOutgoingPayment{Meta: c.Meta, WalletAddressID: c.WalletAddressID, QuoteID: quoteID,
		Metadata: c.Metadata, Client: c.Client, Grant: c.Grant, InitiatedBy: c.InitiatedBy, CardDetails: c.CardDetails})
	return id, quote, payment, err
}
