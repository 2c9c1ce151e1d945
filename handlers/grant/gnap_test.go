package grant

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/rafiki-go/rafiki/events"
)

// TestFinishHash uses the inputs of GNAP's interaction hash example (RFC
// 9635 §4.2.3). The expected value was computed outside Go:
//
//	printf 'VJLO6A4CATR0KRO\nMBDOFXG4Y5CVJCX821LH\n4IFWWIKYB2PQ6U56NL1\nhttps://server.example.com/tx' |
//	  openssl dgst -sha256 -binary | base64
//
// Rafiki sends standard base64 with padding; the RFC writes the same digest
// in base64url.
func TestFinishHash(t *testing.T) {
	got := FinishHash("VJLO6A4CATR0KRO", "MBDOFXG4Y5CVJCX821LH", "4IFWWIKYB2PQ6U56NL1", "https://server.example.com/tx")
	if want := "x+gguKWTj8rQf7d7i3w3UhzvuJ5bpOlKyAlVpLxBffY="; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	for _, tc := range []struct{ base, want string }{
		{"https://auth.example", "https://auth.example/" + tenantID},
		{"https://auth.example/", "https://auth.example/" + tenantID},
		{"https://auth.example/gnap", "https://auth.example/gnap/" + tenantID},
	} {
		if got := GrantEndpoint(tc.base, tenantID); got != tc.want {
			t.Errorf("GrantEndpoint(%q) = %q", tc.base, got)
		}
	}
}

func TestTokenHash(t *testing.T) {
	// sha256("abc"), FIPS 180-2's first example.
	if got := TokenHash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatal(got)
	}
	if !tokenMatches("abc", TokenHash("abc")) || tokenMatches("abd", TokenHash("abc")) || tokenMatches("", TokenHash("")) || tokenMatches("abc", "") {
		t.Fatal("tokenMatches")
	}
}

func TestAccessSatisfies(t *testing.T) {
	debit := func(v string) *events.GrantLimits {
		return &events.GrantLimits{Receiver: "https://r.example/ip/1", Interval: "R/2022-04-01T10:00:00Z/P1M",
			DebitAmount: &events.GrantAmount{Value: v, AssetCode: "USD", AssetScale: 2}}
	}
	a := func(typ, id string, limits *events.GrantLimits, actions ...string) events.GrantAccess {
		return events.GrantAccess{Type: typ, Identifier: id, Limits: limits, Actions: actions}
	}
	const other = "https://wallet.example/bob"
	for _, tc := range []struct {
		name               string
		requested, granted events.GrantAccess
		want               bool
	}{
		{"same", a(TypeIncomingPayment, "", nil, ActionRead), a(TypeIncomingPayment, "", nil, ActionRead), true},
		{"read by read-all", a(TypeIncomingPayment, "", nil, ActionRead), a(TypeIncomingPayment, "", nil, ActionReadAll), true},
		{"list by list-all", a(TypeOutgoingPayment, walletA, nil, ActionList), a(TypeOutgoingPayment, walletA, nil, ActionListAll), true},
		{"read-all not by read", a(TypeIncomingPayment, "", nil, ActionReadAll), a(TypeIncomingPayment, "", nil, ActionRead), false},
		{"list-all not by list", a(TypeIncomingPayment, "", nil, ActionListAll), a(TypeIncomingPayment, "", nil, ActionList), false},
		{"read not by list-all", a(TypeIncomingPayment, "", nil, ActionRead), a(TypeIncomingPayment, "", nil, ActionListAll), false},
		{"subset of actions", a(TypeIncomingPayment, "", nil, ActionCreate), a(TypeIncomingPayment, "", nil, ActionRead, ActionCreate), true},
		{"one action missing", a(TypeIncomingPayment, "", nil, ActionCreate, ActionComplete), a(TypeIncomingPayment, "", nil, ActionCreate), false},
		{"no actions asked", a(TypeQuote, "", nil), a(TypeQuote, "", nil, ActionCreate), true},
		{"other type", a(TypeQuote, "", nil, ActionCreate), a(TypeIncomingPayment, "", nil, ActionCreate), false},
		{"same identifier", a(TypeOutgoingPayment, walletA, nil, ActionCreate), a(TypeOutgoingPayment, walletA, nil, ActionCreate), true},
		{"other identifier", a(TypeOutgoingPayment, other, nil, ActionCreate), a(TypeOutgoingPayment, walletA, nil, ActionCreate), false},
		{"identifier asked, none granted", a(TypeIncomingPayment, walletA, nil, ActionCreate), a(TypeIncomingPayment, "", nil, ActionCreate), true},
		{"none asked, identifier granted", a(TypeIncomingPayment, "", nil, ActionCreate), a(TypeIncomingPayment, walletA, nil, ActionCreate), true},
		{"same limits", a(TypeOutgoingPayment, walletA, debit("10"), ActionCreate), a(TypeOutgoingPayment, walletA, debit("10"), ActionCreate), true},
		{"other limits", a(TypeOutgoingPayment, walletA, debit("10"), ActionCreate), a(TypeOutgoingPayment, walletA, debit("11"), ActionCreate), false},
		{"limits asked, none granted", a(TypeOutgoingPayment, walletA, debit("10"), ActionCreate), a(TypeOutgoingPayment, walletA, nil, ActionCreate), false},
		{"empty limits asked, none granted", a(TypeOutgoingPayment, walletA, &events.GrantLimits{}, ActionCreate), a(TypeOutgoingPayment, walletA, nil, ActionCreate), false},
		{"none asked, limits granted", a(TypeOutgoingPayment, walletA, nil, ActionCreate), a(TypeOutgoingPayment, walletA, debit("10"), ActionCreate), true},
		{"receive instead of debit", a(TypeOutgoingPayment, walletA, &events.GrantLimits{ReceiveAmount: debit("10").DebitAmount, Receiver: "https://r.example/ip/1", Interval: "R/2022-04-01T10:00:00Z/P1M"}, ActionCreate), a(TypeOutgoingPayment, walletA, debit("10"), ActionCreate), false},
	} {
		if got := AccessSatisfies(tc.requested, tc.granted); got != tc.want {
			t.Errorf("%s: got %t", tc.name, got)
		}
	}
	granted := []events.GrantAccess{a(TypeIncomingPayment, "", nil, ActionReadAll), a(TypeQuote, "", nil, ActionCreate)}
	got := Matched([]events.GrantAccess{a(TypeQuote, "", nil, ActionCreate), a(TypeOutgoingPayment, walletA, nil, ActionCreate), a(TypeIncomingPayment, "", nil, ActionRead)}, granted)
	if want := []events.GrantAccess{granted[1], granted[0]}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Matched = %+v", got)
	}
}

// TestAccessJSON pins the access list's JSON to Open Payments' field names.
func TestAccessJSON(t *testing.T) {
	in := `[{"type":"outgoing-payment","actions":["create","read"],"identifier":"https://wallet.example/alice",` +
		`"limits":{"receiver":"https://r.example/ip/1","debitAmount":{"value":"500","assetCode":"USD","assetScale":2},"interval":"R/2022-04-01T10:00:00Z/P1M"}}]`
	access, err := DecodeAccess([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(access)
	if err != nil || string(out) != in {
		t.Fatalf("%s %v", out, err)
	}
}
