package sender

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// Quote is a payment to make: a fixed source amount (SourceAmount is sent
// exactly; DeliveryAmount is the least that delivers at the minimum rate),
// or a fixed delivery amount (DeliveryAmount is delivered at least;
// SourceAmount is the most sent for it, what the minimum rate allows).
type Quote struct {
	Probe
	// MinExchangeRate is the expected rate less the slippage: no packet
	// delivers less than its source amount at this rate, rounded down.
	MinExchangeRate *big.Rat
	FixedDelivery   bool
	SourceAmount    uint64
	DeliveryAmount  uint64
	// Data, when set, is for the receiver's application (Rafiki's
	// dataToTransmit), at most DataBytesMax bytes: the payment's packets
	// carry it until one that does is fulfilled.
	Data []byte
}

// ErrInvalidQuote is an amount or slippage a quote cannot be made with.
var ErrInvalidQuote = errors.New("stream sender: invalid quote")

// Terms are what a quote holds its payment to.
type Terms struct {
	// Slippage is the fraction in [0, 1] of the expected rate a payment
	// may lose (Rafiki's SLIPPAGE).
	Slippage float64
	// Rate, when set, is the rate expected from the sender's own exchange
	// rates, destination units per source unit, and a probe that found
	// less than the minimum it makes fails the quote, as Rafiki quotes with
	// its rates; otherwise the probe's lower rate is expected.
	Rate *big.Rat
}

// minExchangeRate is the expected rate less slippage.
func (t Terms) minExchangeRate(p Probe) (*big.Rat, error) {
	if math.IsNaN(t.Slippage) || t.Slippage < 0 || t.Slippage > 1 {
		return nil, fmt.Errorf("%w: slippage %v is not within [0, 1]", ErrInvalidQuote, t.Slippage)
	}
	if p.RateLow == nil || p.RateHigh == nil || p.MaxPacketAmount == 0 {
		return nil, fmt.Errorf("%w: no probe", ErrInvalidQuote)
	}
	expected := p.RateLow
	if t.Rate != nil {
		if t.Rate.Sign() < 0 {
			return nil, fmt.Errorf("%w: a negative rate %s", ErrInvalidQuote, t.Rate)
		}
		expected = t.Rate
	}
	// The shortest decimal that reads back as the slippage is the fraction
	// meant: 0.01 is 1/100, not the binary double nearest it.
	s, _ := new(big.Rat).SetString(strconv.FormatFloat(t.Slippage, 'g', -1, 64))
	rate := new(big.Rat).Sub(big.NewRat(1, 1), s)
	rate.Mul(rate, expected)
	if p.RateLow.Cmp(rate) < 0 {
		return nil, fmt.Errorf("%w: the probe found %s, the minimum is %s", ErrInsufficientRate, p.RateLow.FloatString(9), rate.FloatString(9))
	}
	return rate, nil
}

// QuoteSend quotes sending exactly sourceAmount.
func QuoteSend(p Probe, sourceAmount uint64, t Terms) (Quote, error) {
	if sourceAmount == 0 {
		return Quote{}, fmt.Errorf("%w: nothing to send", ErrInvalidQuote)
	}
	rate, err := t.minExchangeRate(p)
	if err != nil {
		return Quote{}, err
	}
	return Quote{Probe: p, MinExchangeRate: rate, SourceAmount: sourceAmount,
		DeliveryAmount: guaranteed(sourceAmount, rate, p.MaxPacketAmount)}, nil
}

// QuoteDelivery quotes delivering at least deliveryAmount.
func QuoteDelivery(p Probe, deliveryAmount uint64, t Terms) (Quote, error) {
	if deliveryAmount == 0 {
		return Quote{}, fmt.Errorf("%w: nothing to deliver", ErrInvalidQuote)
	}
	rate, err := t.minExchangeRate(p)
	if err != nil {
		return Quote{}, err
	}
	source, err := sourceFor(deliveryAmount, rate, p.MaxPacketAmount)
	if err != nil {
		return Quote{}, err
	}
	return Quote{Probe: p, MinExchangeRate: rate, FixedDelivery: true, SourceAmount: source, DeliveryAmount: deliveryAmount}, nil
}

// guaranteed is what source units deliver at least at rate, in packets of
// maxPacket and one of the rest, each rounded down on its own.
func guaranteed(source uint64, rate *big.Rat, maxPacket uint64) uint64 {
	full := new(big.Int).SetUint64(source / maxPacket)
	perPacket := new(big.Int).SetUint64(mulFloor(maxPacket, rate))
	total := full.Mul(full, perPacket)
	total.Add(total, new(big.Int).SetUint64(mulFloor(source%maxPacket, rate)))
	return saturate(total)
}

// sourceFor is the least source amount that delivers delivery at rate in
// packets of maxPacket, each rounded down on its own: full packets, then
// the least that delivers the rest.
func sourceFor(delivery uint64, rate *big.Rat, maxPacket uint64) (uint64, error) {
	perPacket := mulFloor(maxPacket, rate)
	if perPacket == 0 {
		return 0, fmt.Errorf("%w: a packet of %d delivers nothing at the minimum rate %s", ErrInsufficientRate, maxPacket, rate.FloatString(9))
	}
	full := delivery / perPacket
	source := new(big.Int).Mul(new(big.Int).SetUint64(full), new(big.Int).SetUint64(maxPacket))
	if rest := delivery - full*perPacket; rest > 0 {
		source.Add(source, new(big.Int).SetUint64(divCeil(rest, rate)))
	}
	if !source.IsUint64() {
		return 0, fmt.Errorf("%w: delivering %d takes more than the largest amount", ErrInvalidQuote, delivery)
	}
	return source.Uint64(), nil
}
