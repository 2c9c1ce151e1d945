// Package outcomes carries what the connector's fulfilled packets brought to
// incoming payments to the workers, off the packets' path: a packet only
// adds to a tally in memory; a publisher sends the tallies to the command
// queue in batches, one message per payment however many packets it got,
// and a worker has the payment record what the ledger holds for it
// (commands.ReceiveIncomingPayment).
//
// The ledger, not these messages, is the source of truth for the money: a
// message only says when to look. So a message sent twice changes nothing,
// and one never sent (the tallies are full while NATS is out of reach, or
// the process stopped before it could send them) loses no money: the
// payment catches up with the ledger at its next message, when it is
// completed, or when it expires.
package outcomes

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/commands"
)

const (
	// pendingMax bounds the payments tallied: past it, a packet for a
	// payment not tallied yet is not told (dropped, and counted).
	pendingMax = 100_000
	// batchMax is the most messages one batch sends.
	batchMax = 1_000
	// gather is how long the publisher waits after the first packet of a
	// batch, so that the packets that follow at once join it.
	gather = 20 * time.Millisecond
	// repeatAfter spaces the messages for one payment: a payment paid by a
	// stream of packets gets a few messages a second, not one a batch,
	// each telling all its packets since the last.
	repeatAfter = 200 * time.Millisecond
	// publishTimeout bounds the wait for a batch's acknowledgements.
	publishTimeout = 5 * time.Second
	// backoffMin and backoffMax space the tries while NATS cannot take the
	// messages.
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
	// stopTimeout bounds the last send when the publisher stops.
	stopTimeout = 2 * time.Second
)

// tally is what packets brought to one payment since it was last sent, and
// when that was.
type tally struct {
	tenantID        string
	packets, amount uint64
	sentAt          time.Time
}

// Publisher tallies what fulfilled packets brought to each incoming payment
// and sends the tallies to the command queue (Run).
type Publisher struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	log  *slog.Logger
	wake chan struct{}

	mu sync.Mutex
	// tallies holds the payments with packets not sent yet, and those sent
	// less than repeatAfter ago, so that their next message waits.
	tallies   map[string]tally
	waiting   int // tallies with packets
	dropped   uint64
	reported  uint64
	published uint64
}

// NewPublisher builds a publisher on nc, with a JetStream context of its
// own, so that its unacknowledged messages are bounded by its batches and
// time out on their own.
func NewPublisher(nc *nats.Conn, log *slog.Logger) (*Publisher, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*batchMax), jetstream.WithPublishAsyncTimeout(publishTimeout))
	if err != nil {
		return nil, fmt.Errorf("outcomes: jetstream: %w", err)
	}
	return &Publisher{nc: nc, js: js, log: log, wake: make(chan struct{}, 1), tallies: map[string]tally{}}, nil
}

// Received tallies amount for an incoming payment of the tenant. It never
// blocks on I/O.
func (p *Publisher) Received(tenantID, incomingPaymentID string, amount uint64) {
	p.mu.Lock()
	t, ok := p.tallies[incomingPaymentID]
	if !ok && len(p.tallies) >= pendingMax {
		p.dropped++
		p.mu.Unlock()
		return
	}
	if t.packets == 0 {
		p.waiting++
	}
	t.tenantID = tenantID
	t.packets, t.amount = sum(t.packets, 1), sum(t.amount, amount)
	p.tallies[incomingPaymentID] = t
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func sum(x, y uint64) uint64 {
	if x > math.MaxUint64-y {
		return math.MaxUint64
	}
	return x + y
}

// Stats are what the publisher holds and has lost: payments with packets
// not sent yet, packets never told since it started, messages sent.
type Stats struct {
	Pending   int
	Dropped   uint64
	Published uint64
}

func (p *Publisher) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Pending: p.waiting, Dropped: p.dropped, Published: p.published}
}

// Run sends the tallies until ctx ends, then tries once more to send what
// is left, paced or not.
func (p *Publisher) Run(ctx context.Context) {
	backoff := backoffMin
	for {
		select {
		case <-ctx.Done():
			stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
			for p.Stats().Pending > 0 && p.send(stop, time.Time{}) {
			}
			cancel()
			if left := p.Stats().Pending; left > 0 {
				p.log.Warn("packet outcomes not sent at stop; their payments catch up with the ledger later", "payments", left)
			}
			return
		case <-p.wake:
		}
		for p.Stats().Pending > 0 && ctx.Err() == nil {
			select {
			case <-ctx.Done():
				continue
			case <-time.After(gather):
			}
			if p.send(ctx, time.Now()) {
				backoff = backoffMin
				continue
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, backoffMax)
		}
	}
}

