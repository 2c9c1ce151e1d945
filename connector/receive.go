package connector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/peers"
	"github.com/rafiki-go/rafiki/connector/stream"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/rates"
)

// Local is a receiver of this instance a STREAM tag names: an incoming
// payment, or a wallet address paid without one (Web Monetization).
type Local struct {
	// Account is where the money goes: the incoming payment's account, or
	// the wallet address's web monetization account.
	Account  ledger.Account
	Asset    peers.Asset
	TenantID string
	// IncomingPaymentID is set for an incoming payment: what it received
	// is recorded on it.
	IncomingPaymentID string
	// Closed receivers take no more money: a completed or expired incoming
	// payment, a deactivated wallet address.
	Closed bool
	// ExpiresAt, when set, closes the receiver from then on: an incoming
	// payment expires then, whether or not its expiry was recorded yet.
	ExpiresAt time.Time
}

// open tells whether the receiver takes money at now.
func (l Local) open(now time.Time) bool {
	return !l.Closed && (l.ExpiresAt.IsZero() || now.Before(l.ExpiresAt))
}

// Receivers finds what a tag names.
type Receivers interface {
	Receiver(ctx context.Context, id uuid.UUID) (Local, bool, error)
}

// Outcomes learns what fulfilled packets brought to incoming payments,
// once the ledger posted the money: the payments record it later, off the
// packet's path, so Received must not block.
type Outcomes interface {
	Received(tenantID, incomingPaymentID string, amount uint64)
}

// PartialPayments has the account servicing entity decide a packet that
// carries data from its sender into an incoming payment (Rafiki's partial
// payment decision): Decide tells it of the packet and waits for its
// answer, while the packet lives at most; a refusal, or no answer, comes back
// with the reason the sender is told.
type PartialPayments interface {
	Decide(ctx context.Context, p PartialPayment) (accepted bool, reason string)
}

// PartialPayment is a packet PartialPayments decides.
type PartialPayment struct {
	TenantID, IncomingPaymentID string
	Amount                      uint64
	Data                        []byte
	// ExpiresAt is the packet's expiry: the answer must come before it.
	ExpiresAt time.Time
}

// Totals keeps what each STREAM connection received, for receipts.
type Totals interface {
	Add(ctx context.Context, connectionID string, amount uint64) (uint64, error)
}

// local answers a Prepare addressed to one of this instance's STREAM
// receivers, as Rafiki's connector does for incoming payments and wallet
// addresses: ok is false when the destination is not one of them, or is
// another tenant's than the sending peer's. Rafiki reads STREAM addresses
// only under the ILP address of the incoming peer's tenant; a peer paying
// another tenant's receiver would have that tenant's liquidity pay it,
// while its own tenant kept what the peer sent.
func (c *Connector) local(ctx context.Context, from Origin, p ilp.Prepare) (reply ilp.Packet, ok bool, err error) {
	if c.cfg.Stream == nil {
		return nil, false, nil
	}
	conn, found := c.cfg.Stream.Find(p.Destination)
	if !found {
		return nil, false, nil
	}
	tag := conn.Tag
	to, found, err := c.cfg.Receivers.Receiver(ctx, tag.ID)
	if err != nil {
		return nil, true, fmt.Errorf("receiver %s: %w", tag.ID, err)
	}
	if found && from.Peer && to.TenantID != from.TenantID {
		return nil, false, nil
	}
	if !found || (!to.open(c.now()) && p.Amount > 0) {
		return nil, true, refuse(ilp.CodeUnreachable, "unknown destination account")
	}
	if err := c.admit(from, p); err != nil {
		return nil, true, err
	}
	in := p
	if in.Amount > 0 {
		converted, err := c.rates.ConvertSource(ctx, to.TenantID, p.Amount,
			rates.Asset{Code: from.Asset.Code, Scale: from.Asset.Scale}, rates.Asset{Code: to.Asset.Code, Scale: to.Asset.Scale})
		if err != nil {
			return nil, true, c.rateError(err)
		}
		in.Amount = converted.Amount
	}
	incoming, now := conn.Receive(in, &stream.Asset{Code: to.Asset.Code, Scale: to.Asset.Scale})
	if _, fulfilled := now.(ilp.Fulfill); fulfilled && p.Amount > 0 {
		// The amount came to nothing at the rate: fulfilled, the peer would
		// keep what its sender paid, and no transfer would take it.
		return nil, true, refuse(ilp.CodeInsufficientDestinationAmount, "the amount delivers nothing at the exchange rate")
	}
	if now != nil {
		return now, true, nil
	}
	if data := incoming.AppData(); data != nil && c.cfg.Partial != nil && to.IncomingPaymentID != "" {
		accepted, reason := c.cfg.Partial.Decide(ctx, PartialPayment{TenantID: to.TenantID, IncomingPaymentID: to.IncomingPaymentID,
			Amount: incoming.Amount, Data: data, ExpiresAt: p.ExpiresAt})
		if !accepted {
			return incoming.FinalDecline([]byte(reason)), true, nil
		}
	}
	// A Prepare past its expiry is refused (R00), as its sender's side no
	// longer pays for it: fulfilling it would move money here that no one
	// upstream pays.
	if !c.now().Before(p.ExpiresAt) {
		return nil, true, refuse(ilp.CodeTransferTimedOut, "packet expired.")
	}
	// The receiver fulfils at once, so the money is posted with the
	// transfer, in one step, rather than held and then posted.
	if _, err := c.transfer(ctx, ledger.TransferRequest{
		ID: newID(), Source: from.Account, Destination: to.Account,
		SourceAmount: p.Amount, DestinationAmount: incoming.Amount,
	}, to.Asset); err != nil {
		var ie *ilpError
		if errors.As(err, &ie) {
			return nil, true, err
		}
		c.log.Error("receiving failed", "receiver", tag.ID, "err", err)
		return incoming.TemporaryDecline(), true, nil
	}
	c.debited(from)
	if to.IncomingPaymentID != "" {
		c.cfg.Outcomes.Received(to.TenantID, to.IncomingPaymentID, incoming.Amount)
	}
	total, err := c.cfg.Totals.Add(ctx, incoming.ConnectionID, incoming.Amount)
	if err != nil {
		// The money is received; only the receipt's total is unknown.
		c.log.Warn("connection total not kept", "connection", incoming.ConnectionID, "err", err)
		total = incoming.Amount
	}
	return incoming.Accept(total), true, nil
}
