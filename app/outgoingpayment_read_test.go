package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/readmodel"
	"github.com/rafiki-go/rafiki/testkit"
)

// appendTo stores events on an aggregate's subject as a command of its
// own would, after the subject's last event; it answers the sequence of
// the last.
func appendTo(t *testing.T, d *app.Deps, aggregateType, tenantID, id string, evs ...events.Event) uint64 {
	t.Helper()
	ctx := context.Background()
	subject, err := handlers.Subject(tenantID, aggregateType, id)
	if err != nil {
		t.Fatal(err)
	}
	_, version, err := d.Store.Load(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	cmd := uuid.NewString()
	res, err := handlers.AppendEvents(ctx, d.Store, subject, version, events.Meta{AggregateType: aggregateType, AggregateID: id,
		TenantID: tenantID, CausationID: cmd, CorrelationID: cmd, Time: time.Now()}, cmd, evs...)
	if err != nil {
		t.Fatal(err)
	}
	return res.Sequence
}

// paymentOf is the creation of an outgoing payment of a quote, on its terms.
func paymentOf(q quoteOut, assetID string, metadata string, client, grantID string) *events.OutgoingPaymentCreated {
	var debit, receive uint64
	fmt.Sscan(q.DebitAmount.Value, &debit)
	fmt.Sscan(q.ReceiveAmount.Value, &receive)
	return &events.OutgoingPaymentCreated{WalletAddressID: q.WalletAddressID, AssetID: assetID, AssetCode: q.DebitAmount.AssetCode,
		AssetScale: uint8(q.DebitAmount.AssetScale), Receiver: q.Receiver, DebitAmount: debit, DebitAmountMinusFees: debit,
		ReceiveAmount: receive, ReceiveAssetCode: q.ReceiveAmount.AssetCode, ReceiveAssetScale: uint8(q.ReceiveAmount.AssetScale),
		Method: events.QuoteLocal, QuoteExpiresAt: time.Now().Add(time.Minute), Metadata: json.RawMessage(metadata), Client: client,
		GrantID: grantID, InitiatedBy: events.InitiatedByAdmin}
}

// waitApplied waits until the read model of projection applied sequence.
func waitApplied(t *testing.T, d *app.Deps, projection string, sequence uint64) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, func() bool {
		var applied int64
		err := d.Pool.QueryRow(context.Background(), `SELECT sequence FROM projection_checkpoints WHERE name = $1`, projection).Scan(&applied)
		return err == nil && uint64(applied) >= sequence
	}, "%s applied up to %d", projection, sequence)
}

type outgoingPaymentOut struct {
	ID, WalletAddressID, State, Receiver, CreatedAt string
	Client, Error, GrantID, Liquidity               *string
	StateAttempts                                   int
	DebitAmount, ReceiveAmount, SentAmount          amountOut
	Metadata                                        map[string]any
	Quote                                           *struct{ ID string }
	Tenant                                          *struct{ ID string }
}

const outgoingPaymentFields = `id walletAddressId state receiver createdAt client error grantId liquidity stateAttempts
	debitAmount { value assetCode assetScale } receiveAmount { value assetCode assetScale } sentAmount { value assetCode assetScale }
	metadata quote { id } tenant { id }`

