package stream

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// jsonFrame is a frame as the reference prints it: its type, name and
// fields, integers as decimal strings and bytes as hex.
type jsonFrame map[string]any

type jsonPacket struct {
	Type          uint8       `json:"type"`
	Sequence      string      `json:"sequence"`
	PrepareAmount string      `json:"prepareAmount"`
	Frames        []jsonFrame `json:"frames"`
}

type vectorFile struct {
	Packets []struct {
		Name   string     `json:"name"`
		Hex    string     `json:"hex"`
		Packet jsonPacket `json:"packet"`
	} `json:"packets"`
	DecodeOnly []struct {
		Name         string     `json:"name"`
		Hex          string     `json:"hex"`
		Packet       jsonPacket `json:"packet"`
		ReencodedHex string     `json:"reencodedHex"`
	} `json:"decodeOnly"`
	Invalid []struct {
		Name           string `json:"name"`
		Hex            string `json:"hex"`
		ReferenceError string `json:"referenceError"`
	} `json:"invalid"`
	Crypto struct {
		SharedSecretHex   string `json:"sharedSecretHex"`
		PSKKeyHex         string `json:"pskKeyHex"`
		FulfillmentKeyHex string `json:"fulfillmentKeyHex"`
		IVHex             string `json:"ivHex"`
		Encrypt           struct {
			PlaintextHex string `json:"plaintextHex"`
			DataHex      string `json:"dataHex"`
		} `json:"encrypt"`
		PaddedDataKeyHex string `json:"paddedDataKeyHex"`
		PaddedDataHex    string `json:"paddedDataHex"`
		Encrypted        []struct {
			Name           string `json:"name"`
			PlaintextHex   string `json:"plaintextHex"`
			DataHex        string `json:"dataHex"`
			FulfillmentHex string `json:"fulfillmentHex"`
			ConditionHex   string `json:"conditionHex"`
		} `json:"encrypted"`
	} `json:"crypto"`
}

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Packets) < 40 || len(v.DecodeOnly) < 8 || len(v.Invalid) < 15 || len(v.Crypto.Encrypted) < 4 {
		t.Fatalf("vectors: %d packets, %d decode-only, %d invalid, %d encrypted", len(v.Packets), len(v.DecodeOnly), len(v.Invalid), len(v.Crypto.Encrypted))
	}
	return v
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f jsonFrame) uint(key string) (uint64, error) {
	s, ok := f[key].(string)
	if !ok {
		return 0, fmt.Errorf("field %s: %v", key, f[key])
	}
	return strconv.ParseUint(s, 10, 64)
}

func (f jsonFrame) str(key string) (string, error) {
	s, ok := f[key].(string)
	if !ok {
		return "", fmt.Errorf("field %s: %v", key, f[key])
	}
	return s, nil
}

func (f jsonFrame) small(key string) (uint8, error) {
	n, ok := f[key].(float64)
	if !ok || n < 0 || n > 255 {
		return 0, fmt.Errorf("field %s: %v", key, f[key])
	}
	return uint8(n), nil
}

func (f jsonFrame) bytes(key string) ([]byte, error) {
	s, err := f.str(key)
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(s)
}

