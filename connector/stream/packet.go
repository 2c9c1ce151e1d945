package stream

// The STREAM packet of RFC 29 §5.2, in plaintext: version, the ILP packet
// type it travels in, sequence, prepare amount, then the frames.

import (
	"fmt"

	"github.com/rafiki-go/rafiki/connector/ilp/oer"
)

// Version is the only STREAM version there is.
const Version = 1

// PacketType is the type of the ILP packet a STREAM packet travels in; a
// receiver discards one that arrives in another type (RFC 29 §5.2).
type PacketType uint8

// ILP packet types (RFC 27).
const (
	TypePrepare PacketType = 12
	TypeFulfill PacketType = 13
	TypeReject  PacketType = 14
)

func (t PacketType) String() string {
	switch t {
	case TypePrepare:
		return "Prepare"
	case TypeFulfill:
		return "Fulfill"
	case TypeReject:
		return "Reject"
	}
	return fmt.Sprintf("PacketType(%d)", uint8(t))
}

// Packet is a STREAM packet. On a Prepare, PrepareAmount is the least the
// receiver should accept; on a Fulfill or Reject, what the receiver got.
type Packet struct {
	Version       uint8
	Type          PacketType
	Sequence      uint64
	PrepareAmount uint64
	Frames        []Frame
}

// plaintextBytesMax is the largest plaintext that fits ILP data once
// encrypted (RFC 29 §5.1.1); no length read from inside it can be larger.
const plaintextBytesMax = 32739

// packetHeaderBytesMin is version, type and three one-byte var-uints with
// their length prefixes; frameBytesMin is a type and an empty contents.
const (
	packetHeaderBytesMin = 8
	frameBytesMin        = 2
)

// Decode reads a plaintext STREAM packet. Frames of unknown types are
// skipped and bytes after the frames ignored (RFC 29 §5.2, §5.3). Byte
// fields of the frames alias b.
func Decode(b []byte) (Packet, error) {
	var p Packet
	if len(b) > plaintextBytesMax {
		return Packet{}, fmt.Errorf("stream packet: %d bytes, more than %d", len(b), plaintextBytesMax)
	}
	if len(b) < packetHeaderBytesMin {
		return Packet{}, fmt.Errorf("stream packet: %d bytes, fewer than %d", len(b), packetHeaderBytesMin)
	}
	r := oer.NewReader(b)
	p.Version, _ = r.Uint8()
	if p.Version != Version {
		return Packet{}, fmt.Errorf("stream packet: version %d, want %d", p.Version, Version)
	}
	t, _ := r.Uint8()
	p.Type = PacketType(t)
	if p.Type != TypePrepare && p.Type != TypeFulfill && p.Type != TypeReject {
		return Packet{}, fmt.Errorf("stream packet: ILP packet type %d", t)
	}
	var err error
	if p.Sequence, err = r.VarUintPadded(); err != nil {
		return Packet{}, fmt.Errorf("stream packet sequence: %w", err)
	}
	if p.PrepareAmount, err = r.VarUintPadded(); err != nil {
		return Packet{}, fmt.Errorf("stream packet amount: %w", err)
	}
	count, err := r.VarUintPadded()
	if err != nil {
		return Packet{}, fmt.Errorf("stream packet frame count: %w", err)
	}
	if count > uint64(r.Len()/frameBytesMin) {
		return Packet{}, fmt.Errorf("stream packet: %d frames announced in %d bytes", count, r.Len())
	}
	if count > 0 {
		p.Frames = make([]Frame, 0, count)
	}
	for i := range int(count) {
		t, err := r.Uint8()
		if err != nil {
			return Packet{}, fmt.Errorf("stream packet frame %d: %w", i, err)
		}
		contents, err := r.VarOctetString(plaintextBytesMax)
		if err != nil {
			return Packet{}, fmt.Errorf("stream packet frame %d (%s): %w", i, FrameType(t), err)
		}
		f, known, err := decodeFrame(FrameType(t), contents)
		if err != nil {
			return Packet{}, fmt.Errorf("stream packet frame %d: %w", i, err)
		}
		if known {
			p.Frames = append(p.Frames, f)
		}
	}
	if len(p.Frames) == 0 {
		p.Frames = nil
	}
	return p, nil
}

// Append writes p's plaintext after b.
func (p Packet) Append(b []byte) ([]byte, error) {
	if p.Version != Version {
		return b, fmt.Errorf("stream packet: version %d, want %d", p.Version, Version)
	}
	if p.Type != TypePrepare && p.Type != TypeFulfill && p.Type != TypeReject {
		return b, fmt.Errorf("stream packet: ILP packet type %d", uint8(p.Type))
	}
	start := len(b)
	b = append(b, p.Version, byte(p.Type))
	b = oer.AppendVarUint(b, p.Sequence)
	b = oer.AppendVarUint(b, p.PrepareAmount)
	b = oer.AppendVarUint(b, uint64(len(p.Frames)))
	for i, f := range p.Frames {
		if f == nil {
			return b[:start], fmt.Errorf("stream packet frame %d: nil", i)
		}
		b = appendFrame(b, f)
	}
	if n := len(b) - start; n > plaintextBytesMax {
		return b[:start], fmt.Errorf("stream packet: %d bytes, more than %d", n, plaintextBytesMax)
	}
	return b, nil
}

// Encode is p's plaintext.
func (p Packet) Encode() ([]byte, error) {
	return p.Append(make([]byte, 0, 64))
}

// appendFrame writes the type, then the contents behind their length
// prefix. Contents under 128 bytes, the usual case, take a one-byte prefix
// and are written in place; longer ones are moved once to make room.
func appendFrame(b []byte, f Frame) []byte {
	b = append(b, byte(f.Type()), 0)
	at := len(b)
	b = f.appendContents(b)
	n := len(b) - at
	if n < 0x80 {
		b[at-1] = byte(n)
		return b
	}
	prefix := oer.AppendLengthPrefix(nil, n)
	extra := len(prefix) - 1
	b = append(b, prefix[1:]...)
	copy(b[at+extra:], b[at:at+n])
	copy(b[at-1:], prefix)
	return b
}
