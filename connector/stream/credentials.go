// Package stream holds the STREAM protocol pieces of the connector. This
// file: the credentials a receiver hands out (over SPSP or in an incoming
// payment) and later recognises on incoming packets.
package stream

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"
)

// SecretLength is the length of STREAM_SECRET.
const SecretLength = 32

const (
	nonceLength         = 12
	receiptNonceLength  = 16
	receiptSecretLength = 32
	flagReceipts        = 1
)

// ReceiptSetup is what a sender asks receipts to be made with (STREAM
// receipts, interledger RFC 0039).
type ReceiptSetup struct {
	Nonce  [receiptNonceLength]byte
	Secret [receiptSecretLength]byte
}

// Tag is what a connection is for: the wallet address or incoming payment
// that receives, and the receipt setup if any.
type Tag struct {
	ID      uuid.UUID
	Receipt *ReceiptSetup
}

// Credentials makes and opens connection credentials with one secret. The
// destination address carries the tag sealed with AES-GCM under a key
// derived from the secret, so connectors on the path learn nothing, and the
// shared secret is derived from the token, so the receiver stores nothing.
type Credentials struct {
	aead      cipher.AEAD
	sharedKey []byte

	// connections are the destinations found, by address: a connection
	// sends many packets, and opening its token and deriving its keys is
	// most of a packet's work.
	mu          sync.RWMutex
	connections map[string]*Connection
}

// connectionsMax bounds the connections kept; a full cache is emptied and
// fills again.
const connectionsMax = 10_000

// NewCredentials builds credentials from a STREAM_SECRET.
func NewCredentials(secret []byte) (*Credentials, error) {
	if len(secret) != SecretLength {
		return nil, fmt.Errorf("stream secret: %d bytes, want %d", len(secret), SecretLength)
	}
	block, err := aes.NewCipher(derive(secret, "rafiki stream token key"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Credentials{aead: aead, sharedKey: derive(secret, "rafiki stream shared secret"), connections: map[string]*Connection{}}, nil
}

func derive(secret []byte, label string) []byte {
	sum := mac(secret, []byte(label))
	return sum[:]
}

// Generate makes a destination address under base and its shared secret.
func (c *Credentials) Generate(base string, tag Tag) (address string, sharedSecret []byte, err error) {
	plain := append(make([]byte, 0, 16+1+receiptNonceLength+receiptSecretLength), tag.ID[:]...)
	if tag.Receipt != nil {
		plain = append(plain, flagReceipts)
		plain = append(plain, tag.Receipt.Nonce[:]...)
		plain = append(plain, tag.Receipt.Secret[:]...)
	} else {
		plain = append(plain, 0)
	}
	nonce := make([]byte, nonceLength, nonceLength+len(plain)+c.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("stream credentials: %w", err)
	}
	token := c.aead.Seal(nonce, nonce, plain, nil)
	secret := c.shared(token)
	return base + "." + base64.RawURLEncoding.EncodeToString(token), secret[:], nil
}

// ErrNotOurs is returned for an address this receiver did not make.
var ErrNotOurs = errors.New("stream credentials: not a token of this receiver")

// Open reads the tag and shared secret back from a destination address:
// its segment after base.
func (c *Credentials) Open(base, address string) (Tag, []byte, error) {
	rest, ok := strings.CutPrefix(address, base+".")
	if !ok {
		return Tag{}, nil, ErrNotOurs
	}
	segment, _, _ := strings.Cut(rest, ".")
	token, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil || len(token) < nonceLength+c.aead.Overhead() {
		return Tag{}, nil, ErrNotOurs
	}
	plain, err := c.aead.Open(nil, token[:nonceLength], token[nonceLength:], nil)
	if err != nil || len(plain) < 17 {
		return Tag{}, nil, ErrNotOurs
	}
	var tag Tag
	copy(tag.ID[:], plain[:16])
	switch {
	case plain[16] == flagReceipts && len(plain) == 17+receiptNonceLength+receiptSecretLength:
		r := &ReceiptSetup{}
		copy(r.Nonce[:], plain[17:17+receiptNonceLength])
		copy(r.Secret[:], plain[17+receiptNonceLength:])
		tag.Receipt = r
	case plain[16] == 0 && len(plain) == 17:
	default:
		return Tag{}, nil, ErrNotOurs
	}
	secret := c.shared(token)
	return tag, secret[:], nil
}

// tokenSegmentLengthMin is the shortest address segment a token can be:
// the base64 of a nonce, the smallest tag and the AEAD's overhead.
const tokenSegmentLengthMin = (nonceLength + 17 + 16) * 4 / 3

// Connection is a destination address this receiver made, opened: the
// base it was made under, its tag, and what its packets are read and
// answered with.
type Connection struct {
	Base string
	Tag  Tag
	// id names the sender's connection: hex SHA-256 of the destination.
	id     string
	secret []byte
	keys   *Keys
}

func newConnection(base, address string, tag Tag, secret []byte) (*Connection, error) {
	keys, err := NewKeys(secret)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(address))
	return &Connection{Base: base, Tag: tag, id: hex.EncodeToString(sum[:]), secret: secret, keys: keys}, nil
}

// Find opens a destination address whose base it does not know (tenants
// receive under addresses of their own): the first segment that opens as a
// token of this receiver, the base being what precedes it. Segments too
// short to be tokens are not tried, so that addresses of other nodes cost
// little. A destination found is kept, so that the connection's next
// packets find it at once.
func (c *Credentials) Find(address string) (*Connection, bool) {
	c.mu.RLock()
	conn, ok := c.connections[address]
	c.mu.RUnlock()
	if ok {
		return conn, true
	}
	base, tag, secret, ok := c.find(address)
	if !ok {
		return nil, false
	}
	conn, err := newConnection(base, address, tag, secret)
	if err != nil {
		return nil, false
	}
	c.mu.Lock()
	if len(c.connections) >= connectionsMax {
		clear(c.connections)
	}
	c.connections[address] = conn
	c.mu.Unlock()
	return conn, true
}

func (c *Credentials) find(address string) (base string, tag Tag, sharedSecret []byte, ok bool) {
	for i := strings.IndexByte(address, '.'); i >= 0; {
		rest := address[i+1:]
		end := strings.IndexByte(rest, '.')
		segment := rest
		if end >= 0 {
			segment = rest[:end]
		}
		if len(segment) >= tokenSegmentLengthMin {
			if tag, secret, err := c.Open(address[:i], address); err == nil {
				return address[:i], tag, secret, true
			}
		}
		if end < 0 {
			break
		}
		i += 1 + end
	}
	return "", Tag{}, nil, false
}

func (c *Credentials) shared(token []byte) [sha256.Size]byte {
	return mac(c.sharedKey, token)
}
