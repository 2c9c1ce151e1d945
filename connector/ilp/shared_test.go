package ilp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/testkit"
)

// TestSharedVectors decodes every ILP and IL-DCP case of the shared
// research vectors, compares the fields they list and re-encodes them
// byte for byte.
func TestSharedVectors(t *testing.T) {
	var shared struct {
		ILP []struct {
			Name string            `json:"name"`
			Type Type              `json:"type"`
			Hex  string            `json:"hex"`
			JSON map[string]string `json:"json"`
		} `json:"ilp"`
		ILDCP []struct {
			Name string          `json:"name"`
			Hex  string          `json:"hex"`
			JSON json.RawMessage `json:"json"`
		} `json:"ildcp"`
	}
	if err := json.Unmarshal(testkit.Shared(t, "research/vectors/ilp-stream-vectors.json"), &shared); err != nil {
		t.Fatal(err)
	}
	if len(shared.ILP) == 0 || len(shared.ILDCP) == 0 {
		t.Fatalf("%d ILP and %d IL-DCP cases", len(shared.ILP), len(shared.ILDCP))
	}
	for _, c := range shared.ILP {
		t.Run(c.Name, func(t *testing.T) {
			b, err := hex.DecodeString(c.Hex)
			if err != nil {
				t.Fatal(err)
			}
			p, err := DecodeAny(b)
			if err != nil {
				t.Fatal(err)
			}
			if p.Type() != c.Type {
				t.Fatalf("type %s, want %s", p.Type(), c.Type)
			}
			var got map[string]string
			var encoded []byte
			switch p := p.(type) {
			case Prepare:
				got = map[string]string{"amount": strconv.FormatUint(p.Amount, 10), "expiresAt": p.ExpiresAt.Format("2006-01-02T15:04:05.000Z07:00"),
					"executionCondition": b64(p.ExecutionCondition[:]), "destination": p.Destination, "data": b64(p.Data)}
				encoded, err = EncodePrepare(p)
			case Fulfill:
				got = map[string]string{"fulfillment": b64(p.Fulfillment[:]), "data": b64(p.Data)}
				encoded, err = EncodeFulfill(p)
			case Reject:
				got = map[string]string{"code": p.Code, "triggeredBy": p.TriggeredBy, "message": p.Message, "data": b64(p.Data)}
				encoded, err = EncodeReject(p)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(encoded, b) {
				t.Fatalf("re-encoded\n%x\nwant\n%x", encoded, b)
			}
			for k, want := range c.JSON {
				if got[k] != want {
					t.Fatalf("%s = %q, want %q", k, got[k], want)
				}
			}
		})
	}
	for _, c := range shared.ILDCP {
		t.Run("ildcp "+c.Name, func(t *testing.T) {
			b, err := hex.DecodeString(c.Hex)
			if err != nil {
				t.Fatal(err)
			}
			p, err := DecodeAny(b)
			if err != nil {
				t.Fatal(err)
			}
			switch p := p.(type) {
			case Prepare:
				if !IsILDCPRequest(p) || p.ExecutionCondition != ILDCPCondition {
					t.Fatalf("not an IL-DCP request: %+v", p)
				}
				if _, err := ServeILDCP(Prepare{ExpiresAt: time.Now().Add(time.Minute), ExecutionCondition: p.ExecutionCondition, Destination: p.Destination}, "g.a", "USD", 2); err != nil {
					t.Fatal(err)
				}
			case Fulfill:
				var want ILDCPResponse
				if err := json.Unmarshal(c.JSON, &want); err != nil {
					t.Fatal(err)
				}
				got, err := DecodeILDCPResponse(p)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("response %+v, want %+v", got, want)
				}
				f, err := EncodeILDCPResponse(got)
				if err != nil {
					t.Fatal(err)
				}
				encoded, err := EncodeFulfill(f)
				if err != nil || !bytes.Equal(encoded, b) {
					t.Fatalf("re-encoded %x, %v; want %x", encoded, err, b)
				}
			default:
				t.Fatalf("unexpected %s", p.Type())
			}
		})
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
