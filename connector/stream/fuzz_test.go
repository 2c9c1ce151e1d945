package stream

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecode feeds the packet decoder arbitrary plaintext: it must not
// panic, and what it accepts must encode to bytes that decode to the same
// packet and encode to the same bytes again.
func FuzzDecode(f *testing.F) {
	v := loadVectors(f)
	for _, c := range v.Packets {
		f.Add(unhex(f, c.Hex))
	}
	for _, c := range v.DecodeOnly {
		f.Add(unhex(f, c.Hex))
	}
	for _, c := range v.Invalid {
		f.Add(unhex(f, c.Hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		first, err := p.Encode()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", p, err)
		}
		again, err := Decode(first)
		if err != nil {
			t.Fatalf("re-encoded %x does not decode: %v", first, err)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("decoded %+v, then %+v", p, again)
		}
		second, err := again.Encode()
		if err != nil || !bytes.Equal(first, second) {
			t.Fatalf("encoded %x, then %x %v", first, second, err)
		}
	})
}

// FuzzKeysOpen feeds decryption arbitrary data, and data that decrypts to
// arbitrary plaintext: no panic, and a packet it opens seals and opens
// back to itself.
func FuzzKeysOpen(f *testing.F) {
	v := loadVectors(f)
	k := vectorKeys(f, v)
	for _, c := range v.Crypto.Encrypted {
		f.Add(unhex(f, c.DataHex), false)
		f.Add(unhex(f, c.PlaintextHex), true)
	}
	f.Add([]byte{}, false)
	f.Add(make([]byte, EncryptionOverhead), false)
	f.Fuzz(func(t *testing.T, b []byte, sealFirst bool) {
		data := b
		if sealFirst {
			var err error
			if data, err = k.Encrypt(nil, b); err != nil {
				return
			}
		}
		for _, arrived := range []PacketType{TypePrepare, TypeFulfill, TypeReject} {
			p, err := k.Open(data, arrived)
			if err != nil {
				continue
			}
			sealed, err := k.Seal(p)
			if err != nil {
				t.Fatalf("opened %+v does not seal: %v", p, err)
			}
			again, err := k.Open(sealed, arrived)
			if err != nil || !reflect.DeepEqual(again, p) {
				t.Fatalf("opened %+v, then %+v %v", p, again, err)
			}
		}
	})
}
