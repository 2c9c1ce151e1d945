package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/projections"
)

// What a sender whose packet was declined is told, as Rafiki words it.
const (
	partialNoAnswer = "No response from receiving ASE"
	partialFailed   = "Error processing partial payment"
	partialRefused  = "Additional data rejected"
)

// partialLookEvery is how often a packet waiting for its decision reads the
// payment's events even when no message woke it: the message announcing
// the decision may be lost (a reconnect), the event is not.
const partialLookEvery = 250 * time.Millisecond

// partialDecisions has the account servicing entity decide packets that
// bring data from their senders into incoming payments
// (ENABLE_PARTIAL_PAYMENT_DECISION). Each is recorded on its payment
// (incoming_payment.partial_payment_received, whose webhook tells the
// entity); the entity's answer is an event on the same payment, which the
// packet waits for while it may.
type partialDecisions struct {
	payments        *incomingpayment.Handler // on a store that seals the sender's data
	store           handlers.Store
	nc              *nats.Conn
	maxWait, margin time.Duration
	log             *slog.Logger
}

func newPartialDecisions(d *Deps) *partialDecisions {
	sealed := handlers.SealSecrets(d.Store, d.Keys)
	return &partialDecisions{
		payments: incomingpayment.NewHandler(sealed, d.Ledger, d.Config.IncomingPaymentExpiryMax),
		store:    d.Store, nc: d.NC, maxWait: d.Config.PartialPaymentDecisionMaxWait,
		margin: d.Config.PartialPaymentDecisionSafetyMargin, log: d.Log,
	}
}

func (p *partialDecisions) Decide(ctx context.Context, pp connector.PartialPayment) (bool, string) {
	now := time.Now()
	deadline := pp.ExpiresAt.Add(-p.margin)
	if latest := now.Add(p.maxWait); latest.Before(deadline) {
		deadline = latest
	}
	if !deadline.After(now) {
		return false, partialNoAnswer
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	log := p.log.With("incoming_payment", pp.IncomingPaymentID)
	subject, err := incomingpayment.Subject(pp.TenantID, pp.IncomingPaymentID)
	if err != nil {
		log.Error("partial payment", "err", err)
		return false, partialFailed
	}
	// Listening starts before the packet is recorded, so that an answer
	// however quick wakes the wait.
	woken := make(chan struct{}, 1)
	sub, err := p.nc.Subscribe(subject, func(*nats.Msg) {
		select {
		case woken <- struct{}{}:
		default:
		}
	})
	if err != nil {
		log.Warn("partial payment: decisions are read without being told of them", "err", err)
	} else {
		defer func() { _ = sub.Unsubscribe() }()
	}
	id := uuid.NewString()
	res, err := p.payments.ReceivePartial(ctx, pp.TenantID, commands.ReceivePartialIncomingPayment{
		Meta:              commands.Meta{ID: "receive_partial_incoming_payment:" + id},
		IncomingPaymentID: pp.IncomingPaymentID, PartialIncomingPaymentID: id,
		DataFromSender: pp.Data, Amount: pp.Amount, ExpiresAt: pp.ExpiresAt,
	})
	if err != nil {
		log.Warn("partial payment not recorded; its packet is declined", "err", err)
		return false, partialFailed
	}
	accepted, reason, err := p.await(ctx, woken, subject, id, res.Sequence)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		log.Info("no decision on a partial payment in time; its packet is declined", "partial", id)
		return false, partialNoAnswer
	case err != nil:
		log.Warn("partial payment's decision not read; its packet is declined", "partial", id, "err", err)
		return false, partialFailed
	}
	return accepted, reason
}

// await reads the payment's events after from until the decision on
// partial is among them or ctx ends.
func (p *partialDecisions) await(ctx context.Context, woken <-chan struct{}, subject, partial string, from uint64) (bool, string, error) {
	look := time.NewTicker(partialLookEvery)
	defer look.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, "", ctx.Err()
		case <-woken:
		case <-look.C:
		}
		envs, last, err := p.store.LoadAfter(ctx, subject, from)
		if err != nil {
			if ctx.Err() != nil {
				return false, "", ctx.Err()
			}
			return false, "", err
		}
		from = max(from, last)
		for _, env := range envs {
			if env.Type != (events.IncomingPaymentPartialDecided{}).EventType() {
				continue
			}
			ev, err := events.Decode(env)
			if err != nil {
				return false, "", err
			}
			d, ok := ev.(*events.IncomingPaymentPartialDecided)
			if !ok || d.PartialIncomingPaymentID != partial {
				continue
			}
			if d.Accepted {
				return true, "", nil
			}
			if d.Reason != nil {
				return false, *d.Reason, nil
			}
			return false, partialRefused, nil
		}
	}
}

// revealWebhookData opens the sender's data a partial payment's webhook
// event holds sealed, as its event does, for its delivery.
func revealWebhookData(d *Deps) func(ctx context.Context, eventType string, data []byte) ([]byte, error) {
	return func(ctx context.Context, eventType string, data []byte) ([]byte, error) {
		if eventType != projections.WebhookIncomingPaymentPartial {
			return data, nil
		}
		var fields map[string]any
		if err := json.Unmarshal(data, &fields); err != nil {
			return nil, err
		}
		paymentID, _ := fields["id"].(string)
		sealed, _ := fields["dataFromSender"].(string)
		ev := &events.IncomingPaymentPartialReceived{DataFromSender: sealed}
		opened, err := d.Keys.OpenEvent(ctx, events.Envelope{AggregateType: incomingpayment.AggregateType, AggregateID: paymentID,
			Type: ev.EventType(), SchemaVersion: ev.SchemaVersion()}, ev)
		if err != nil {
			return nil, fmt.Errorf("data from the sender of a partial payment into %s: %w", paymentID, err)
		}
		fields["dataFromSender"] = opened.(*events.IncomingPaymentPartialReceived).DataFromSender
		return json.Marshal(fields)
	}
}
