package ilp

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// vectorFile is testdata/vectors.json, written by scripts/ilp-vectors.mjs
// with the reference JavaScript implementations.
type vectorFile struct {
	Prepares        []prepareVector `json:"prepares"`
	Fulfills        []fulfillVector `json:"fulfills"`
	Rejects         []rejectVector  `json:"rejects"`
	AmountsTooLarge []struct {
		Name           string `json:"name"`
		Data           []byte `json:"data"`
		ReceivedAmount string `json:"receivedAmount"`
		MaximumAmount  string `json:"maximumAmount"`
	} `json:"amountsTooLarge"`
	ILDCPRequests  []prepareVector `json:"ildcpRequests"`
	ILDCPResponses []struct {
		Name          string `json:"name"`
		Packet        []byte `json:"packet"`
		ClientAddress string `json:"clientAddress"`
		AssetScale    uint8  `json:"assetScale"`
		AssetCode     string `json:"assetCode"`
	} `json:"ildcpResponses"`
	Refused []struct {
		Name    string `json:"name"`
		Decoder string `json:"decoder"`
		Packet  []byte `json:"packet"`
	} `json:"refused"`
}

type prepareVector struct {
	Name               string `json:"name"`
	Packet             []byte `json:"packet"`
	Amount             string `json:"amount"`
	ExpiresAt          string `json:"expiresAt"`
	ExecutionCondition []byte `json:"executionCondition"`
	Destination        string `json:"destination"`
	Data               []byte `json:"data"`
}

type fulfillVector struct {
	Name        string `json:"name"`
	Packet      []byte `json:"packet"`
	Fulfillment []byte `json:"fulfillment"`
	Data        []byte `json:"data"`
}

type rejectVector struct {
	Name        string `json:"name"`
	Packet      []byte `json:"packet"`
	Code        string `json:"code"`
	TriggeredBy string `json:"triggeredBy"`
	Message     string `json:"message"`
	Data        []byte `json:"data"`
}

func loadVectors(tb testing.TB) vectorFile {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		tb.Fatal(err)
	}
	if len(v.Prepares) < 10 || len(v.Fulfills) < 3 || len(v.Rejects) < 10 || len(v.ILDCPRequests) == 0 || len(v.ILDCPResponses) == 0 || len(v.Refused) < 10 {
		tb.Fatalf("too few vectors: %d prepares, %d fulfills, %d rejects, %d IL-DCP requests, %d responses, %d refused",
			len(v.Prepares), len(v.Fulfills), len(v.Rejects), len(v.ILDCPRequests), len(v.ILDCPResponses), len(v.Refused))
	}
	return v
}

func (v prepareVector) prepare(t *testing.T) Prepare {
	t.Helper()
	amount, err := strconv.ParseUint(v.Amount, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	expiresAt, err := time.Parse(time.RFC3339Nano, v.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	p := Prepare{Amount: amount, ExpiresAt: expiresAt, Destination: v.Destination, Data: v.Data}
	p.ExecutionCondition = bytes32(t, v.ExecutionCondition)
	return p
}

func bytes32(t *testing.T, b []byte) [32]byte {
	t.Helper()
	if len(b) != 32 {
		t.Fatalf("%d bytes, want 32", len(b))
	}
	return [32]byte(b)
}

func checkPrepare(t *testing.T, got, want Prepare) {
	t.Helper()
	if got.Amount != want.Amount || !got.ExpiresAt.Equal(want.ExpiresAt) || got.ExecutionCondition != want.ExecutionCondition ||
		got.Destination != want.Destination || !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	if got.ExpiresAt.Location() != time.UTC {
		t.Fatalf("expiresAt in %s, want UTC", got.ExpiresAt.Location())
	}
}

func TestPrepareVectors(t *testing.T) {
	for _, v := range loadVectors(t).Prepares {
		t.Run(v.Name, func(t *testing.T) {
			want := v.prepare(t)
			got, err := DecodePrepare(v.Packet)
			if err != nil {
				t.Fatal(err)
			}
			checkPrepare(t, got, want)
			for _, p := range []Prepare{want, got} {
				b, err := EncodePrepare(p)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, v.Packet) {
					t.Fatalf("encoded\n%x\nwant\n%x", b, v.Packet)
				}
			}
		})
	}
}

func TestFulfillVectors(t *testing.T) {
	for _, v := range loadVectors(t).Fulfills {
		t.Run(v.Name, func(t *testing.T) {
			want := Fulfill{Fulfillment: bytes32(t, v.Fulfillment), Data: v.Data}
			got, err := DecodeFulfill(v.Packet)
			if err != nil {
				t.Fatal(err)
			}
			if got.Fulfillment != want.Fulfillment || !bytes.Equal(got.Data, want.Data) {
				t.Fatalf("decoded %+v, want %+v", got, want)
			}
			for _, f := range []Fulfill{want, got} {
				b, err := EncodeFulfill(f)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, v.Packet) {
					t.Fatalf("encoded\n%x\nwant\n%x", b, v.Packet)
				}
			}
		})
	}
}

