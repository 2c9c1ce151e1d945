package openpayments

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
)

// A payment on the wire, as Rafiki renders it: URLs under
// OPEN_PAYMENTS_URL, failed for a failed or cancelled payment, what it sent
// in its debit asset, metadata only when it has some; created, with what
// its grant's payments spent in its debit and receive assets.
func TestOutgoingPaymentBody(t *testing.T) {
	base := outgoingpayment.State{Exists: true, ID: "8c68d3cc-0a0f-4216-98b4-4fa44a6c88cf", TenantID: "t1",
		CreatedAt: time.Date(2026, 3, 12, 23, 20, 50, 520_000_000, time.FixedZone("x", 3600)), State: outgoingpayment.Sending, Sent: 2500,
		OutgoingPaymentCreated: events.OutgoingPaymentCreated{AssetCode: "USD", AssetScale: 2, Receiver: "https://r.test/incoming-payments/1",
			DebitAmount: 2600, ReceiveAmount: 2200, ReceiveAssetCode: "EUR", ReceiveAssetScale: 3}}
	with := func(change func(*outgoingpayment.State)) outgoingpayment.State {
		s := base
		change(&s)
		return s
	}
	const sending = `{"id":"https://op.test/t1/outgoing-payments/8c68d3cc-0a0f-4216-98b4-4fa44a6c88cf","walletAddress":"https://op.test/alice",` +
		`"quoteId":"https://op.test/t1/quotes/8c68d3cc-0a0f-4216-98b4-4fa44a6c88cf","receiver":"https://r.test/incoming-payments/1",` +
		`"receiveAmount":{"value":"2200","assetCode":"EUR","assetScale":3},"debitAmount":{"value":"2600","assetCode":"USD","assetScale":2},` +
		`"sentAmount":{"value":"2500","assetCode":"USD","assetScale":2},"failed":false,"createdAt":"2026-03-12T22:20:50.520Z"}`
	for _, c := range []struct {
		name  string
		state outgoingpayment.State
		want  string
	}{
		{"sending", base, sending},
		{"failed", with(func(s *outgoingpayment.State) { s.State = outgoingpayment.Failed }), strings.Replace(sending, `"failed":false`, `"failed":true`, 1)},
		{"cancelled, with metadata", with(func(s *outgoingpayment.State) {
			s.State, s.Metadata = outgoingpayment.Cancelled, json.RawMessage(`{"cancellationReason":"late"}`)
		}), strings.Replace(sending, `"failed":false`, `"failed":true,"metadata":{"cancellationReason":"late"}`, 1)},
		{"completed, metadata null", with(func(s *outgoingpayment.State) {
			s.State, s.Metadata = outgoingpayment.Completed, json.RawMessage(`null`)
		}), sending},
	} {
		got, err := json.Marshal(OutgoingPaymentBody("https://op.test", "https://op.test/alice", c.state))
		if err != nil || string(got) != c.want {
			t.Errorf("%s: %s %v\nwant %s", c.name, got, err, c.want)
		}
	}
	got, err := json.Marshal(OutgoingPaymentWithSpentBody("https://op.test/", "https://op.test/alice", base, 2600, 2200))
	want := sending[:len(sending)-1] + `,"grantSpentDebitAmount":{"value":"2600","assetCode":"USD","assetScale":2},` +
		`"grantSpentReceiveAmount":{"value":"2200","assetCode":"EUR","assetScale":3}}`
	if err != nil || string(got) != want {
		t.Errorf("with spent amounts: %s %v\nwant %s", got, err, want)
	}
}
