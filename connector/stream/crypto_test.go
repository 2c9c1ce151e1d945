package stream

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestMACIsHMACSHA256(t *testing.T) {
	for _, keyLength := range []int{0, 1, 32, 63, 64, 65, 200} {
		key := make([]byte, keyLength)
		message := make([]byte, keyLength*3)
		_, _ = rand.Read(key)
		_, _ = rand.Read(message)
		h := hmac.New(sha256.New, key)
		h.Write(message)
		if got := mac(key, message); !bytes.Equal(got[:], h.Sum(nil)) {
			t.Errorf("key of %d bytes: %x", keyLength, got)
		}
	}
}

func randomKeys(t *testing.T) *Keys {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	k, err := NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEncryptDecrypt(t *testing.T) {
	k := randomKeys(t)
	plain := []byte("a STREAM packet")
	a, err := k.Encrypt(nil, plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.Encrypt([]byte("prefix"), plain)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("prefix")) || len(a) != EncryptionOverhead+len(plain) || bytes.Equal(a[:ivLength], b[6:6+ivLength]) {
		t.Fatalf("encrypted %x and %x", a, b)
	}
	for _, data := range [][]byte{a, b[6:]} {
		got, err := k.Decrypt([]byte("dst:"), data)
		if err != nil || string(got) != "dst:a STREAM packet" {
			t.Fatalf("decrypted %q %v", got, err)
		}
	}
	if empty, err := k.Encrypt(nil, nil); err != nil || len(empty) != EncryptionOverhead {
		t.Fatalf("empty plaintext: %x %v", empty, err)
	} else if got, err := k.Decrypt(nil, empty); err != nil || len(got) != 0 {
		t.Fatalf("empty plaintext decrypted to %x %v", got, err)
	}
}

func TestDecryptRefuses(t *testing.T) {
	k := randomKeys(t)
	data, err := k.Encrypt(nil, []byte("money"))
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{0, ivLength, EncryptionOverhead, len(data) - 1} {
		changed := bytes.Clone(data)
		changed[at] ^= 1
		if _, err := k.Decrypt(nil, changed); !errors.Is(err, ErrDecrypt) {
			t.Errorf("byte %d changed: %v", at, err)
		}
	}
	if _, err := randomKeys(t).Decrypt(nil, data); !errors.Is(err, ErrDecrypt) {
		t.Errorf("another key: %v", err)
	}
	for _, n := range []int{0, EncryptionOverhead - 1, EncryptedBytesMax + 1} {
		if _, err := k.Decrypt(nil, make([]byte, n)); err == nil {
			t.Errorf("%d bytes decrypted", n)
		}
	}
	if _, err := k.Encrypt(nil, make([]byte, plaintextBytesMax+1)); err == nil {
		t.Error("a plaintext too large for ILP data encrypted")
	}
}

func TestOpenChecksThePacketType(t *testing.T) {
	k := randomKeys(t)
	data, err := k.Seal(Packet{Version: Version, Type: TypeFulfill, Sequence: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Open(data, TypeFulfill); err != nil {
		t.Fatal(err)
	}
	for _, arrived := range []PacketType{TypePrepare, TypeReject} {
		if _, err := k.Open(data, arrived); !errors.Is(err, ErrWrongPacketType) {
			t.Errorf("a Fulfill's packet in a %s: %v", arrived, err)
		}
	}
}

func TestFulfillmentFitsCondition(t *testing.T) {
	k := randomKeys(t)
	data, err := k.Seal(Packet{Version: Version, Type: TypePrepare, Frames: []Frame{StreamMoney{StreamID: 1, Shares: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	f := k.Fulfillment(data)
	if Condition(f) != sha256.Sum256(f[:]) || f == k.Fulfillment(data[1:]) || f == randomKeys(t).Fulfillment(data) {
		t.Fatal("the fulfillment does not depend on key and data alone")
	}
}
