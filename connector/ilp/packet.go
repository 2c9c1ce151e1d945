package ilp

import (
	"fmt"
	"slices"

	"github.com/rafiki-go/rafiki/connector/ilp/oer"
)

// Type is the first byte of an ILP packet.
type Type uint8

// ILPv4 packet types (RFC 27).
const (
	TypePrepare Type = 12
	TypeFulfill Type = 13
	TypeReject  Type = 14
)

func (t Type) String() string {
	switch t {
	case TypePrepare:
		return "prepare"
	case TypeFulfill:
		return "fulfill"
	case TypeReject:
		return "reject"
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Field size limits from the ASN.1 of RFC 27.
const (
	DataBytesMax    = 32767
	messageBytesMax = 8191
	codeBytes       = 3
	conditionBytes  = 32
)

// contentsBytesMax bounds the envelope: the largest Reject, the largest
// of the three packets, fits with room for extension bytes RFC 30 tells
// decoders to ignore.
const contentsBytesMax = 1 << 17

// ErrMalformed is wrapped by every decoding error: the bytes are not a
// well-formed packet of the expected kind (ILP error F01).
var ErrMalformed = oer.ErrMalformed

// Packet is a decoded Prepare, Fulfill or Reject.
type Packet interface {
	Type() Type
}

// DecodeAny decodes a packet of any of the three types; switch on its
// Type or its dynamic type.
func DecodeAny(b []byte) (Packet, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("decode ILP packet: %w: empty", ErrMalformed)
	}
	switch Type(b[0]) {
	case TypePrepare:
		return DecodePrepare(b)
	case TypeFulfill:
		return DecodeFulfill(b)
	case TypeReject:
		return DecodeReject(b)
	}
	return nil, fmt.Errorf("decode ILP packet: %w: unknown type %d", ErrMalformed, b[0])
}

// openEnvelope checks the type byte and that the length-prefixed contents
// end where b ends, and returns a reader over the contents.
func openEnvelope(b []byte, want Type) (oer.Reader, error) {
	r := oer.NewReader(b)
	t, err := r.Uint8()
	if err != nil {
		return r, err
	}
	if Type(t) != want {
		return r, fmt.Errorf("%w: type %d, want %d", ErrMalformed, t, want)
	}
	contents, err := r.VarOctetString(contentsBytesMax)
	if err != nil {
		return r, fmt.Errorf("envelope: %w", err)
	}
	if err := r.End(); err != nil {
		return r, fmt.Errorf("after the envelope: %w", err)
	}
	return oer.NewReader(contents), nil
}

// appendEnvelope grows dst once for the whole packet and writes its
// envelope.
func appendEnvelope(dst []byte, t Type, contentsBytes int) []byte {
	dst = slices.Grow(dst, 1+oer.LengthPrefixSize(contentsBytes)+contentsBytes)
	return oer.AppendLengthPrefix(append(dst, byte(t)), contentsBytes)
}

func readAddress(r *oer.Reader, field string, emptyAllowed bool) (string, error) {
	b, err := r.VarOctetString(AddressBytesMax)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	if len(b) == 0 && emptyAllowed {
		return "", nil
	}
	a := string(b)
	if err := ValidateAddress(a); err != nil {
		return "", fmt.Errorf("%s: %w: %w", field, ErrMalformed, err)
	}
	return a, nil
}

func readData(r *oer.Reader) ([]byte, error) {
	b, err := r.VarOctetString(DataBytesMax)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	return append([]byte(nil), b...), nil
}

func checkData(data []byte) error {
	if len(data) > DataBytesMax {
		return fmt.Errorf("data of %d bytes, more than %d", len(data), DataBytesMax)
	}
	return nil
}
