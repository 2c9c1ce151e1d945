package ilp

import (
	"fmt"
	"time"

	"github.com/rafiki-go/rafiki/connector/ilp/oer"
)

// Prepare offers Amount to Destination until ExpiresAt, in exchange for
// the preimage of ExecutionCondition.
type Prepare struct {
	Amount             uint64
	ExpiresAt          time.Time
	ExecutionCondition [32]byte
	Destination        string
	Data               []byte
}

// Type is TypePrepare.
func (Prepare) Type() Type { return TypePrepare }

// EncodePrepare returns p's canonical encoding. ExpiresAt is written in
// UTC and truncated to the millisecond.
func EncodePrepare(p Prepare) ([]byte, error) {
	if err := ValidateAddress(p.Destination); err != nil {
		return nil, fmt.Errorf("encode ILP prepare: destination: %w", err)
	}
	if err := checkData(p.Data); err != nil {
		return nil, fmt.Errorf("encode ILP prepare: %w", err)
	}
	n := 8 + timestampBytes + conditionBytes + oer.VarOctetStringSize(len(p.Destination)) + oer.VarOctetStringSize(len(p.Data))
	b := oer.AppendUint64(appendEnvelope(nil, TypePrepare, n), p.Amount)
	b, err := appendTimestamp(b, p.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("encode ILP prepare: expiresAt: %w", err)
	}
	b = append(b, p.ExecutionCondition[:]...)
	b = oer.AppendVarString(b, p.Destination)
	return oer.AppendVarOctetString(b, p.Data), nil
}

// DecodePrepare decodes a Prepare. Data is a copy; nil when empty.
func DecodePrepare(b []byte) (Prepare, error) {
	p, err := decodePrepare(b)
	if err != nil {
		return Prepare{}, fmt.Errorf("decode ILP prepare: %w", err)
	}
	return p, nil
}

func decodePrepare(b []byte) (Prepare, error) {
	var p Prepare
	r, err := openEnvelope(b, TypePrepare)
	if err != nil {
		return p, err
	}
	if p.Amount, err = r.Uint64(); err != nil {
		return p, fmt.Errorf("amount: %w", err)
	}
	ts, err := r.Fixed(timestampBytes)
	if err != nil {
		return p, fmt.Errorf("expiresAt: %w", err)
	}
	if p.ExpiresAt, err = parseTimestamp(ts); err != nil {
		return p, fmt.Errorf("expiresAt: %w: %w", ErrMalformed, err)
	}
	cond, err := r.Fixed(conditionBytes)
	if err != nil {
		return p, fmt.Errorf("executionCondition: %w", err)
	}
	copy(p.ExecutionCondition[:], cond)
	if p.Destination, err = readAddress(&r, "destination", false); err != nil {
		return p, err
	}
	if p.Data, err = readData(&r); err != nil {
		return p, err
	}
	return p, nil
}
