package stream

import (
	"math"
	"testing"
)

var fulfillmentSink [32]byte

// BenchmarkReceive is a receiver's work on a money Prepare: decrypt and
// decode it, make its fulfillment, then encode and encrypt the Fulfill's
// STREAM packet. "derived keys" also derives the keys from the shared
// secret, as a receiver that keeps no connection state does per packet.
func BenchmarkReceive(b *testing.B) {
	secret := make([]byte, 32)
	k, err := NewKeys(secret)
	if err != nil {
		b.Fatal(err)
	}
	prepare, err := k.Seal(Packet{Version: Version, Type: TypePrepare, Sequence: 7, PrepareAmount: 990,
		Frames: []Frame{StreamMoney{StreamID: 1, Shares: 1}}})
	if err != nil {
		b.Fatal(err)
	}
	receive := func(b *testing.B, k *Keys) {
		p, err := k.Open(prepare, TypePrepare)
		if err != nil {
			b.Fatal(err)
		}
		fulfillmentSink = k.Fulfillment(prepare)
		reply := Packet{Version: Version, Type: TypeFulfill, Sequence: p.Sequence, PrepareAmount: 1000,
			Frames: []Frame{StreamMaxMoney{StreamID: 1, ReceiveMax: math.MaxUint64, TotalReceived: 1000}}}
		data, err := k.Seal(reply)
		if err != nil || len(data) != EncryptionOverhead+25 {
			b.Fatal(err)
		}
	}
	b.Run("cached keys", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			receive(b, k)
		}
	})
	b.Run("derived keys", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			k, err := NewKeys(secret)
			if err != nil {
				b.Fatal(err)
			}
			receive(b, k)
		}
	})
}
