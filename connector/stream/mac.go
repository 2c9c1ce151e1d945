package stream

import "crypto/sha256"

// mac is HMAC-SHA256 (RFC 2104) written out so that the per-packet
// fulfillment and key derivation cost no heap allocations, which
// crypto/hmac's hash.Hash values do.
func mac(key, message []byte) [sha256.Size]byte {
	var pad [sha256.BlockSize]byte
	if len(key) > sha256.BlockSize {
		sum := sha256.Sum256(key)
		copy(pad[:], sum[:])
	} else {
		copy(pad[:], key)
	}
	for i := range pad {
		pad[i] ^= 0x36
	}
	h := sha256.New()
	h.Write(pad[:])
	h.Write(message)
	var inner [sha256.Size]byte
	h.Sum(inner[:0])
	for i := range pad {
		pad[i] ^= 0x36 ^ 0x5c
	}
	h.Reset()
	h.Write(pad[:])
	h.Write(inner[:])
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
