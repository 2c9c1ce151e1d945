package sender

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/stream"
)

// Outcome is what a payment did: the source units of its fulfilled
// packets, and what the receiver said it got for them.
type Outcome struct {
	Sent      uint64
	Delivered uint64
	Packets   int
}

// payment is a payment's state between packets.
type payment struct {
	q     Quote
	out   Outcome
	max   maxPacket
	rates rateBounds
	// inFlight counts the packets awaiting their answer, their source
	// amounts and the most they may deliver.
	inFlight       int
	inFlightSource uint64
	inFlightDest   uint64
	receiveMax     uint64
	failures       int
	resumeAt       time.Time
	// rounding says a packet in flight or fulfilled took the one source
	// unit a payment may lose to rounding (see nextPacket).
	rounding bool
	// dataPending says the quote's data has not arrived yet: no packet
	// that carried it was fulfilled.
	dataPending bool
}

// Pay makes the payment q quotes, in packets of at most the path's max
// packet amount, InFlightMax at a time, each asking the receiver to take at
// least its source amount at the quote's minimum rate. Temporary failures
// are sent again after a pause, RetriesMax in a row at most; an F08 lowers
// the max packet amount; any other final reject, or the receiver closing,
// ends the payment. The quote's data goes in every packet until one of
// them is fulfilled; a receiver that closes the connection with data of
// its own ends the payment with an ApplicationError. The outcome counts
// fulfilled packets only, and is exact when Pay returns, whatever the
// error: it waits for every packet in flight.
func (c *Connection) Pay(ctx context.Context, q Quote) (Outcome, error) {
	if q.MinExchangeRate == nil || q.RateLow == nil || q.RateHigh == nil || q.MaxPacketAmount == 0 || q.SourceAmount == 0 {
		return Outcome{}, fmt.Errorf("%w: incomplete", ErrInvalidQuote)
	}
	if len(q.Data) > DataBytesMax {
		return Outcome{}, fmt.Errorf("%w: %d bytes of data, more than %d", ErrInvalidQuote, len(q.Data), DataBytesMax)
	}
	p := &payment{q: q, dataPending: len(q.Data) > 0,
		max:   maxPacket{state: maxPrecise, max: q.MaxPacketAmount, verified: q.MaxPacketAmount},
		rates: rateBounds{low: new(big.Rat).Set(q.RateLow), high: new(big.Rat).Set(q.RateHigh)},
	}
	results := make(chan result, c.s.InFlightMax)
	var endErr error
	for {
		for endErr == nil && p.inFlight < c.s.InFlightMax && !time.Now().Before(p.resumeAt) {
			req, ok, err := p.nextPacket()
			if err != nil {
				endErr = err
				break
			}
			if !ok {
				break
			}
			p.inFlight++
			p.inFlightSource += req.amount
			p.inFlightDest = add(p.inFlightDest, req.estimate)
			c.launch(ctx, req, results)
		}
		if p.inFlight == 0 {
			switch {
			case endErr != nil:
				return p.out, endErr
			case p.done():
				return p.out, nil
			case time.Now().Before(p.resumeAt):
				if err := sleep(ctx, time.Until(p.resumeAt)); err != nil {
					return p.out, err
				}
				continue
			}
			return p.out, fmt.Errorf("%w: %d of %d delivered, nothing left to send", ErrInsufficientRate, p.out.Delivered, q.DeliveryAmount)
		}
		var res result
		if endErr != nil {
			res = <-results
		} else {
			var ok bool
			var err error
			if res, ok, err = next(ctx, results, p.resumeAt); err != nil {
				endErr = err
				continue
			}
			if !ok {
				continue
			}
		}
		p.inFlight--
		p.inFlightSource -= res.req.amount
		p.inFlightDest = sub(p.inFlightDest, res.req.estimate)
		if err := p.account(res, c.s); err != nil && endErr == nil {
			endErr = err
		}
	}
}

func (p *payment) done() bool {
	if p.q.FixedDelivery {
		return p.out.Delivered >= p.q.DeliveryAmount
	}
	return p.out.Sent == p.q.SourceAmount
}

