package ilp

import (
	"fmt"

	"github.com/rafiki-go/rafiki/connector/ilp/oer"
)

// Fulfill carries the preimage of a Prepare's execution condition.
type Fulfill struct {
	Fulfillment [32]byte
	Data        []byte
}

// Type is TypeFulfill.
func (Fulfill) Type() Type { return TypeFulfill }

// EncodeFulfill returns f's canonical encoding.
func EncodeFulfill(f Fulfill) ([]byte, error) { return AppendFulfill(nil, f) }

// AppendFulfill appends f's canonical encoding to dst.
func AppendFulfill(dst []byte, f Fulfill) ([]byte, error) {
	if err := checkData(f.Data); err != nil {
		return dst, fmt.Errorf("encode ILP fulfill: %w", err)
	}
	b := appendEnvelope(dst, TypeFulfill, conditionBytes+oer.VarOctetStringSize(len(f.Data)))
	b = append(b, f.Fulfillment[:]...)
	return oer.AppendVarOctetString(b, f.Data), nil
}

// DecodeFulfill decodes a Fulfill. Data is a copy; nil when empty.
func DecodeFulfill(b []byte) (Fulfill, error) {
	f, err := decodeFulfill(b)
	if err != nil {
		return Fulfill{}, fmt.Errorf("decode ILP fulfill: %w", err)
	}
	return f, nil
}

func decodeFulfill(b []byte) (Fulfill, error) {
	var f Fulfill
	r, err := openEnvelope(b, TypeFulfill)
	if err != nil {
		return f, err
	}
	fulfillment, err := r.Fixed(conditionBytes)
	if err != nil {
		return f, fmt.Errorf("fulfillment: %w", err)
	}
	copy(f.Fulfillment[:], fulfillment)
	if f.Data, err = readData(&r); err != nil {
		return f, err
	}
	return f, nil
}
