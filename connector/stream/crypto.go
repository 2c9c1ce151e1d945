package stream

// STREAM's keys and envelope (RFC 29 §5.1, §6): AES-256-GCM under a key
// derived from the shared secret, laid out iv | tag | ciphertext as the
// reference implementation writes it, and fulfillments derived from the
// encrypted Prepare data.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
)

const (
	ivLength  = 12
	tagLength = 16
	// EncryptionOverhead is what encryption adds to a plaintext.
	EncryptionOverhead = ivLength + tagLength
	// EncryptedBytesMax is the largest STREAM data: ILP data holds at most
	// 32767 bytes (RFC 29 §5.1.1).
	EncryptedBytesMax = EncryptionOverhead + plaintextBytesMax
)

const (
	encryptionLabel  = "ilp_stream_encryption"
	fulfillmentLabel = "ilp_stream_fulfillment"
)

// Keys are what one shared secret gives: the packet cipher and the key
// fulfillments are made with. They are safe for concurrent use.
type Keys struct {
	aead           cipher.AEAD
	fulfillmentKey [sha256.Size]byte
}

// NewKeys derives a connection's keys from its shared secret.
func NewKeys(sharedSecret []byte) (*Keys, error) {
	return newKeys(derive(sharedSecret, encryptionLabel), derive(sharedSecret, fulfillmentLabel))
}

func newKeys(pskKey, fulfillmentKey []byte) (*Keys, error) {
	block, err := aes.NewCipher(pskKey)
	if err != nil {
		return nil, fmt.Errorf("stream keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("stream keys: %w", err)
	}
	k := &Keys{aead: aead}
	copy(k.fulfillmentKey[:], fulfillmentKey)
	return k, nil
}

// Fulfillment is the fulfillment of a Prepare whose data (the encrypted
// STREAM packet) is data.
func (k *Keys) Fulfillment(data []byte) [sha256.Size]byte {
	return mac(k.fulfillmentKey[:], data)
}

// Condition is the execution condition a fulfillment fulfils.
func Condition(fulfillment [sha256.Size]byte) [sha256.Size]byte {
	return sha256.Sum256(fulfillment[:])
}

// Encrypt appends the encrypted plaintext to dst under a random IV.
func (k *Keys) Encrypt(dst, plaintext []byte) ([]byte, error) {
	var iv [ivLength]byte
	if _, err := rand.Read(iv[:]); err != nil {
		return dst, fmt.Errorf("stream encrypt: %w", err)
	}
	return k.encrypt(dst, iv, plaintext)
}

func (k *Keys) encrypt(dst []byte, iv [ivLength]byte, plaintext []byte) ([]byte, error) {
	if len(plaintext) > plaintextBytesMax {
		return dst, fmt.Errorf("stream encrypt: %d bytes, more than %d", len(plaintext), plaintextBytesMax)
	}
	start := len(dst)
	b := slices.Grow(dst, EncryptionOverhead+len(plaintext)+tagLength)
	b = append(b[:start+EncryptionOverhead], plaintext...)
	return k.sealInPlace(b, start, iv), nil
}

// sealInPlace encrypts b[start+EncryptionOverhead:] where it lies and
// writes IV and tag into the room left before it. Seal writes
// ciphertext | tag, so the tag moves in front of the ciphertext. The
// nonce Seal is given is the IV where it lies in b, which Seal does not
// write to, so that it is not copied to the heap.
func (k *Keys) sealInPlace(b []byte, start int, iv [ivLength]byte) []byte {
	plainLength := len(b) - start - EncryptionOverhead
	b = slices.Grow(b, tagLength)
	copy(b[start:], iv[:])
	body := b[start+EncryptionOverhead:]
	sealed := k.aead.Seal(body[:0], b[start:start+ivLength], body, nil)
	copy(b[start+ivLength:], sealed[plainLength:])
	return b[:start+EncryptionOverhead+plainLength]
}

// ErrDecrypt is returned for data this key did not encrypt, or that was
// changed; a receiver answers such a Prepare with F06 (RFC 29 §4.2).
var ErrDecrypt = errors.New("stream decrypt: not encrypted with this connection's key, or corrupted")

// Decrypt appends the plaintext of data to dst.
func (k *Keys) Decrypt(dst, data []byte) ([]byte, error) {
	if len(data) > EncryptedBytesMax {
		return dst, fmt.Errorf("stream decrypt: %d bytes, more than %d", len(data), EncryptedBytesMax)
	}
	if len(data) < EncryptionOverhead {
		return dst, fmt.Errorf("stream decrypt: %d bytes, less than the %d of IV and tag", len(data), EncryptionOverhead)
	}
	// Open wants ciphertext | tag; the copy is where the plaintext lands.
	start := len(dst)
	ciphertext := data[EncryptionOverhead:]
	n := len(ciphertext) + tagLength
	buf := slices.Grow(dst, n)[:start+n]
	copy(buf[start:], ciphertext)
	copy(buf[start+len(ciphertext):], data[ivLength:EncryptionOverhead])
	plain, err := k.aead.Open(buf[start:start], data[:ivLength], buf[start:], nil)
	if err != nil {
		return dst, ErrDecrypt
	}
	return buf[:start+len(plain)], nil
}

// Seal encodes and encrypts p, in one buffer for the usual small packet.
func (k *Keys) Seal(p Packet) ([]byte, error) {
	var iv [ivLength]byte
	if _, err := rand.Read(iv[:]); err != nil {
		return nil, fmt.Errorf("stream encrypt: %w", err)
	}
	return k.seal(p, iv)
}

func (k *Keys) seal(p Packet, iv [ivLength]byte) ([]byte, error) {
	b, err := p.Append(make([]byte, EncryptionOverhead, 128))
	if err != nil {
		return nil, err
	}
	return k.sealInPlace(b, 0, iv), nil
}

// Open decrypts and decodes the STREAM packet of ILP data that arrived in
// an ILP packet of type arrived. Byte fields of its frames alias a fresh
// buffer, not data.
func (k *Keys) Open(data []byte, arrived PacketType) (Packet, error) {
	plain, err := k.Decrypt(nil, data)
	if err != nil {
		return Packet{}, err
	}
	p, err := Decode(plain)
	if err != nil {
		return Packet{}, err
	}
	if p.Type != arrived {
		return Packet{}, fmt.Errorf("%w: %s in a %s", ErrWrongPacketType, p.Type, arrived)
	}
	return p, nil
}

// ErrWrongPacketType is returned when a STREAM packet names another ILP
// packet type than the one it arrived in.
var ErrWrongPacketType = errors.New("stream packet: sent for another ILP packet type")
