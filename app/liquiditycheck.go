package app

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/liquidity"
	"github.com/rafiki-go/rafiki/ledger"
)

// checkEventsMax bounds how many events the liquidity check reads.
const checkEventsMax = 100_000_000

// CheckLiquidity compares the ledger's deposits and withdrawals with the
// liquidity events of every asset, peer, wallet address and incoming
// payment (liquidity.Check).
func CheckLiquidity(ctx context.Context, js jetstream.JetStream, l ledger.Ledger) ([]liquidity.Discrepancy, error) {
	return liquidity.Check(ctx, l, ownerEvents(ctx, js), time.Now())
}

// ownerEvents reads, in order, the events of the aggregates that own
// liquidity accounts.
func ownerEvents(ctx context.Context, js jetstream.JetStream) iter.Seq2[events.Envelope, error] {
	return func(yield func(events.Envelope, error) bool) {
		var last uint64
		for read := 0; read < checkEventsMax; {
			it, err := jetstreamext.GetBatch(ctx, js, EventsStream, 1000,
				jetstreamext.GetBatchSeq(last+1), jetstreamext.GetBatchSubject("events.*.*.*"))
			if err != nil {
				yield(events.Envelope{}, fmt.Errorf("read events: %w", err))
				return
			}
			batch := 0
			for msg, err := range it {
				if errors.Is(err, jetstreamext.ErrNoMessages) {
					break
				}
				if err != nil {
					yield(events.Envelope{}, fmt.Errorf("read events: %w", err))
					return
				}
				last = msg.Sequence
				batch++
				env, err := events.Unmarshal(msg.Data, msg.Sequence)
				if !yield(env, err) || err != nil {
					return
				}
			}
			if batch == 0 {
				return
			}
			read += batch
		}
		yield(events.Envelope{}, fmt.Errorf("read events: more than %d", checkEventsMax))
	}
}