// nextPacket is the next packet to send, if any: as much as is left to
// send, or as much as delivers what is left to deliver at the lower rate,
// within the max packet amount. A packet asks the receiver for its amount
// at the minimum rate rounded up, so that the path keeps no more than the
// rate allows of any packet, however small a max packet amount it
// answers with; the packet that ends the payment may lose one source unit
// to rounding, once, as in Rafiki's sender. A packet the path's rate would
// not deliver that for ends the payment.
func (p *payment) nextPacket() (request, bool, error) {
	available := sub(sub(p.q.SourceAmount, p.out.Sent), p.inFlightSource)
	amount := min(available, p.max.limit())
	last := amount == available
	if p.q.FixedDelivery {
		left := sub(sub(p.q.DeliveryAmount, p.out.Delivered), p.inFlightDest)
		if left == 0 {
			return request{}, false, nil
		}
		if available == 0 {
			if p.inFlight == 0 {
				return request{}, false, fmt.Errorf("%w: %d of %d delivered, the %d the minimum rate allows all sent",
					ErrInsufficientRate, p.out.Delivered, p.q.DeliveryAmount, p.q.SourceAmount)
			}
			return request{}, false, nil
		}
		if p.rates.low.Sign() == 0 {
			return request{}, false, fmt.Errorf("%w: the rate fell to zero", ErrInsufficientRate)
		}
		delivering := divCeil(left, p.rates.low)
		amount = min(amount, delivering)
		last = amount == delivering
	}
	if amount == 0 {
		return request{}, false, nil
	}
	rounding := last && !p.rounding
	minDestination := mulCeil(amount, p.q.MinExchangeRate)
	if rounding {
		minDestination = mulCeil(amount-1, p.q.MinExchangeRate)
	}
	if mulFloor(amount, p.rates.low) < minDestination {
		return request{}, false, fmt.Errorf("%w: the path's rate of %s delivers less than %d for a packet of %d, at the minimum rate of %s",
			ErrInsufficientRate, p.rates.low.FloatString(9), minDestination, amount, p.q.MinExchangeRate.FloatString(9))
	}
	p.rounding = p.rounding || rounding
	req := request{amount: amount, minDestination: minDestination, fulfillable: true, rounding: rounding,
		frames:   []stream.Frame{stream.StreamMoney{StreamID: streamID, Shares: 1}},
		estimate: p.rates.highEstimate(amount)}
	if p.dataPending {
		// Each packet carries all of it at offset 0: the receiver takes it
		// once from whichever arrives.
		req.frames = append(req.frames, stream.StreamData{StreamID: streamID, Data: p.q.Data})
		req.data = true
	}
	return req, true, nil
}

// account records a packet's answer, and says why the payment ends, if
// it does.
func (p *payment) account(res result, s Sender) error {
	if res.err != nil {
		return res.err
	}
	req, r := res.req, res.r
	if r.authentic {
		p.rates.update(req.amount, r.received)
	}
	if r.fulfilled {
		p.out.Sent += req.amount
		p.out.Packets++
		p.failures = 0
		if req.data {
			p.dataPending = false
		}
		if !r.authentic {
			return fmt.Errorf("%w: a packet of %d was fulfilled without a STREAM reply", ErrProtocolViolation, req.amount)
		}
		p.out.Delivered = add(p.out.Delivered, r.received)
		if r.received < req.minDestination {
			return fmt.Errorf("%w: a packet was fulfilled with %d, less than the %d asked", ErrProtocolViolation, r.received, req.minDestination)
		}
		p.max.verify(req.amount)
	}
	if err := r.closedError(); err != nil {
		return err
	}
	for _, f := range r.frames {
		if m, ok := f.(stream.StreamMaxMoney); ok && m.StreamID == streamID {
			p.receiveMax = max(p.receiveMax, m.ReceiveMax)
			if p.receiveMax < p.q.DeliveryAmount {
				return fmt.Errorf("%w: it takes %d, the payment delivers %d", ErrReceiveMax, p.receiveMax, p.q.DeliveryAmount)
			}
		}
	}
	if r.fulfilled {
		return nil
	}
	if req.rounding {
		p.rounding = false
	}
	switch {
	case r.reject.Code == ilp.CodeAmountTooLarge:
		lowered, err := p.max.reduce(r.reject.Data, req.amount)
		if err != nil || lowered || req.amount > p.max.limit() {
			return err
		}
		return p.fail(r, s)
	case r.temporary():
		return p.fail(r, s)
	case r.authentic:
		return fmt.Errorf("%w (the receiver got %d, at least %d was asked)", rejectError(r.reject), r.received, req.minDestination)
	}
	return rejectError(r.reject)
}

// fail counts a temporary failure and pauses sending.
func (p *payment) fail(r reply, s Sender) error {
	p.failures++
	if p.failures > s.RetriesMax {
		return fmt.Errorf("%w: %w", ErrRetries, rejectError(r.reject))
	}
	p.resumeAt = time.Now().Add(s.retryDelay(p.failures))
	return nil
}
