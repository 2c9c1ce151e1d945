package ilp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/connector/ilp/oer"
)

var testExpiry = time.Date(2026, 1, 2, 3, 4, 5, 678000000, time.UTC)

// mustEncodePrepare encodes p and lets edit change the bytes.
func mustEncodePrepare(t *testing.T, p Prepare, edit func([]byte)) []byte {
	t.Helper()
	b, err := EncodePrepare(p)
	if err != nil {
		t.Fatal(err)
	}
	edit(b)
	return b
}

// rewrap replaces a packet's envelope contents.
func rewrap(b []byte, contents func([]byte) []byte) []byte {
	r := oer.NewReader(b[1:])
	c, _ := r.VarOctetString(1 << 20)
	c = contents(append([]byte(nil), c...))
	return oer.AppendVarOctetString([]byte{b[0]}, c)
}

func TestDecodeRefuses(t *testing.T) {
	prepare := mustEncodePrepare(t, Prepare{Amount: 1, ExpiresAt: testExpiry, Destination: "g.a", Data: []byte("xy")}, func([]byte) {})
	reject, err := EncodeReject(Reject{Code: "F00", TriggeredBy: "g.a", Message: "m"})
	if err != nil {
		t.Fatal(err)
	}
	fulfill, err := EncodeFulfill(Fulfill{Data: []byte("xy")})
	if err != nil {
		t.Fatal(err)
	}
	decode := map[Type]func([]byte) error{
		TypePrepare: func(b []byte) error { _, err := DecodePrepare(b); return err },
		TypeFulfill: func(b []byte) error { _, err := DecodeFulfill(b); return err },
		TypeReject:  func(b []byte) error { _, err := DecodeReject(b); return err },
	}
	replaceTail := func(n int, tail []byte) func([]byte) []byte {
		return func(c []byte) []byte { return append(c[:len(c)-n], tail...) }
	}
	cases := []struct {
		name   string
		typ    Type
		packet []byte
		err    string
	}{
		{"a byte after the envelope", TypePrepare, append(bytes.Clone(prepare), 0), "after the envelope"},
		{"envelope longer than its input", TypeFulfill, fulfill[:len(fulfill)-1], "envelope"},
		{"expiry month 13", TypePrepare, mustEncodePrepare(t, Prepare{ExpiresAt: testExpiry, Destination: "g.a"}, func(b []byte) { copy(b[2+8+4:], "13") }), "expiresAt"},
		{"expiry not digits", TypePrepare, mustEncodePrepare(t, Prepare{ExpiresAt: testExpiry, Destination: "g.a"}, func(b []byte) { b[2+8+16] = 'Z' }), "expiresAt"},
		{"data of 32768 bytes", TypePrepare, rewrap(prepare, replaceTail(3, oer.AppendVarOctetString(nil, make([]byte, DataBytesMax+1)))), "data"},
		{"no data field", TypePrepare, rewrap(prepare, replaceTail(3, nil)), "data"},
		{"reject code not ASCII", TypeReject, rewrap(reject, func(c []byte) []byte { c[0] = 0xc3; return c }), "not ASCII"},
		{"reject message not UTF-8", TypeReject, rewrap(reject, replaceTail(3, []byte{1, 0xff, 0})), "not UTF-8"},
		{"reject message of 8192 characters", TypeReject, rewrap(reject, replaceTail(3, append(oer.AppendVarString(nil, strings.Repeat("m", 8192)), 0))), "8192 characters"},
		{"reject message over the byte bound", TypeReject, rewrap(reject, replaceTail(3, append(oer.AppendVarString(nil, strings.Repeat("m", 4*8191+1)), 0))), "exceeds the maximum"},
		{"triggeredBy of 1024 bytes", TypeReject, rewrap(reject, func(c []byte) []byte {
			return append(append([]byte("F00"), oer.AppendVarString(nil, "g."+strings.Repeat("a", 1022))...), 1, 'm', 0)
		}), "triggeredBy"},
		{"fulfill without data", TypeFulfill, rewrap(fulfill, replaceTail(3, nil)), "data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := decode[c.typ](c.packet)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want ErrMalformed mentioning %q", err, c.err)
			}
			if !strings.HasPrefix(err.Error(), "decode ILP "+c.typ.String()) {
				t.Fatalf("error %q does not say what it decoded", err)
			}
		})
	}
}

