package sender

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/rafiki-go/rafiki/connector/ilp"
)

// Probe is what a rate probe learnt: the exchange rate, destination units
// per source unit, lies in [RateLow, RateHigh); MaxPacketAmount is the
// largest packet the path carries, in source units (the largest uint64 when
// no hop refused one).
type Probe struct {
	RateLow         *big.Rat
	RateHigh        *big.Rat
	MaxPacketAmount uint64
}

// probeAmountMax is the largest probe: a path that carries it is taken to
// carry any packet. The first probes are powers of ten from it down to
// 1,000, below which a packet tells the rate too coarsely.
const probeAmountMax = 1_000_000_000_000

var probeAmounts = []uint64{1e12, 1e11, 1e10, 1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3}

// probePacketsMax bounds the packets of one probe, past ProbeTimeout.
const probePacketsMax = 200

// maxPacketState is how much is known of the path's max packet amount.
type maxPacketState uint8

const (
	// maxUnknown: no hop refused an amount.
	maxUnknown maxPacketState = iota
	// maxPrecise: an F08 told the max.
	maxPrecise
	// maxImprecise: an F08 without its amounts said the max is below a
	// packet's amount; a binary search finds it.
	maxImprecise
)

// maxPacket tracks the path's max packet amount from F08 rejects, and the
// largest amount the receiver was seen to get (verified).
type maxPacket struct {
	state    maxPacketState
	max      uint64
	verified uint64
}

func (m *maxPacket) limit() uint64 {
	if m.state == maxUnknown {
		return math.MaxUint64
	}
	return m.max
}

// next is the amount to probe with next, when the max is not unknown.
func (m *maxPacket) next() (uint64, bool) {
	switch m.state {
	case maxPrecise:
		return m.max, true
	case maxImprecise:
		return m.verified + (m.max-m.verified+1)/2, true
	}
	return 0, false
}

// complete says the max is known and a packet of it got through, or that
// no max was met up to probeAmountMax.
func (m *maxPacket) complete() bool {
	return (m.state == maxPrecise && m.verified == m.max) || (m.state == maxUnknown && m.verified >= probeAmountMax)
}

// reduce reads an F08 to a packet of source units: the max it gives, in the
// hop's units, converted at the rate the packet reached the hop with (the
// hop's received amount). It says whether the max went down; an F08 whose
// amounts do not refuse the packet tells nothing.
func (m *maxPacket) reduce(data []byte, source uint64) (bool, error) {
	var newMax uint64
	state := maxPrecise
	if a, err := ilp.DecodeAmountTooLarge(data); err == nil {
		if a.ReceivedAmount <= a.MaximumAmount {
			return false, nil
		}
		newMax = mulFloor(a.MaximumAmount, new(big.Rat).SetFrac(new(big.Int).SetUint64(source), new(big.Int).SetUint64(a.ReceivedAmount)))
	} else {
		newMax, state = sub(source, 1), maxImprecise
	}
	if newMax == 0 {
		return false, ErrMaxPacketAmount
	}
	if m.state != maxUnknown && newMax >= m.max {
		return false, nil
	}
	m.state, m.max = state, newMax
	m.verify(m.verified)
	return true, nil
}

// verify records that the receiver got a packet of amount source units.
func (m *maxPacket) verify(amount uint64) {
	m.verified = min(max(m.verified, amount), m.limit())
	if m.state == maxImprecise && m.verified == m.max {
		m.state = maxPrecise
	}
}

// result is a request's reply, or why it has none (the context's end, the
// receiver's asset changing).
type result struct {
	req request
	r   reply
	err error
}

// launch sends req in a goroutine of its own; results must have room for
// every request in flight.
func (c *Connection) launch(ctx context.Context, req request, results chan<- result) {
	go func() {
		r, err := c.send(ctx, req)
		results <- result{req: req, r: r, err: err}
	}()
}

// next waits for a result, or until resumeAt when that is later than now
// (ok false).
func next(ctx context.Context, results <-chan result, resumeAt time.Time) (res result, ok bool, err error) {
	var wake <-chan time.Time
	if d := time.Until(resumeAt); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		wake = t.C
	}
	select {
	case res = <-results:
		return res, true, nil
	case <-wake:
		return result{}, false, nil
	case <-ctx.Done():
		return result{}, false, ctx.Err()
	}
}

// Probe learns the exchange rate and the path's max packet amount with
// unfulfillable packets: powers of ten from 10^12 down, then, after an F08,
// the max it told (or a binary search below the refused amount when it
// told none) until a packet of the max reaches the receiver. The
// receiver's STREAM reply to each tells what it would have got. Temporary
// failures are sent again after a pause, RetriesMax in a row at most; the
// probe takes ProbeTimeout and probePacketsMax packets at most.
func (c *Connection) Probe(ctx context.Context) (Probe, error) {
	ctx, cancel := context.WithTimeout(ctx, c.s.ProbeTimeout)
	defer cancel()
	queue := append([]uint64(nil), probeAmounts...)
	inFlight := map[uint64]bool{}
	enqueue := func(a uint64) {
		if !inFlight[a] && !contains(queue, a) {
			queue = append(queue, a)
		}
	}
	var mp maxPacket
	rates := newRateBounds()
	results := make(chan result, c.s.InFlightMax)
	var resumeAt time.Time
	sent, failures := 0, 0
	for {
		for len(queue) > 0 && len(inFlight) < c.s.InFlightMax && sent < probePacketsMax && !time.Now().Before(resumeAt) {
			a := queue[0]
			queue = queue[1:]
			inFlight[a] = true
			sent++
			c.launch(ctx, request{amount: a}, results)
		}
		if len(inFlight) == 0 && (len(queue) == 0 || sent >= probePacketsMax) {
			return Probe{}, fmt.Errorf("%w after %d packets", ErrRateProbe, sent)
		}
		res, ok, err := next(ctx, results, resumeAt)
		if err != nil {
			return Probe{}, fmt.Errorf("%w: %w", ErrRateProbe, err)
		}
		if !ok {
			continue
		}
		if res.err != nil {
			return Probe{}, res.err
		}
		a, r := res.req.amount, res.r
		delete(inFlight, a)
		if err := r.closedError(); err != nil {
			return Probe{}, err
		}
		switch {
		case !r.fulfilled && r.reject.Code == ilp.CodeAmountTooLarge:
			lowered, err := mp.reduce(r.reject.Data, a)
			if err != nil {
				return Probe{}, err
			}
			// An F08 to a packet above the max known since tells nothing new;
			// one to a packet within it is a hop refusing what it said it takes.
			if !lowered && a <= mp.limit() {
				failures++
				if failures > c.s.RetriesMax {
					return Probe{}, fmt.Errorf("%w: %w", ErrRetries, rejectError(r.reject))
				}
			}
		case r.authentic:
			failures = 0
			rates.update(a, r.received)
			if a > 0 {
				mp.verify(a)
			}
		case r.temporary():
			failures++
			if failures > c.s.RetriesMax {
				return Probe{}, fmt.Errorf("%w: %w", ErrRetries, rejectError(r.reject))
			}
			resumeAt = time.Now().Add(c.s.retryDelay(failures))
			enqueue(a)
		default:
			return Probe{}, rejectError(r.reject)
		}
		if mp.complete() && rates.known() {
			return Probe{RateLow: rates.low, RateHigh: rates.high, MaxPacketAmount: mp.limit()}, nil
		}
		if n, ok := mp.next(); ok {
			enqueue(n)
		}
	}
}

func contains(s []uint64, v uint64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
