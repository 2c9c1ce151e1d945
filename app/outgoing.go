package app

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/peers"
	"github.com/rafiki-go/rafiki/connector/stream/sender"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/ledger"
)

// paymentRoute is what a payer sends through, set once this process's
// connector runs: the connector for packets and its receivers for payments
// of this instance.
type paymentRoute struct {
	conn   *connector.Connector
	locals *receivers
}

// payer sends outgoing payments: to a receiver of this instance with one
// ledger transfer, elsewhere over Interledger with STREAM through this
// process's connector.
type payer struct {
	ledger   ledger.Ledger
	incoming *incomingpayment.Handler
	route    atomic.Pointer[paymentRoute]
}

func (p *payer) Pay(ctx context.Context, t outgoingpayment.Transfer) (outgoingpayment.Outcome, error) {
	route := p.route.Load()
	if route == nil {
		return outgoingpayment.Outcome{}, errors.New("the connector is not running")
	}
	if t.Receiver.Local() {
		return p.payLocal(ctx, route, t)
	}
	return payILP(ctx, route.conn, t)
}

// localTransferID is the ledger transfer of a local payment: one per
// payment, so that a retry finds the one made before.
func localTransferID(paymentID string) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("rafiki:outgoing_payment:local:"+paymentID))
}

// payLocal moves the payment's money into the incoming payment's account,
// converted as quoted, as one posted transfer. The receiver comes from the
// incoming payment's events, read by the send just before: its account is
// made of what they say, without reading the read model again.
func (p *payer) payLocal(ctx context.Context, route *paymentRoute, t outgoingpayment.Transfer) (outgoingpayment.Outcome, error) {
	if !t.FirstAttempt {
		// The one transfer was made, or refused: nothing was sent.
		return outgoingpayment.Outcome{}, fmt.Errorf("%w: a local payment that sent nothing on its first attempt", outgoingpayment.ErrFinal)
	}
	local, err := route.locals.payment(t.Receiver)
	if err != nil {
		return outgoingpayment.Outcome{}, err
	}
	req := ledger.TransferRequest{ID: localTransferID(t.PaymentID), Source: t.Account, Destination: local.Account,
		SourceAmount: t.SourceAmount, DestinationAmount: t.DeliveryAmount, OpenDestination: true}
	if t.Account.AssetID == local.Account.AssetID && t.SourceAmount == t.DeliveryAmount {
		req.DestinationAmount = 0
	}
	if _, err := p.ledger.Transfer(ctx, req); err != nil {
		return outgoingpayment.Outcome{}, fmt.Errorf("local payment %s: %w", t.PaymentID, err)
	}
	route.locals.credited(local.IncomingPaymentID, t.DeliveryAmount)
	return outgoingpayment.Outcome{Sent: t.SourceAmount, Delivered: t.DeliveryAmount}, nil
}

// Delivered has a local incoming payment record what the ledger holds for
// it, before the outgoing payment completes, so that no stop leaves it to
// its expiry: a send that stops in between pays nothing on its next
// attempt and records it then. The receiver was read from the payment's
// events by the send that paid it. A payment gone meanwhile (its tenant
// deleted) has nothing to record, as a receive command for it would have.
func (p *payer) Delivered(ctx context.Context, r quote.Receiver, _ uint64) error {
	if !r.Local() {
		return nil
	}
	_, err := p.incoming.RecordReceived(ctx, r.LocalTenantID, r.LocalPaymentID)
	if kind := apperr.KindOf(err); kind == apperr.NotFound || kind == apperr.InvalidInput {
		return nil
	}
	return err
}

// closeTimeout bounds the closing of a payment's STREAM connection after
// its attempt: with the attempt's 20 s, within the 30 s ack_wait.
const closeTimeout = 5 * time.Second

// payILP pays a receiver elsewhere: a probe of the path, then packets for
// what the receiver should still get, no more than the payment still
// holds, each at the quote's rate at least, carrying the payment's data
// until one of them arrives. The probe's packets cannot be fulfilled and
// hold no money: they go on a connection of their own.
func payILP(ctx context.Context, conn *connector.Connector, t outgoingpayment.Transfer) (outgoingpayment.Outcome, error) {
	origin := connector.Origin{ID: t.PaymentID, TenantID: t.TenantID, Account: t.Account,
		Asset:   peers.Asset{ID: t.Account.AssetID.String(), Code: t.AssetCode, Scale: t.AssetScale, Ledger: t.Account.Ledger},
		Address: t.WalletAddressID}
	through := func(o connector.Origin) sender.Sender {
		return sender.Sender{ProbeTimeout: probeTimeout, Send: func(ctx context.Context, prepare ilp.Prepare) (ilp.Packet, error) {
			return conn.Send(ctx, o, prepare), nil
		}}
	}
	probing := origin
	probing.Unfulfillable = true
	probe, err := probePath(ctx, through(probing), t.Receiver.ILPAddress, t.Receiver.SharedSecret)
	if err != nil {
		return outgoingpayment.Outcome{}, err
	}
	c, err := through(origin).Connect(ctx, t.Receiver.ILPAddress, t.Receiver.SharedSecret)
	if err != nil {
		return outgoingpayment.Outcome{}, fmt.Errorf("connect to %s: %w", t.Receiver.ILPAddress, err)
	}
	// The receiver learns the connection is over; a failure to say so
	// changes nothing sent. Saying so has time of its own, past the
	// attempt's end, but little: a path that holds the close packet (and
	// answers T00 to each sent again) would otherwise keep the attempt
	// past the ack_wait its deadline keeps within, and the payment's event
	// would be handed to another attempt meanwhile.
	defer func() {
		closing, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_ = c.Close(closing)
	}()
	q := sender.Quote{Probe: probe, MinExchangeRate: new(big.Rat).SetFrac(new(big.Int).SetUint64(t.DeliveryAmount), new(big.Int).SetUint64(t.SourceAmount)),
		FixedDelivery: true, SourceAmount: t.SourceAmount, DeliveryAmount: t.DeliveryAmount, Data: []byte(t.DataToTransmit)}
	out, err := c.Pay(ctx, q)
	var declined *sender.ApplicationError
	if errors.As(err, &declined) {
		err = &outgoingpayment.Declined{Reason: declined.Data, Err: err}
	}
	return outgoingpayment.Outcome{Sent: out.Sent, Delivered: out.Delivered}, err
}
