package ilp

import (
	"bytes"
	"reflect"
	"testing"
)

// seedPackets adds every packet of the fixtures to the corpus.
func seedPackets(f *testing.F) {
	v := loadVectors(f)
	for _, p := range v.Prepares {
		f.Add(p.Packet)
	}
	for _, p := range v.ILDCPRequests {
		f.Add(p.Packet)
	}
	for _, p := range v.Fulfills {
		f.Add(p.Packet)
	}
	for _, p := range v.ILDCPResponses {
		f.Add(p.Packet)
	}
	for _, p := range v.Rejects {
		f.Add(p.Packet)
	}
	for _, p := range v.Refused {
		f.Add(p.Packet)
	}
}

// roundTrip checks that a decoded packet encodes, that the encoding
// decodes to the same packet, and that it is the input unless the input
// carried extension bytes inside its envelope (which are dropped).
func roundTrip[P any](t *testing.T, in []byte, p P, encode func(P) ([]byte, error), decode func([]byte) (P, error)) {
	t.Helper()
	b, err := encode(p)
	if err != nil {
		t.Fatalf("decoded %+v does not encode: %v", p, err)
	}
	if !bytes.Equal(b, in) && len(b) >= len(in) {
		t.Fatalf("%x re-encodes to %x", in, b)
	}
	again, err := decode(b)
	if err != nil {
		t.Fatalf("re-encoding %x does not decode: %v", b, err)
	}
	if !reflect.DeepEqual(again, p) {
		t.Fatalf("decoded %+v, then %+v", p, again)
	}
}

func FuzzDecodePrepare(f *testing.F) {
	seedPackets(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePrepare(b)
		if err != nil {
			return
		}
		roundTrip(t, b, p, EncodePrepare, DecodePrepare)
	})
}

func FuzzDecodeFulfill(f *testing.F) {
	seedPackets(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeFulfill(b)
		if err != nil {
			return
		}
		roundTrip(t, b, p, EncodeFulfill, DecodeFulfill)
	})
}

func FuzzDecodeReject(f *testing.F) {
	seedPackets(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeReject(b)
		if err != nil {
			return
		}
		roundTrip(t, b, p, EncodeReject, DecodeReject)
	})
}

func FuzzDecodeAny(f *testing.F) {
	seedPackets(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeAny(b)
		if err != nil {
			return
		}
		if p.Type() != Type(b[0]) {
			t.Fatalf("type %s from a packet of type %d", p.Type(), b[0])
		}
	})
}

func FuzzDecodeAmountTooLarge(f *testing.F) {
	for _, a := range loadVectors(f).AmountsTooLarge {
		f.Add(a.Data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAmountTooLarge(b)
		if err != nil {
			return
		}
		if enc := EncodeAmountTooLarge(a); !bytes.Equal(enc, b[:16]) {
			t.Fatalf("%x re-encodes to %x", b, enc)
		}
	})
}

func FuzzDecodeILDCPResponse(f *testing.F) {
	for _, r := range loadVectors(f).ILDCPResponses {
		f.Add(r.Packet)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fulfill, err := DecodeFulfill(b)
		if err != nil {
			return
		}
		resp, err := DecodeILDCPResponse(fulfill)
		if err != nil {
			return
		}
		again, err := EncodeILDCPResponse(resp)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", resp, err)
		}
		if !bytes.HasPrefix(fulfill.Data, again.Data) {
			t.Fatalf("data %x re-encodes to %x", fulfill.Data, again.Data)
		}
		if resp2, err := DecodeILDCPResponse(again); err != nil || resp2 != resp {
			t.Fatalf("decoded %+v, then %+v, %v", resp, resp2, err)
		}
	})
}
