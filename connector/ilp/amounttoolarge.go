package ilp

import (
	"fmt"

	"github.com/rafiki-go/rafiki/connector/ilp/oer"
)

// AmountTooLarge is the data of an F08 Reject (RFC 27,
// InterledgerErrorData.asn): the amount the connector received and the
// most it forwards, both in the units of the Prepare it rejects.
type AmountTooLarge struct {
	ReceivedAmount uint64
	MaximumAmount  uint64
}

// EncodeAmountTooLarge returns the 16 bytes of a's encoding.
func EncodeAmountTooLarge(a AmountTooLarge) []byte {
	b := make([]byte, 0, 16)
	return oer.AppendUint64(oer.AppendUint64(b, a.ReceivedAmount), a.MaximumAmount)
}

// DecodeAmountTooLarge decodes F08 data; bytes after the two amounts are
// ignored (RFC 30).
func DecodeAmountTooLarge(data []byte) (AmountTooLarge, error) {
	var a AmountTooLarge
	r := oer.NewReader(data)
	var err error
	if a.ReceivedAmount, err = r.Uint64(); err != nil {
		return AmountTooLarge{}, fmt.Errorf("decode F08 data: receivedAmount: %w", err)
	}
	if a.MaximumAmount, err = r.Uint64(); err != nil {
		return AmountTooLarge{}, fmt.Errorf("decode F08 data: maximumAmount: %w", err)
	}
	return a, nil
}
