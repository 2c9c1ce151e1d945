package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

// step is one domain event of a webhooks story, at a moment.
type step struct {
	aggregateType string
	at            time.Time
	ev            events.Event
}

// TestWebhookEvents builds the webhooks read model from short stories, with
// statements and with a fold, and compares the webhook events with Rafiki's
// payloads, written out in full.
func TestWebhookEvents(t *testing.T) {
	dbURL := testkit.NewDatabase(t)
	if err := migrations.Up(dbURL); err != nil {
		t.Fatal(err)
	}
	pool := testkit.Pool(t, dbURL)
	ctx := context.Background()
	const (
		tenant  = "11111111-1111-4111-8111-111111111111"
		payment = "22222222-2222-4222-8222-222222222222"
		wallet  = "33333333-3333-4333-8333-333333333333"
		asset   = "44444444-4444-4444-8444-444444444444"
	)
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 891_234_567, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	amount := uint64(500)
	created := func(full bool) step {
		e := &events.IncomingPaymentCreated{WalletAddressID: wallet, AssetID: asset, AssetCode: "USD", AssetScale: 2,
			ExpiresAt: at(3600), InitiatedBy: events.InitiatedByAdmin}
		if full {
			e.IncomingAmount, e.Metadata, e.Client = &amount, json.RawMessage(`{"description":"Invoice 7"}`), "https://client.test/app"
		}
		return step{"incoming_payment", at(0), e}
	}
	base := `"id":"` + payment + `","walletAddressId":"` + wallet + `","createdAt":"2026-03-04T05:06:07.891Z","expiresAt":"2026-03-04T06:06:07.891Z"`
	received := func(v string) string {
		return `"receivedAmount":{"value":"` + v + `","assetCode":"USD","assetScale":2}`
	}
	full := `"client":"https://client.test/app","incomingAmount":{"value":"500","assetCode":"USD","assetScale":2},"metadata":{"description":"Invoice 7"}`
	for _, c := range []struct {
		name  string
		steps []step
		want  []string // type then data, one pair per webhook event
	}{
		{"created, bare", []step{created(false)},
			[]string{"incoming_payment.created", `{` + base + `,` + received("0") + `,"completed":false}`}},
		{"created with amount, metadata and client", []step{created(true)},
			[]string{"incoming_payment.created", `{` + base + `,` + received("0") + `,"completed":false,` + full + `}`}},
		{"approved, paid, completed", []step{created(true), {"incoming_payment", at(1), &events.IncomingPaymentApproved{}},
			{"incoming_payment", at(2), &events.IncomingPaymentReceived{Amount: 200, Total: 200}},
			{"incoming_payment", at(3), &events.IncomingPaymentUpdated{Metadata: json.RawMessage(`{"n":1}`)}},
			{"incoming_payment", at(4), &events.IncomingPaymentReceived{Amount: 300, Total: 500}},
			{"incoming_payment", at(4), &events.IncomingPaymentCompleted{}}},
			[]string{"incoming_payment.created", `{` + base + `,` + received("0") + `,"completed":false,` + full + `}`,
				"incoming_payment.completed", `{` + base + `,` + received("500") + `,"completed":true,"client":"https://client.test/app",
				"incomingAmount":{"value":"500","assetCode":"USD","assetScale":2},"metadata":{"n":1},"approvedAt":"2026-03-04T05:06:08.891Z"}`}},
		{"cancelled, paid, expired", []step{created(false), {"incoming_payment", at(1), &events.IncomingPaymentCancelled{}},
			{"incoming_payment", at(2), &events.IncomingPaymentReceived{Amount: 7, Total: 7}},
			{"incoming_payment", at(3), &events.IncomingPaymentUpdated{}},
			{"incoming_payment", at(9), &events.IncomingPaymentExpired{}}},
			[]string{"incoming_payment.created", `{` + base + `,` + received("0") + `,"completed":false}`,
				"incoming_payment.expired", `{` + base + `,` + received("7") + `,"completed":false,"cancelledAt":"2026-03-04T05:06:08.891Z"}`}},
		{"a partial payment, its data sealed as its event holds it; its decision tells nothing", []step{created(false),
			{"incoming_payment", at(1), &events.IncomingPaymentReceived{Amount: 7, Total: 7}},
			{"incoming_payment", at(2), &events.IncomingPaymentPartialReceived{PartialIncomingPaymentID: "p-1", DataFromSender: "enc:v1:c2VhbGVk",
				Amount: 5, ExpiresAt: at(3)}},
			{"incoming_payment", at(2), &events.IncomingPaymentPartialDecided{PartialIncomingPaymentID: "p-1", Accepted: true}}},
			[]string{"incoming_payment.created", `{` + base + `,` + received("0") + `,"completed":false}`,
				"incoming_payment.partial_payment_received", `{` + base + `,` + received("7") + `,"completed":false,
				"partialIncomingPaymentId":"p-1","dataFromSender":"enc:v1:c2VhbGVk"}`}},
		{"completed or expired empty: nothing", []step{created(false), {"incoming_payment", at(1), &events.IncomingPaymentCompleted{}},
			{"incoming_payment", at(2), &events.IncomingPaymentExpired{}}},
			[]string{"incoming_payment.created", `{` + base + `,` + received("0") + `,"completed":false}`}},
		{"low liquidity of an asset and a peer", []step{
			{"asset", at(0), &events.LiquidityLow{Balance: 40, Threshold: 50, AssetID: asset, AssetCode: "EUR", AssetScale: 3}},
			{"peer", at(1), &events.LiquidityLow{Balance: 0, Threshold: 10, AssetID: asset, AssetCode: "EUR", AssetScale: 3}}},
			[]string{"asset.liquidity_low", `{"id":"` + payment + `","asset":{"id":"` + asset + `","code":"EUR","scale":3},"liquidityThreshold":"50","balance":"40"}`,
				"peer.liquidity_low", `{"id":"` + payment + `","asset":{"id":"` + asset + `","code":"EUR","scale":3},"liquidityThreshold":"10","balance":"0"}`}},
		{"wallet address lookups that missed, twice", []step{
			{"wallet_address_lookup", at(0), &events.WalletAddressNotFound{WalletAddressURL: "https://wallet.test/alice"}},
			{"wallet_address_lookup", at(60), &events.WalletAddressNotFound{WalletAddressURL: "https://wallet.test/alice"}}},
			[]string{"wallet_address.not_found", `{"walletAddressUrl":"https://wallet.test/alice"}`,
				"wallet_address.not_found", `{"walletAddressUrl":"https://wallet.test/alice"}`}},
		{"web monetization told twice", []step{
			{"wallet_address", at(0), &events.WalletAddressWebMonetization{Amount: 120, AssetID: asset, AssetCode: "USD", AssetScale: 2, CreatedAt: t0.Add(-time.Hour)}},
			{"wallet_address", at(5), &events.WalletAddressWebMonetization{Amount: 7, AssetID: asset, AssetCode: "USD", AssetScale: 2, CreatedAt: t0.Add(-time.Hour)}}},
			[]string{"wallet_address.web_monetization", `{"walletAddress":{"id":"` + payment + `","createdAt":"2026-03-04T04:06:07.891Z",
				"receivedAmount":{"value":"120","assetCode":"USD","assetScale":2}}}`,
				"wallet_address.web_monetization", `{"walletAddress":{"id":"` + payment + `","createdAt":"2026-03-04T04:06:07.891Z",
				"receivedAmount":{"value":"7","assetCode":"USD","assetScale":2}}}`}},
		{"low liquidity telling no asset, or of another object: nothing", []step{
			{"asset", at(0), &events.LiquidityLow{Balance: 40, Threshold: 50}},
			{"wallet_address", at(1), &events.LiquidityLow{Balance: 0, Threshold: 10, AssetID: asset, AssetCode: "EUR", AssetScale: 3}}},
			nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var data [][]byte
			var seqs []uint64
			var ids []string
			for i, s := range c.steps {
				envs, err := events.Seal(events.Meta{AggregateType: s.aggregateType, AggregateID: payment, TenantID: tenant, Time: s.at},
					fmt.Sprintf("%s-%d", c.name, i), 0, s.ev)
				if err != nil {
					t.Fatal(err)
				}
				b, err := events.Marshal(envs[0])
				if err != nil {
					t.Fatal(err)
				}
				data, seqs, ids = append(data, b), append(seqs, uint64(i+1)), append(ids, envs[0].ID.String())
			}
			for _, folded := range []bool{false, true} {
				schema := fmt.Sprintf("webhooks_%d_%v", len(c.name)*100+len(c.steps), folded)
				var p projections.Projection = statementsOnly{projections.Webhooks{}}
				if folded {
					p = projections.Webhooks{}
				}
				if err := projections.Build(ctx, pool, p, schema, 1<<30, 100, data, seqs); err != nil {
					t.Fatal(err)
				}
				rows, err := pool.Query(ctx, `SELECT id::text, tenant_id::text, type, data::text, sequence,
					concat_ws(' ', withdrawal_account_id, withdrawal_asset_id, withdrawal_amount) FROM `+schema+`.webhook_events ORDER BY sequence`)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for rows.Next() {
					var id, tenantID, typ, body, withdrawal string
					var seq int64
					if err := rows.Scan(&id, &tenantID, &typ, &body, &seq, &withdrawal); err != nil {
						t.Fatal(err)
					}
					// A payment that ended with money is withdrawn whole; a
					// wallet address's web monetization, what it tells of.
					var d struct {
						ReceivedAmount struct{ Value string }
						WalletAddress  struct{ ReceivedAmount struct{ Value string } }
					}
					_ = json.Unmarshal([]byte(body), &d)
					wantWithdrawal := ""
					switch typ {
					case "incoming_payment.completed", "incoming_payment.expired":
						wantWithdrawal = payment + " " + asset + " " + d.ReceivedAmount.Value
					case "wallet_address.web_monetization":
						wantWithdrawal = payment + " " + asset + " " + d.WalletAddress.ReceivedAmount.Value
					}
					if withdrawal != wantWithdrawal {
						t.Fatalf("%s withdraws %q, want %q", typ, withdrawal, wantWithdrawal)
					}
					// The webhook event is the domain event's id.
					if id != ids[seq-1] || tenantID != tenant {
						t.Fatalf("event %s of tenant %s at %d, domain event %s", id, tenantID, seq, ids[seq-1])
					}
					got = append(got, typ, body)
				}
				rows.Close()
				if len(got) != len(c.want) {
					t.Fatalf("folded %v: %q, want %q", folded, got, c.want)
				}
				for i := 0; i < len(got); i += 2 {
					var g, w any
					if err := json.Unmarshal([]byte(got[i+1]), &g); err != nil {
						t.Fatal(err)
					}
					if err := json.Unmarshal([]byte(c.want[i+1]), &w); err != nil {
						t.Fatalf("want %s: %v", c.want[i+1], err)
					}
					if got[i] != c.want[i] || !reflect.DeepEqual(g, w) {
						t.Fatalf("folded %v: %s %s\nwant %s %s", folded, got[i], got[i+1], c.want[i], c.want[i+1])
					}
				}
			}
		})
	}
}