// frame builds the Frame the reference's frame stands for; errs collects
// the first bad field.
func (f jsonFrame) frame() (Frame, error) {
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	u := func(k string) uint64 { v, err := f.uint(k); keep(err); return v }
	s := func(k string) string { v, err := f.str(k); keep(err); return v }
	b := func(k string) []byte { v, err := f.bytes(k); keep(err); return v }
	c := func(k string) uint8 { v, err := f.small(k); keep(err); return v }
	t, err := f.small("type")
	if err != nil {
		return nil, err
	}
	var fr Frame
	switch FrameType(t) {
	case TypeConnectionClose:
		fr = ConnectionClose{Code: ErrorCode(c("errorCode")), Message: s("errorMessage")}
	case TypeConnectionNewAddress:
		fr = ConnectionNewAddress{SourceAccount: s("sourceAccount")}
	case TypeConnectionMaxData:
		fr = ConnectionMaxData{MaxOffset: u("maxOffset")}
	case TypeConnectionDataBlocked:
		fr = ConnectionDataBlocked{MaxOffset: u("maxOffset")}
	case TypeConnectionMaxStreamID:
		fr = ConnectionMaxStreamID{MaxStreamID: u("maxStreamId")}
	case TypeConnectionStreamIDBlocked:
		fr = ConnectionStreamIDBlocked{MaxStreamID: u("maxStreamId")}
	case TypeConnectionAssetDetails:
		fr = ConnectionAssetDetails{SourceAssetCode: s("sourceAssetCode"), SourceAssetScale: c("sourceAssetScale")}
	case TypeStreamClose:
		fr = StreamClose{StreamID: u("streamId"), Code: ErrorCode(c("errorCode")), Message: s("errorMessage")}
	case TypeStreamMoney:
		fr = StreamMoney{StreamID: u("streamId"), Shares: u("shares")}
	case TypeStreamMaxMoney:
		fr = StreamMaxMoney{StreamID: u("streamId"), ReceiveMax: u("receiveMax"), TotalReceived: u("totalReceived")}
	case TypeStreamMoneyBlocked:
		fr = StreamMoneyBlocked{StreamID: u("streamId"), SendMax: u("sendMax"), TotalSent: u("totalSent")}
	case TypeStreamData:
		fr = StreamData{StreamID: u("streamId"), Offset: u("offset"), Data: b("data")}
	case TypeStreamMaxData:
		fr = StreamMaxData{StreamID: u("streamId"), MaxOffset: u("maxOffset")}
	case TypeStreamDataBlocked:
		fr = StreamDataBlocked{StreamID: u("streamId"), MaxOffset: u("maxOffset")}
	case TypeStreamReceipt:
		fr = StreamReceipt{StreamID: u("streamId"), Receipt: b("receipt")}
	default:
		return nil, fmt.Errorf("frame type %d", t)
	}
	if name, _ := f["name"].(string); name != fr.Type().String() {
		keep(fmt.Errorf("name %q for %s", name, fr.Type()))
	}
	return fr, first
}

func (j jsonPacket) packet(t testing.TB) Packet {
	t.Helper()
	p := Packet{Version: Version, Type: PacketType(j.Type)}
	var err error
	if p.Sequence, err = strconv.ParseUint(j.Sequence, 10, 64); err != nil {
		t.Fatal(err)
	}
	if p.PrepareAmount, err = strconv.ParseUint(j.PrepareAmount, 10, 64); err != nil {
		t.Fatal(err)
	}
	for _, jf := range j.Frames {
		f, err := jf.frame()
		if err != nil {
			t.Fatal(err)
		}
		p.Frames = append(p.Frames, f)
	}
	return p
}

// TestReferencePackets decodes every packet the reference encoded to the
// packet it describes and encodes it back byte for byte.
func TestReferencePackets(t *testing.T) {
	v := loadVectors(t)
	seen := map[FrameType]bool{}
	for _, c := range v.Packets {
		t.Run(c.Name, func(t *testing.T) {
			buf := unhex(t, c.Hex)
			want := c.Packet.packet(t)
			got, err := Decode(buf)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
			}
			again, err := want.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, buf) {
				t.Fatalf("encoded\n%x\nwant\n%x", again, buf)
			}
			for _, f := range got.Frames {
				seen[f.Type()] = true
			}
		})
	}
	if len(seen) != len(frameTypeNames) {
		t.Errorf("the vectors hold %d of the %d frame types", len(seen), len(frameTypeNames))
	}
}

// TestReferenceDecodeOnly decodes buffers the reference reads but writes
// differently: saturated amounts, unknown frames, padding, leading zeros.
func TestReferenceDecodeOnly(t *testing.T) {
	for _, c := range loadVectors(t).DecodeOnly {
		t.Run(c.Name, func(t *testing.T) {
			got, err := Decode(unhex(t, c.Hex))
			if err != nil {
				t.Fatal(err)
			}
			if want := c.Packet.packet(t); !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
			}
			again, err := got.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, c.ReencodedHex); !bytes.Equal(again, want) {
				t.Fatalf("re-encoded\n%x\nwant\n%x", again, want)
			}
		})
	}
}