// TestExtensionBytesIgnored: RFC 30 has decoders ignore bytes after the
// last field inside the envelope.
func TestExtensionBytesIgnored(t *testing.T) {
	want := Prepare{Amount: 9, ExpiresAt: testExpiry, Destination: "g.a", Data: []byte("xy")}
	b := mustEncodePrepare(t, want, func([]byte) {})
	got, err := DecodePrepare(rewrap(b, func(c []byte) []byte { return append(c, 1, 2, 3) }))
	if err != nil {
		t.Fatal(err)
	}
	checkPrepare(t, got, want)
	f, err := DecodeFulfill(rewrap([]byte{13, 34, 32: 0, 33: 0, 34: 0, 35: 0}, func(c []byte) []byte { return append(c, 9) }))
	if err != nil || f.Data != nil {
		t.Fatalf("fulfill with an extension byte: %+v, %v", f, err)
	}
}

func TestEncodeRefuses(t *testing.T) {
	cases := []struct {
		name   string
		encode func() error
		err    string
	}{
		{"prepare with an invalid destination", func() error {
			_, err := EncodePrepare(Prepare{ExpiresAt: testExpiry, Destination: "g"})
			return err
		}, "destination"},
		{"prepare with 32768 bytes of data", func() error {
			_, err := EncodePrepare(Prepare{ExpiresAt: testExpiry, Destination: "g.a", Data: make([]byte, DataBytesMax+1)})
			return err
		}, "data of 32768 bytes"},
		{"fulfill with 32768 bytes of data", func() error {
			_, err := EncodeFulfill(Fulfill{Data: make([]byte, DataBytesMax+1)})
			return err
		}, "data of 32768 bytes"},
		{"reject with a two-letter code", func() error { _, err := EncodeReject(Reject{Code: "F0"}); return err }, "code"},
		{"reject with a non-ASCII code", func() error { _, err := EncodeReject(Reject{Code: "Fé"}); return err }, "not ASCII"},
		{"reject with an invalid triggeredBy", func() error {
			_, err := EncodeReject(Reject{Code: "F00", TriggeredBy: "g..a"})
			return err
		}, "triggeredBy"},
		{"reject with a message not UTF-8", func() error {
			_, err := EncodeReject(Reject{Code: "F00", Message: "\xff"})
			return err
		}, "not UTF-8"},
		{"reject with a message of 8192 characters", func() error {
			_, err := EncodeReject(Reject{Code: "F00", Message: strings.Repeat("é", 8192)})
			return err
		}, "8192 characters"},
		{"reject with 32768 bytes of data", func() error {
			_, err := EncodeReject(Reject{Code: "F00", Data: make([]byte, DataBytesMax+1)})
			return err
		}, "data of 32768 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.encode()
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), "encode ILP ") {
				t.Fatalf("error %v, want one mentioning %q", err, c.err)
			}
		})
	}
}

func TestDecodeCopiesData(t *testing.T) {
	b := mustEncodePrepare(t, Prepare{ExpiresAt: testExpiry, Destination: "g.a", Data: []byte("xy")}, func([]byte) {})
	p, err := DecodePrepare(b)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] = 'z'
	if string(p.Data) != "xy" {
		t.Fatalf("data %q changed with the input", p.Data)
	}
}

func TestAmountTooLarge(t *testing.T) {
	a := AmountTooLarge{ReceivedAmount: 1 << 40, MaximumAmount: 7}
	b := EncodeAmountTooLarge(a)
	if len(b) != 16 {
		t.Fatalf("%d bytes, want 16", len(b))
	}
	got, err := DecodeAmountTooLarge(append(b, 0xee))
	if err != nil || got != a {
		t.Fatalf("%+v, %v; want %+v", got, err, a)
	}
	for n := range 16 {
		if _, err := DecodeAmountTooLarge(b[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%d bytes: %v, want ErrMalformed", n, err)
		}
	}
}
