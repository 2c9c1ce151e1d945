package stream

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/rafiki-go/rafiki/testkit"
)

// TestSharedPacketFixtures decodes the official RFC 29 fixtures: each to
// the packet it describes, and each but the decode-only ones back to its
// bytes.
func TestSharedPacketFixtures(t *testing.T) {
	var fixtures []struct {
		Name   string `json:"name"`
		Packet struct {
			Sequence   string      `json:"sequence"`
			PacketType uint8       `json:"packetType"`
			Amount     string      `json:"amount"`
			Frames     []jsonFrame `json:"frames"`
		} `json:"packet"`
		Buffer     string `json:"buffer"`
		DecodeOnly bool   `json:"decode_only"`
	}
	if err := json.Unmarshal(testkit.Shared(t, "research/vectors/StreamPacketFixtures.json"), &fixtures); err != nil {
		t.Fatal(err)
	}
	decodeOnly := 0
	for _, c := range fixtures {
		t.Run(c.Name, func(t *testing.T) {
			// The fixtures give bytes in base64; the project's vectors in hex.
			for _, f := range c.Packet.Frames {
				for _, k := range []string{"data", "receipt"} {
					if s, ok := f[k].(string); ok {
						b, err := base64.StdEncoding.DecodeString(s)
						if err != nil {
							t.Fatal(err)
						}
						f[k] = hex.EncodeToString(b)
					}
				}
			}
			want := jsonPacket{Type: c.Packet.PacketType, Sequence: c.Packet.Sequence, PrepareAmount: c.Packet.Amount, Frames: c.Packet.Frames}.packet(t)
			buf, err := base64.StdEncoding.DecodeString(c.Buffer)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(buf)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
			}
			if c.DecodeOnly {
				decodeOnly++
				return
			}
			again, err := got.Encode()
			if err != nil || !bytes.Equal(again, buf) {
				t.Fatalf("encoded %x %v, want %x", again, err, buf)
			}
		})
	}
	if len(fixtures) != 53 || decodeOnly != 2 {
		t.Errorf("%d fixtures, %d decode-only; want 53 and 2", len(fixtures), decodeOnly)
	}
}

// TestSharedStreamCrypto checks the keys, fulfillment, condition and
// encrypted packets of the shared STREAM vectors, and the constants they
// took from the reference's own tests.
func TestSharedStreamCrypto(t *testing.T) {
	var v struct {
		StreamCrypto struct {
			FromTests        map[string]string `json:"fromTests"`
			SharedSecretHex  string            `json:"sharedSecretHex"`
			PSKEncryptionKey struct{ Hex string }
			FulfillmentKey   struct{ Hex string }
			Fulfillment      struct {
				PrepareDataHex string `json:"prepareDataHex"`
				Hex            string
			}
			Condition struct{ Hex string }
			Encrypt   struct {
				Plaintext string
				IVHex     string `json:"ivHex"`
				OutputHex string `json:"outputHex"`
			}
		} `json:"streamCrypto"`
		StreamPackets []struct {
			Name          string `json:"name"`
			ILPPacketType uint8  `json:"ilpPacketType"`
			PlaintextHex  string `json:"plaintextHex"`
			EncryptedHex  string `json:"encryptedHex"`
			PSKKeyHex     string `json:"pskKeyHex"`
			IVHex         string `json:"ivHex"`
		} `json:"streamPackets"`
	}
	if err := json.Unmarshal(testkit.Shared(t, "research/vectors/ilp-stream-vectors.json"), &v); err != nil {
		t.Fatal(err)
	}
	c := v.StreamCrypto
	secret := unhex(t, c.SharedSecretHex)
	if got := derive(secret, encryptionLabel); hex.EncodeToString(got) != c.PSKEncryptionKey.Hex {
		t.Errorf("psk key %x, want %s", got, c.PSKEncryptionKey.Hex)
	}
	k, err := NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(k.fulfillmentKey[:]) != c.FulfillmentKey.Hex {
		t.Errorf("fulfillment key %x, want %s", k.fulfillmentKey, c.FulfillmentKey.Hex)
	}
	f := k.Fulfillment(unhex(t, c.Fulfillment.PrepareDataHex))
	cond := Condition(f)
	if hex.EncodeToString(f[:]) != c.Fulfillment.Hex || hex.EncodeToString(cond[:]) != c.Condition.Hex {
		t.Errorf("fulfillment %x condition %x", f, cond)
	}
	out, err := k.encrypt(nil, fixedIV(t, c.Encrypt.IVHex), []byte(c.Encrypt.Plaintext))
	if err != nil || hex.EncodeToString(out) != c.Encrypt.OutputHex {
		t.Errorf("encrypt %x %v, want %s", out, err, c.Encrypt.OutputHex)
	}

	b64 := base64.StdEncoding.EncodeToString
	foo := []byte("foo")
	var zero Keys
	zf := zero.Fulfillment(foo)
	for name, got := range map[string]string{
		`pskKey(secret="foo")`:               b64(derive(foo, encryptionLabel)),
		`fulfillmentKey(secret="foo")`:       b64(derive(foo, fulfillmentLabel)),
		`fulfillment(key=32x00, data="foo")`: b64(zf[:]),
		`sha256(32x00)`:                      func() string { c := Condition([32]byte{}); return b64(c[:]) }(),
	} {
		if want, ok := c.FromTests[name]; !ok || got != want {
			t.Errorf("%s = %s, want %q", name, got, want)
		}
	}
	const decryptCase = "decrypt(key=AOStyoBvoK9/OFhdmf2TzQRrJsCkxH/cj49Ya7RFOEc=, ct=Y1UiXpDA1GwAv+h95CEv67O49MOAJQrnYEQMrOFsbv6rrlE=)"
	key, _ := base64.StdEncoding.DecodeString("AOStyoBvoK9/OFhdmf2TzQRrJsCkxH/cj49Ya7RFOEc=")
	ct, _ := base64.StdEncoding.DecodeString("Y1UiXpDA1GwAv+h95CEv67O49MOAJQrnYEQMrOFsbv6rrlE=")
	dk, err := newKeys(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := dk.Decrypt(nil, ct); err != nil || string(plain) != c.FromTests[decryptCase] {
		t.Errorf("%s = %q %v", decryptCase, plain, err)
	}

	if len(v.StreamPackets) != 4 {
		t.Fatalf("%d encrypted packets, want 4", len(v.StreamPackets))
	}
	for _, sp := range v.StreamPackets {
		t.Run(sp.Name, func(t *testing.T) {
			pk, err := newKeys(unhex(t, sp.PSKKeyHex), nil)
			if err != nil {
				t.Fatal(err)
			}
			data, plain := unhex(t, sp.EncryptedHex), unhex(t, sp.PlaintextHex)
			p, err := pk.Open(data, PacketType(sp.ILPPacketType))
			if err != nil {
				t.Fatal(err)
			}
			again, err := p.Encode()
			if err != nil || !bytes.Equal(again, plain) {
				t.Fatalf("encoded %x %v, want %x", again, err, plain)
			}
			sealed, err := pk.seal(p, fixedIV(t, sp.IVHex))
			if err != nil || !bytes.Equal(sealed, data) {
				t.Fatalf("sealed %x %v, want %x", sealed, err, data)
			}
		})
	}
}
