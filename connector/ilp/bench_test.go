package ilp

import (
	"testing"
)

func BenchmarkDecodePrepare(b *testing.B) {
	for _, name := range []string{"fixture example01", "data 1000 bytes"} {
		b.Run(name, func(b *testing.B) {
			var packet []byte
			for _, p := range loadVectors(b).Prepares {
				if p.Name == name {
					packet = p.Packet
				}
			}
			if packet == nil {
				b.Fatalf("no vector %q", name)
			}
			b.SetBytes(int64(len(packet)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodePrepare(packet); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodePrepare(b *testing.B) {
	p, err := DecodePrepare(loadVectors(b).Prepares[0].Packet)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodePrepare(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeFulfill(b *testing.B) {
	f := Fulfill{Fulfillment: [32]byte{1, 2, 3}, Data: make([]byte, 64)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeFulfill(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeReject(b *testing.B) {
	packet := loadVectors(b).Rejects[0].Packet
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeReject(packet); err != nil {
			b.Fatal(err)
		}
	}
}