// send publishes one batch of the tallies due at now (all of them when now
// is zero) and waits for its acknowledgements; what was not acknowledged
// is tallied again. It reports whether every message was.
func (p *Publisher) send(ctx context.Context, now time.Time) bool {
	p.reportDrops()
	if p.nc.Status() != nats.CONNECTED {
		return false
	}
	batch := p.take(now)
	futures := make([]jetstream.PubAckFuture, 0, len(batch))
	ids := make([]string, 0, len(batch))
	var failed []string
	for id, t := range batch {
		msg, err := message(id, t)
		if err == nil {
			var f jetstream.PubAckFuture
			if f, err = p.js.PublishMsgAsync(msg); err == nil {
				futures, ids = append(futures, f), append(ids, id)
				continue
			}
		}
		failed = append(failed, id)
		p.log.Debug("packet outcome not published", "incoming_payment", id, "err", err)
	}
	timeout := time.NewTimer(publishTimeout)
	defer timeout.Stop()
	sent := 0
	for i, f := range futures {
		select {
		case <-f.Ok():
			sent++
			continue
		case err := <-f.Err():
			p.log.Debug("packet outcome not stored", "incoming_payment", ids[i], "err", err)
		case <-timeout.C:
		case <-ctx.Done():
		}
		failed = append(failed, ids[i])
	}
	p.mu.Lock()
	p.published += uint64(sent)
	for _, id := range failed {
		back := batch[id]
		t, ok := p.tallies[id]
		if !ok && len(p.tallies) >= pendingMax {
			p.dropped += back.packets
			continue
		}
		if t.packets == 0 {
			p.waiting++
		}
		t.tenantID = back.tenantID
		t.packets, t.amount = sum(t.packets, back.packets), sum(t.amount, back.amount)
		t.sentAt = time.Time{}
		p.tallies[id] = t
	}
	p.mu.Unlock()
	if len(failed) > 0 {
		p.log.Warn("packet outcomes not sent; trying again", "payments", len(failed), "nats", p.nc.Status().String())
		return false
	}
	return true
}

// take removes from the tallies up to batchMax with packets, whose payment
// was last sent repeatAfter before now or earlier (any, when now is zero),
// keeping a mark of when they were sent; marks older than repeatAfter go.
func (p *Publisher) take(now time.Time) map[string]tally {
	p.mu.Lock()
	defer p.mu.Unlock()
	batch := make(map[string]tally, min(p.waiting, batchMax))
	for id, t := range p.tallies {
		due := now.IsZero() || now.Sub(t.sentAt) >= repeatAfter
		switch {
		case t.packets == 0 && due:
			delete(p.tallies, id)
		case t.packets > 0 && due && len(batch) < batchMax:
			batch[id] = t
			p.tallies[id] = tally{sentAt: now}
			p.waiting--
		}
	}
	return batch
}

// reportDrops logs, at error level, the packets never told since the last
// report.
func (p *Publisher) reportDrops() {
	p.mu.Lock()
	dropped, reported := p.dropped, p.reported
	p.reported = dropped
	p.mu.Unlock()
	if dropped > reported {
		p.log.Error("packet outcomes dropped: more payments waiting than the publisher holds; their payments catch up with the ledger later",
			"dropped", dropped-reported, "dropped_total", dropped, "held_max", pendingMax)
	}
}

// message is the command that has an incoming payment record what it
// received; each has an id of its own, as two messages for one payment
// differ in what the ledger holds by the time each is handled.
func message(incomingPaymentID string, t tally) (*nats.Msg, error) {
	data, err := json.Marshal(commands.ReceiveIncomingPayment{TenantID: t.tenantID, IncomingPaymentID: incomingPaymentID,
		Packets: t.packets, Amount: t.amount})
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(commands.ReceiveIncomingPaymentSubject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, uuid.NewString())
	return msg, nil
}
