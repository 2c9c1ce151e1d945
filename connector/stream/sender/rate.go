package sender

import (
	"math"
	"math/big"
)

// rateBounds is what packets told of the exchange rate, destination units
// per source unit: at least low, less than high. Connectors on the path
// round amounts down, so one packet gives the rate within one destination
// unit; packets of different sizes narrow it.
type rateBounds struct {
	low, high *big.Rat
}

func newRateBounds() rateBounds {
	return rateBounds{low: new(big.Rat), high: new(big.Rat).SetUint64(math.MaxUint64)}
}

// known says a packet of a positive amount came back with what it delivered.
func (b rateBounds) known() bool { return b.low.Sign() > 0 || b.high.Cmp(maxUint64Rat) < 0 }

var maxUint64Rat = new(big.Rat).SetUint64(math.MaxUint64)

// update narrows the bounds with a packet of source units that delivered
// received. Bounds the packet falls outside of are replaced: the rate moved.
func (b *rateBounds) update(source, received uint64) {
	if source == 0 {
		return
	}
	low := new(big.Rat).SetFrac(new(big.Int).SetUint64(received), new(big.Int).SetUint64(source))
	high := new(big.Rat).SetFrac(new(big.Int).Add(new(big.Int).SetUint64(received), big.NewInt(1)), new(big.Int).SetUint64(source))
	if high.Cmp(b.low) <= 0 || low.Cmp(b.high) >= 0 {
		b.low, b.high = low, high
		return
	}
	if low.Cmp(b.low) > 0 {
		b.low = low
	}
	if high.Cmp(b.high) < 0 {
		b.high = high
	}
}

// mulFloor is floor(amount × r), saturating at the largest uint64.
func mulFloor(amount uint64, r *big.Rat) uint64 {
	n := new(big.Int).Mul(new(big.Int).SetUint64(amount), r.Num())
	n.Quo(n, r.Denom())
	return saturate(n)
}

// mulCeil is ceil(amount × r), saturating at the largest uint64.
func mulCeil(amount uint64, r *big.Rat) uint64 {
	n := new(big.Int).Mul(new(big.Int).SetUint64(amount), r.Num())
	return saturate(ceilDiv(n, r.Denom()))
}

// divCeil is ceil(amount / r) for a positive r, saturating.
func divCeil(amount uint64, r *big.Rat) uint64 {
	n := new(big.Int).Mul(new(big.Int).SetUint64(amount), r.Denom())
	return saturate(ceilDiv(n, r.Num()))
}

func ceilDiv(n, d *big.Int) *big.Int {
	q, m := new(big.Int).QuoRem(n, d, new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

func saturate(n *big.Int) uint64 {
	if !n.IsUint64() {
		if n.Sign() < 0 {
			return 0
		}
		return math.MaxUint64
	}
	return n.Uint64()
}

// highEstimate is the most source units deliver at rates under high.
func (b rateBounds) highEstimate(source uint64) uint64 {
	return sub(mulCeil(source, b.high), 1)
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// add saturates at the largest uint64.
func add(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}