// TestReferenceInvalid refuses every buffer the reference refuses.
func TestReferenceInvalid(t *testing.T) {
	for _, c := range loadVectors(t).Invalid {
		t.Run(c.Name, func(t *testing.T) {
			if p, err := Decode(unhex(t, c.Hex)); err == nil {
				t.Fatalf("decoded %+v; the reference said %q", p, c.ReferenceError)
			}
		})
	}
}

func vectorKeys(t testing.TB, v vectorFile) *Keys {
	t.Helper()
	k, err := NewKeys(unhex(t, v.Crypto.SharedSecretHex))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func fixedIV(t testing.TB, s string) [ivLength]byte {
	t.Helper()
	var iv [ivLength]byte
	if n := copy(iv[:], unhex(t, s)); n != ivLength {
		t.Fatalf("IV of %d bytes", n)
	}
	return iv
}

// TestReferenceCrypto derives the keys the reference derived, encrypts to
// its bytes with its IV, decrypts them, and makes its fulfillments and
// conditions.
func TestReferenceCrypto(t *testing.T) {
	v := loadVectors(t)
	secret := unhex(t, v.Crypto.SharedSecretHex)
	if got := derive(secret, encryptionLabel); hex.EncodeToString(got) != v.Crypto.PSKKeyHex {
		t.Errorf("psk key %x, want %s", got, v.Crypto.PSKKeyHex)
	}
	k := vectorKeys(t, v)
	if hex.EncodeToString(k.fulfillmentKey[:]) != v.Crypto.FulfillmentKeyHex {
		t.Errorf("fulfillment key %x, want %s", k.fulfillmentKey, v.Crypto.FulfillmentKeyHex)
	}
	iv := fixedIV(t, v.Crypto.IVHex)
	plain, want := unhex(t, v.Crypto.Encrypt.PlaintextHex), unhex(t, v.Crypto.Encrypt.DataHex)
	if got, err := k.encrypt(nil, iv, plain); err != nil || !bytes.Equal(got, want) {
		t.Errorf("encrypt %x %v, want %x", got, err, want)
	}
	if got, err := k.Decrypt(nil, want); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("decrypt %x %v", got, err)
	}
	for _, c := range v.Crypto.Encrypted {
		t.Run(c.Name, func(t *testing.T) {
			data, plain := unhex(t, c.DataHex), unhex(t, c.PlaintextHex)
			p, err := Decode(plain)
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := k.seal(p, iv)
			if err != nil || !bytes.Equal(sealed, data) {
				t.Fatalf("sealed %x %v, want %x", sealed, err, data)
			}
			opened, err := k.Open(data, p.Type)
			if err != nil || !reflect.DeepEqual(opened, p) {
				t.Fatalf("opened %+v %v", opened, err)
			}
			f := k.Fulfillment(data)
			cond := Condition(f)
			if hex.EncodeToString(f[:]) != c.FulfillmentHex || hex.EncodeToString(cond[:]) != c.ConditionHex {
				t.Fatalf("fulfillment %x condition %x", f, cond)
			}
		})
	}
}

// TestReferencePadding opens a packet the reference padded with zero bytes
// to 100 bytes of data.
func TestReferencePadding(t *testing.T) {
	v := loadVectors(t)
	k, err := newKeys(unhex(t, v.Crypto.PaddedDataKeyHex), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Open(unhex(t, v.Crypto.PaddedDataHex), TypeFulfill)
	if err != nil {
		t.Fatal(err)
	}
	want := Packet{Version: Version, Type: TypeFulfill, Sequence: 9, PrepareAmount: 5, Frames: []Frame{StreamMoney{StreamID: 1, Shares: 2}}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("opened %+v", p)
	}
}