// Outgoing payments through the signed admin API, made by storing their
// events: outgoingPayment with every field (its liquidity the balance of
// its ledger account), outgoingPayments filtered on the in lists of
// receiver, walletAddressId and state as Rafiki reads them, a wallet
// address's, and their kind in the combined payments list.
func TestOutgoingPaymentsRead(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op, d := s.operator, s.running.Deps
	tenant := op.TenantID
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "out-alice"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "out-bob"})
	if err != nil {
		t.Fatal(err)
	}
	into, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	quote := func(from walletAddressOut, debit string) quoteOut {
		t.Helper()
		q, err := createQuote(ctx, op, map[string]any{"walletAddressId": from.ID, "receiver": into.URL,
			"debitAmount": map[string]any{"value": debit, "assetCode": "USD", "assetScale": 2}})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	completed, cancelled, failed, funding := quote(alice, "300"), quote(alice, "200"), quote(alice, "100"), quote(bob, "50")
	const typ = outgoingpayment.AggregateType
	appendTo(t, d, typ, tenant, completed.ID, paymentOf(completed, usd.ID, `{"order":7}`, "https://client.test/app", uuid.NewString()))
	appendTo(t, d, typ, tenant, completed.ID, &events.OutgoingPaymentFunded{Amount: 300},
		&events.OutgoingPaymentAttemptFailed{Error: "T04", Attempts: 1, Sent: 100, Delivered: 100})
	appendTo(t, d, typ, tenant, completed.ID, &events.OutgoingPaymentCompleted{Sent: 300, Delivered: 300})
	appendTo(t, d, typ, tenant, cancelled.ID, paymentOf(cancelled, usd.ID, "", "", ""))
	reason := "changed my mind"
	appendTo(t, d, typ, tenant, cancelled.ID, &events.OutgoingPaymentCancelled{Reason: &reason})
	appendTo(t, d, typ, tenant, failed.ID, paymentOf(failed, usd.ID, "", "", ""), &events.OutgoingPaymentFunded{Amount: 100})
	appendTo(t, d, typ, tenant, failed.ID, &events.OutgoingPaymentFailed{Error: "F02", Sent: 10, Delivered: 10})
	last := appendTo(t, d, typ, tenant, funding.ID, paymentOf(funding, usd.ID, "", "", ""))
	waitApplied(t, d, "outgoing_payments", last)

	// The funding payment's account holds a deposit.
	read := readmodel.NewReader(d.Pool, nil)
	asset, err := read.Asset(ctx, usd.ID, nil)
	if err != nil || asset == nil {
		t.Fatalf("asset: %v %v", asset, err)
	}
	account := ledger.Account{ID: uuid.MustParse(funding.ID), Type: ledger.Outgoing, AssetID: uuid.MustParse(usd.ID), Ledger: asset.Ledger}
	if err := d.Ledger.CreateLiquidityAccount(ctx, account); err != nil {
		t.Fatal(err)
	}
	if err := d.Ledger.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: account, Amount: 50}); err != nil {
		t.Fatal(err)
	}

	one := func(id string) outgoingPaymentOut {
		t.Helper()
		var out struct{ OutgoingPayment outgoingPaymentOut }
		if err := op.Do(ctx, `query($id: String!) { outgoingPayment(id: $id) { `+outgoingPaymentFields+` } }`, map[string]any{"id": id}, &out); err != nil {
			t.Fatal(err)
		}
		return out.OutgoingPayment
	}
	got := one(completed.ID)
	if got.ID != completed.ID || got.WalletAddressID != alice.ID || got.State != "COMPLETED" || got.Receiver != into.URL ||
		got.Client == nil || *got.Client != "https://client.test/app" || got.Error != nil || got.GrantID == nil || got.Liquidity != nil ||
		got.StateAttempts != 1 || got.DebitAmount != completed.DebitAmount || got.ReceiveAmount != completed.ReceiveAmount ||
		got.SentAmount != (amountOut{Value: "300", AssetCode: "USD", AssetScale: 2}) || fmt.Sprint(got.Metadata) != "map[order:7]" ||
		got.Quote == nil || got.Quote.ID != completed.ID || got.Tenant == nil || got.Tenant.ID != tenant || got.CreatedAt == "" {
		t.Fatalf("completed payment %+v", got)
	}
	if got := one(cancelled.ID); got.State != "CANCELLED" || fmt.Sprint(got.Metadata) != "map[cancellationReason:changed my mind]" {
		t.Fatalf("cancelled payment %+v", got)
	}
	if got := one(failed.ID); got.State != "FAILED" || got.Error == nil || *got.Error != "F02" || got.SentAmount.Value != "10" {
		t.Fatalf("failed payment %+v", got)
	}
	if got := one(funding.ID); got.State != "FUNDING" || got.Liquidity == nil || *got.Liquidity != "50" || got.SentAmount.Value != "0" {
		t.Fatalf("funding payment %+v", got)
	}
	if err := op.Do(ctx, `query { outgoingPayment(id: "`+uuid.NewString()+`") { id } }`, nil, nil); err == nil {
		t.Fatal("an unknown payment was found")
	}

	list := func(query string, vars map[string]any, path ...string) []string {
		t.Helper()
		var out map[string]any
		if err := op.Do(ctx, query, vars, &out); err != nil {
			t.Fatal(err)
		}
		var node any = out
		for _, p := range path {
			node = node.(map[string]any)[p]
		}
		var ids []string
		for _, e := range node.(map[string]any)["edges"].([]any) {
			ids = append(ids, e.(map[string]any)["node"].(map[string]any)["id"].(string))
		}
		return ids
	}
	const filtered = `query($filter: OutgoingPaymentFilter, $sortOrder: SortOrder) { outgoingPayments(filter: $filter, sortOrder: $sortOrder) { edges { node { id } } } }`
	for _, c := range []struct {
		name   string
		filter map[string]any
		want   []string
	}{
		{"all", nil, []string{completed.ID, cancelled.ID, failed.ID, funding.ID}},
		{"by state", map[string]any{"state": map[string]any{"in": []string{"FAILED", "CANCELLED"}}}, []string{cancelled.ID, failed.ID}},
		{"by receiver", map[string]any{"receiver": map[string]any{"in": []string{into.URL}}}, []string{completed.ID, cancelled.ID, failed.ID, funding.ID}},
		{"by another receiver", map[string]any{"receiver": map[string]any{"in": []string{into.URL + "x"}}}, nil},
		{"by wallet address", map[string]any{"walletAddressId": map[string]any{"in": []string{bob.ID, "not-an-id"}}}, []string{funding.ID}},
		{"notIn is not read, as by Rafiki", map[string]any{"state": map[string]any{"notIn": []string{"FUNDING"}}},
			[]string{completed.ID, cancelled.ID, failed.ID, funding.ID}},
	} {
		if got := list(filtered, map[string]any{"filter": c.filter, "sortOrder": "ASC"}, "outgoingPayments"); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if got := list(`query($id: String!) { walletAddress(id: $id) { outgoingPayments(first: 2) { edges { node { id } } } } }`,
		map[string]any{"id": alice.ID}, "walletAddress", "outgoingPayments"); !slices.Equal(got, []string{failed.ID, cancelled.ID}) {
		t.Errorf("alice's first two, newest first: %v", got)
	}
	var payments paymentsOut
	if err := op.Do(ctx, paymentsQuery, map[string]any{"filter": map[string]any{"type": map[string]any{"in": []string{"OUTGOING"}}}, "sortOrder": "ASC"},
		&payments); err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, e := range payments.Payments.Edges {
		if e.Node.Type != "OUTGOING" {
			t.Fatalf("outgoing payments: %+v", e.Node)
		}
		states = append(states, e.Node.State)
	}
	if !slices.Equal(states, []string{"COMPLETED", "CANCELLED", "FAILED", "FUNDING"}) || payments.Payments.Edges[3].Node.Liquidity == nil ||
		*payments.Payments.Edges[3].Node.Liquidity != "50" {
		t.Fatalf("outgoing payments in payments: %+v", payments.Payments.Edges)
	}
}
