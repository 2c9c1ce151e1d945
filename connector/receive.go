package connector

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
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
}

// Receivers finds what a tag names.
type Receivers interface {
	Receiver(ctx context.Context, id uuid.UUID) (Local, bool, error)
}

// Received records what an incoming payment received (its handler's
// Receive); packetID names the packet, so that recording it again records
// nothing.
type Received func(ctx context.Context, incomingPaymentID string, amount uint64, packetID uuid.UUID) error

// Totals keeps what each STREAM connection received, for receipts.
type Totals interface {
	Add(ctx context.Context, connectionID string, amount uint64) (uint64, error)
}

// local answers a Prepare addressed to one of this instance's STREAM
// receivers, as Rafiki's connector does for incoming payments and wallet
// addresses, under whichever tenant's address the credentials were made:
// ok is false when the destination is not one of them.
func (c *Connector) local(ctx context.Context, from peers.Peer, source peers.Asset, p ilp.Prepare) (reply ilp.Packet, ok bool, err error) {
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
	if !found || (to.Closed && p.Amount > 0) {
		return nil, true, refuse(ilp.CodeUnreachable, "unknown destination account")
	}
	if err := c.admit(from, p); err != nil {
		return nil, true, err
	}
	in := p
	if in.Amount > 0 {
		converted, err := c.rates.ConvertSource(ctx, to.TenantID, p.Amount,
			rates.Asset{Code: source.Code, Scale: source.Scale}, rates.Asset{Code: to.Asset.Code, Scale: to.Asset.Scale})
		if err != nil {
			return nil, true, refuse(ilp.CodeCannotReceive, "exchange rate error: %v", err)
		}
		in.Amount = converted.Amount
	}
	incoming, now := conn.Receive(in, &stream.Asset{Code: to.Asset.Code, Scale: to.Asset.Scale})
	if now != nil {
		return now, true, nil
	}
	src, err := account(from, source)
	if err != nil {
		return nil, true, err
	}
	packetID := newID()
	pending, err := c.transfer(ctx, ledger.TransferRequest{
		ID: packetID, Source: src, Destination: to.Account,
		SourceAmount: p.Amount, DestinationAmount: incoming.Amount, Timeout: twoPhaseTimeout,
	}, to.Asset)
	if err != nil {
		var ie *ilpError
		if errors.As(err, &ie) {
			return nil, true, err
		}
		c.log.Error("receiving failed", "receiver", tag.ID, "err", err)
		return incoming.TemporaryDecline(), true, nil
	}
	if to.IncomingPaymentID != "" {
		if err := c.cfg.Received(ctx, to.IncomingPaymentID, incoming.Amount, packetID); err != nil {
			if err := c.settle(ctx, pending, false); err != nil {
				return nil, true, err
			}
			// The payment refusing the money (completed, expired, more
			// than it asked for) ends the connection; failing to record
			// it is the sender's to try again.
			if refused(err) {
				c.log.Info("incoming payment refused the money", "incoming_payment", to.IncomingPaymentID, "err", err)
				return incoming.FinalDecline(), true, nil
			}
			c.log.Error("incoming payment's receipt not recorded", "incoming_payment", to.IncomingPaymentID, "err", err)
			return incoming.TemporaryDecline(), true, nil
		}
	}
	if err := c.settle(ctx, pending, true); err != nil {
		return nil, true, err
	}
	total, err := c.cfg.Totals.Add(ctx, incoming.ConnectionID, incoming.Amount)
	if err != nil {
		// The money is received; only the receipt's total is unknown.
		c.log.Warn("connection total not kept", "connection", incoming.ConnectionID, "err", err)
		total = incoming.Amount
	}
	return incoming.Accept(total), true, nil
}

// refused tells a decision of the payment from a failure to reach it.
func refused(err error) bool {
	switch apperr.KindOf(err) {
	case apperr.InvalidInput, apperr.Conflict, apperr.Forbidden, apperr.NotFound, apperr.Duplicate:
		return true
	}
	return false
}
