package ilp

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestServeILDCP(t *testing.T) {
	request := Prepare{ExpiresAt: time.Now().Add(time.Minute), ExecutionCondition: ILDCPCondition, Destination: ILDCPDestination}
	f, err := ServeILDCP(request, "test.rafiki.peer-b", "USD", 2)
	if err != nil {
		t.Fatal(err)
	}
	if f.Fulfillment != ILDCPFulfillment {
		t.Fatalf("fulfillment %x", f.Fulfillment)
	}
	resp, err := DecodeILDCPResponse(f)
	if err != nil {
		t.Fatal(err)
	}
	if resp != (ILDCPResponse{ClientAddress: "test.rafiki.peer-b", AssetScale: 2, AssetCode: "USD"}) {
		t.Fatalf("response %+v", resp)
	}

	wrongCondition := request
	wrongCondition.ExecutionCondition[0] ^= 1
	expired := request
	expired.ExpiresAt = time.Now().Add(-time.Second)
	elsewhere := request
	elsewhere.Destination = "peer.route.control"
	cases := []struct {
		name     string
		request  Prepare
		address  string
		code     string
		notILDCP bool
		err      string
	}{
		{"another destination", elsewhere, "g.a", "USD", true, "destination"},
		{"another condition", wrongCondition, "g.a", "USD", true, "condition"},
		{"expired", expired, "g.a", "USD", false, "expired"},
		{"invalid client address", request, "g", "USD", false, "clientAddress"},
		{"asset code not UTF-8", request, "g.a", "\xff", false, "asset code"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ServeILDCP(c.request, c.address, c.code, 2)
			if err == nil || !strings.Contains(err.Error(), c.err) || errors.Is(err, ErrNotILDCP) != c.notILDCP {
				t.Fatalf("error %v, want one mentioning %q (not IL-DCP: %v)", err, c.err, c.notILDCP)
			}
		})
	}
}

func TestDecodeILDCPResponseRefuses(t *testing.T) {
	good, err := EncodeILDCPResponse(ILDCPResponse{ClientAddress: "g.a", AssetScale: 2, AssetCode: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeILDCPResponse(Fulfill{Fulfillment: good.Fulfillment, Data: append(good.Data, 0xee)}); err != nil {
		t.Fatalf("an extension byte: %v", err)
	}
	for n := range len(good.Data) {
		if _, err := DecodeILDCPResponse(Fulfill{Data: good.Data[:n]}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%d bytes of data: %v, want ErrMalformed", n, err)
		}
	}
	if _, err := DecodeILDCPResponse(Fulfill{Data: []byte("\x03g.a\x02\x01\xff")}); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("asset code not UTF-8: %v", err)
	}
}

func TestILDCPCondition(t *testing.T) {
	// sha256 of 32 zero bytes, as RFC 31's peer protocol condition.
	const want = "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
	if got := strings.ToLower(hexString(ILDCPCondition[:])); got != want {
		t.Fatalf("condition %s, want %s", got, want)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}
