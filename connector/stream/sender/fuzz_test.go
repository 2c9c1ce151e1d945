package sender

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/stream"
)

// FuzzReply reads a peer's answer as the sender does: any bytes decode to a
// Fulfill or Reject or fail, and a reply is authentic only with a STREAM
// packet of the connection's keys, the Prepare's sequence and a type the
// answer may carry.
func FuzzReply(f *testing.F) {
	keys, err := stream.NewKeys(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	const seq = 3
	seal := func(t stream.PacketType, s uint64, frames ...stream.Frame) []byte {
		data, err := keys.Seal(stream.Packet{Version: stream.Version, Type: t, Sequence: s, PrepareAmount: 500, Frames: frames})
		if err != nil {
			f.Fatal(err)
		}
		return data
	}
	fulfillment := [32]byte{1}
	for _, p := range []ilp.Packet{
		ilp.Fulfill{Fulfillment: fulfillment, Data: seal(stream.TypeFulfill, seq, stream.StreamMaxMoney{StreamID: 1, ReceiveMax: 9})},
		ilp.Fulfill{Fulfillment: fulfillment, Data: seal(stream.TypeReject, seq)},
		ilp.Reject{Code: ilp.CodeFinalApplicationError, TriggeredBy: "test.r", Data: seal(stream.TypeReject, seq, stream.ConnectionClose{Code: stream.NoError})},
		ilp.Reject{Code: ilp.CodeWrongCondition, TriggeredBy: "test.r", Data: seal(stream.TypeReject, seq+1)},
		ilp.Reject{Code: ilp.CodeAmountTooLarge, TriggeredBy: "test.c", Data: ilp.EncodeAmountTooLarge(ilp.AmountTooLarge{ReceivedAmount: 9, MaximumAmount: 4})},
	} {
		var b []byte
		switch p := p.(type) {
		case ilp.Fulfill:
			b, err = ilp.EncodeFulfill(p)
		case ilp.Reject:
			b, err = ilp.EncodeReject(p)
		}
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	condition := sha256.Sum256(fulfillment[:])
	f.Fuzz(func(t *testing.T, b []byte) {
		answer, err := decodeAnswer(b)
		if err != nil {
			if answer != nil {
				t.Fatalf("an error and an answer %T", answer)
			}
			return
		}
		r := readReply(keys, seq, true, condition, answer, nil)
		if !r.authentic {
			if r.received != 0 || r.frames != nil {
				t.Fatalf("an unauthentic reply with the receiver's amount %d or frames %v", r.received, r.frames)
			}
			return
		}
		var sealed []byte
		switch a := answer.(type) {
		case ilp.Fulfill:
			sealed = a.Data
		case ilp.Reject:
			sealed = a.Data
		}
		plain, err := keys.Decrypt(nil, sealed)
		if err != nil {
			t.Fatalf("authentic, yet it does not decrypt: %v", err)
		}
		p, err := stream.Decode(plain)
		if err != nil || p.Sequence != seq || p.PrepareAmount != r.received || (r.fulfilled && p.Type == stream.TypeReject) {
			t.Fatalf("authentic reply %+v from packet %+v (%v)", r, p, err)
		}
	})
}

// FuzzMaxPacket reads F08 data as the probe and the payment do: the max
// packet amount only goes down, stays positive, and stays below the amount
// refused.
func FuzzMaxPacket(f *testing.F) {
	f.Add(ilp.EncodeAmountTooLarge(ilp.AmountTooLarge{ReceivedAmount: 500_000, MaximumAmount: 700}), uint64(1_000_000), uint64(0))
	f.Add([]byte{}, uint64(1000), uint64(999))
	f.Add(ilp.EncodeAmountTooLarge(ilp.AmountTooLarge{ReceivedAmount: 1, MaximumAmount: 1}), uint64(5), uint64(2))
	f.Add(ilp.EncodeAmountTooLarge(ilp.AmountTooLarge{ReceivedAmount: ^uint64(0), MaximumAmount: 1}), uint64(1), uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, source, verified uint64) {
		m := maxPacket{}
		m.verify(verified)
		before := m.limit()
		lowered, err := m.reduce(data, source)
		if err != nil {
			if lowered || m.limit() != before {
				t.Fatalf("an error, yet the max moved from %d to %d", before, m.limit())
			}
			return
		}
		if !lowered {
			if m.limit() != before {
				t.Fatalf("not lowered, yet the max moved from %d to %d", before, m.limit())
			}
			return
		}
		if m.limit() == 0 || m.limit() >= source || m.limit() >= before {
			t.Fatalf("max %d after refusing %d (before %d)", m.limit(), source, before)
		}
		if m.verified > m.limit() {
			t.Fatalf("verified %d above the max %d", m.verified, m.limit())
		}
		if n, ok := m.next(); !ok || n == 0 || n > m.limit() {
			t.Fatalf("next probe %d %v under the max %d", n, ok, m.limit())
		}
	})
}