func TestRejectVectors(t *testing.T) {
	for _, v := range loadVectors(t).Rejects {
		t.Run(v.Name, func(t *testing.T) {
			want := Reject{Code: v.Code, TriggeredBy: v.TriggeredBy, Message: v.Message, Data: v.Data}
			got, err := DecodeReject(v.Packet)
			if err != nil {
				t.Fatal(err)
			}
			if got.Code != want.Code || got.TriggeredBy != want.TriggeredBy || got.Message != want.Message || !bytes.Equal(got.Data, want.Data) {
				t.Fatalf("decoded %+v, want %+v", got, want)
			}
			for _, rj := range []Reject{want, got} {
				b, err := EncodeReject(rj)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, v.Packet) {
					t.Fatalf("encoded\n%x\nwant\n%x", b, v.Packet)
				}
			}
		})
	}
}

func TestAmountTooLargeVectors(t *testing.T) {
	for _, v := range loadVectors(t).AmountsTooLarge {
		t.Run(v.Name, func(t *testing.T) {
			received, err := strconv.ParseUint(v.ReceivedAmount, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			maximum, err := strconv.ParseUint(v.MaximumAmount, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			want := AmountTooLarge{ReceivedAmount: received, MaximumAmount: maximum}
			got, err := DecodeAmountTooLarge(v.Data)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("decoded %+v, want %+v", got, want)
			}
			if b := EncodeAmountTooLarge(want); !bytes.Equal(b, v.Data) {
				t.Fatalf("encoded %x, want %x", b, v.Data)
			}
		})
	}
}

func TestILDCPRequestVectors(t *testing.T) {
	for _, v := range loadVectors(t).ILDCPRequests {
		t.Run(v.Name, func(t *testing.T) {
			want := v.prepare(t)
			got, err := DecodePrepare(v.Packet)
			if err != nil {
				t.Fatal(err)
			}
			checkPrepare(t, got, want)
			if !IsILDCPRequest(got) || got.ExecutionCondition != ILDCPCondition || got.Amount != 0 {
				t.Fatalf("not an IL-DCP request: %+v", got)
			}
			b, err := EncodePrepare(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, v.Packet) {
				t.Fatalf("encoded\n%x\nwant\n%x", b, v.Packet)
			}
		})
	}
}

func TestILDCPResponseVectors(t *testing.T) {
	for _, v := range loadVectors(t).ILDCPResponses {
		t.Run(v.Name, func(t *testing.T) {
			want := ILDCPResponse{ClientAddress: v.ClientAddress, AssetScale: v.AssetScale, AssetCode: v.AssetCode}
			f, err := DecodeFulfill(v.Packet)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeILDCPResponse(f)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("decoded %+v, want %+v", got, want)
			}
			f, err = EncodeILDCPResponse(want)
			if err != nil {
				t.Fatal(err)
			}
			b, err := EncodeFulfill(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, v.Packet) {
				t.Fatalf("encoded\n%x\nwant\n%x", b, v.Packet)
			}
		})
	}
}

// TestRefusedVectors decodes the packets the reference decoders refuse.
func TestRefusedVectors(t *testing.T) {
	decoders := map[string]func([]byte) error{
		"prepare": func(b []byte) error { _, err := DecodePrepare(b); return err },
		"fulfill": func(b []byte) error { _, err := DecodeFulfill(b); return err },
		"reject":  func(b []byte) error { _, err := DecodeReject(b); return err },
		"ildcpResponse": func(b []byte) error {
			f, err := DecodeFulfill(b)
			if err != nil {
				return err
			}
			_, err = DecodeILDCPResponse(f)
			return err
		},
	}
	for _, v := range loadVectors(t).Refused {
		t.Run(v.Name, func(t *testing.T) {
			decode, ok := decoders[v.Decoder]
			if !ok {
				t.Fatalf("unknown decoder %q", v.Decoder)
			}
			err := decode(v.Packet)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want one wrapping ErrMalformed", err)
			}
		})
	}
}

func TestDecodeAnyVectors(t *testing.T) {
	v := loadVectors(t)
	cases := map[Type][][]byte{}
	for _, p := range v.Prepares {
		cases[TypePrepare] = append(cases[TypePrepare], p.Packet)
	}
	for _, f := range v.Fulfills {
		cases[TypeFulfill] = append(cases[TypeFulfill], f.Packet)
	}
	for _, r := range v.Rejects {
		cases[TypeReject] = append(cases[TypeReject], r.Packet)
	}
	for want, packets := range cases {
		for _, b := range packets {
			p, err := DecodeAny(b)
			if err != nil {
				t.Fatalf("%s: %v", want, err)
			}
			if p.Type() != want {
				t.Fatalf("type %s, want %s", p.Type(), want)
			}
		}
	}
	for _, b := range [][]byte{nil, {0}, {15, 0}, {12}} {
		if _, err := DecodeAny(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("DecodeAny(%x): error %v, want ErrMalformed", b, err)
		}
	}
}
