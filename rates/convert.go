package rates

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// ErrInvalidDestinationPrice: the rates hold no usable price of the
// destination asset (Rafiki's ConvertError.InvalidDestinationPrice).
var ErrInvalidDestinationPrice = errors.New("invalid destination price")

// ErrAmountTooLarge: a converted amount does not fit in 64 bits.
var ErrAmountTooLarge = errors.New("converted amount exceeds 64 bits")

// Asset is what a conversion needs of an asset.
type Asset struct {
	Code  string
	Scale uint8
}

// Converted is an amount in the other asset and the rate it was converted
// at, scale difference included.
type Converted struct {
	Amount             uint64
	ScaledExchangeRate float64
}

// ConvertSource answers how much of destination an amount of source buys:
// rounded down, as Rafiki's convertSource.
func (s *Service) ConvertSource(ctx context.Context, tenantID string, amount uint64, source, destination Asset) (Converted, error) {
	return s.convert(ctx, tenantID, amount, source, destination, func(a, rate float64) float64 { return math.Floor(a * rate) })
}

// ConvertDestination answers how much of source buys an amount of
// destination: rounded up, as Rafiki's convertDestination.
func (s *Service) ConvertDestination(ctx context.Context, tenantID string, amount uint64, source, destination Asset) (Converted, error) {
	return s.convert(ctx, tenantID, amount, source, destination, func(a, rate float64) float64 { return math.Ceil(a / rate) })
}

func (s *Service) convert(ctx context.Context, tenantID string, amount uint64, source, destination Asset, apply func(a, rate float64) float64) (Converted, error) {
	if source == destination {
		return Converted{Amount: amount, ScaledExchangeRate: 1}, nil
	}
	rate := 1.0
	if source.Code != destination.Code {
		r, err := s.Rates(ctx, tenantID, source.Code)
		if err != nil {
			return Converted{}, err
		}
		price, ok := r.Rates[destination.Code]
		if !ok || !validPrice(price) {
			return Converted{}, fmt.Errorf("%w: %s in %s", ErrInvalidDestinationPrice, destination.Code, source.Code)
		}
		rate = price
	}
	return scaled(amount, rate, source, destination, apply)
}

// scaled converts as Rafiki does, in IEEE doubles: the rate times ten to
// the scale difference, then the amount times (or divided by) it, rounded.
func scaled(amount uint64, rate float64, source, destination Asset, apply func(a, rate float64) float64) (Converted, error) {
	scaledRate := rate * math.Pow(10, float64(int(destination.Scale)-int(source.Scale)))
	out := apply(float64(amount), scaledRate)
	// 2^64 is the first double past uint64; NaN and infinities fail too.
	if !(out >= 0 && out < 18446744073709551616.0) {
		return Converted{}, fmt.Errorf("%w: %d at %g", ErrAmountTooLarge, amount, scaledRate)
	}
	return Converted{Amount: uint64(out), ScaledExchangeRate: scaledRate}, nil
}

func validPrice(p float64) bool { return p > 0 && !math.IsInf(p, 0) && !math.IsNaN(p) }
