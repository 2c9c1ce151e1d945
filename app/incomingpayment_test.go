package app_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

type incomingPaymentOut struct {
	ID                  string         `json:"id"`
	URL                 string         `json:"url"`
	WalletAddressID     string         `json:"walletAddressId"`
	Client              *string        `json:"client"`
	Liquidity           *string        `json:"liquidity"`
	State               string         `json:"state"`
	ExpiresAt           string         `json:"expiresAt"`
	IncomingAmount      *amountOut     `json:"incomingAmount"`
	ReceivedAmount      amountOut      `json:"receivedAmount"`
	Metadata            map[string]any `json:"metadata"`
	CreatedAt           string         `json:"createdAt"`
	SenderWalletAddress *string        `json:"senderWalletAddress"`
	Tenant              *struct {
		ID string `json:"id"`
	} `json:"tenant"`
	CancellationReason *string `json:"cancellationReason"`
	CancelledAt        *string `json:"cancelledAt"`
}

const incomingPaymentFields = `id url walletAddressId client liquidity state expiresAt incomingAmount { value assetCode assetScale }
	receivedAmount { value assetCode assetScale } metadata createdAt senderWalletAddress tenant { id } cancellationReason cancelledAt`

func createIncomingPayment(ctx context.Context, c *adminclient.Client, input map[string]any) (incomingPaymentOut, error) {
	var out struct {
		CreateIncomingPayment struct{ Payment incomingPaymentOut } `json:"createIncomingPayment"`
	}
	err := c.Do(ctx, `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { `+incomingPaymentFields+` } } }`,
		map[string]any{"input": input}, &out)
	return out.CreateIncomingPayment.Payment, err
}

func getIncomingPayment(ctx context.Context, c *adminclient.Client, id string) (incomingPaymentOut, error) {
	var out struct {
		IncomingPayment incomingPaymentOut `json:"incomingPayment"`
	}
	err := c.Do(ctx, `query($id: String!) { incomingPayment(id: $id) { `+incomingPaymentFields+` } }`, map[string]any{"id": id}, &out)
	return out.IncomingPayment, err
}

// actOn runs approveIncomingPayment, cancelIncomingPayment or
// updateIncomingPayment and returns the payment it answers.
func actOn(ctx context.Context, c *adminclient.Client, mutation string, input map[string]any) (incomingPaymentOut, error) {
	var out map[string]struct{ Payment incomingPaymentOut }
	err := c.Do(ctx, fmt.Sprintf(`mutation($input: %sInput!) { %s(input: $input) { payment { %s } } }`, upperFirst(mutation), mutation, incomingPaymentFields),
		map[string]any{"input": input}, &out)
	return out[mutation].Payment, err
}

// Incoming payments through the signed admin API: created on a wallet
// address in its asset, read back, listed, updated, approved or cancelled
// once, refused where Rafiki refuses, completed by the money that arrives
// and expired by the worker.
func TestIncomingPaymentsEndToEnd(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "ip-alice"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "ip-bob"})
	if err != nil {
		t.Fatal(err)
	}

	expiresAt := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	p, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID, "expiresAt": expiresAt.Format(time.RFC3339Nano),
		"incomingAmount": map[string]any{"value": "500", "assetCode": "USD", "assetScale": 2},
		"metadata":       map[string]any{"description": "Invoice 7", "lines": []any{1, "two"}}, "senderWalletAddress": "https://other.test/bob"})
	if err != nil {
		t.Fatal(err)
	}
	if p.URL != "http://wallet.test/"+p.Tenant.ID+"/incoming-payments/"+p.ID || p.WalletAddressID != wa.ID || p.State != "PENDING" ||
		p.ExpiresAt != expiresAt.Format("2006-01-02T15:04:05.000Z") || p.IncomingAmount == nil || *p.IncomingAmount != (amountOut{"500", "USD", 2}) ||
		p.ReceivedAmount != (amountOut{"0", "USD", 2}) || p.Metadata["description"] != "Invoice 7" || fmt.Sprint(p.Metadata["lines"]) != "[1 two]" ||
		p.SenderWalletAddress == nil || *p.SenderWalletAddress != "https://other.test/bob" || p.Client != nil || p.Liquidity != nil ||
		p.CancelledAt != nil || p.CancellationReason != nil {
		t.Fatalf("created %+v", p)
	}
	if got, err := getIncomingPayment(ctx, op, p.ID); err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("read back %+v %v, want %+v", got, err, p)
	}

	// The default expiry is INCOMING_PAYMENT_EXPIRY_MAX_MS; later is refused.
	plain, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": other.ID})
	if err != nil {
		t.Fatal(err)
	}
	if at, err := time.Parse(time.RFC3339, plain.ExpiresAt); err != nil || time.Until(at) < 30*24*time.Hour-time.Minute || plain.IncomingAmount != nil || plain.Metadata != nil {
		t.Fatalf("default expiry %s %v, payment %+v", plain.ExpiresAt, err, plain)
	}
	for _, tc := range []struct {
		name  string
		input map[string]any
		code  string
	}{
		{"expiry past the maximum", map[string]any{"walletAddressId": wa.ID, "expiresAt": time.Now().Add(31 * 24 * time.Hour).Format(time.RFC3339)}, "BAD_USER_INPUT"},
		{"expiry past", map[string]any{"walletAddressId": wa.ID, "expiresAt": "2020-01-01T00:00:00Z"}, "BAD_USER_INPUT"},
		{"expiry not a date", map[string]any{"walletAddressId": wa.ID, "expiresAt": "tomorrow"}, "BAD_USER_INPUT"},
		{"amount in another asset", map[string]any{"walletAddressId": wa.ID, "incomingAmount": map[string]any{"value": "1", "assetCode": "EUR", "assetScale": 2}}, "BAD_USER_INPUT"},
		{"zero amount", map[string]any{"walletAddressId": wa.ID, "incomingAmount": map[string]any{"value": "0", "assetCode": "USD", "assetScale": 2}}, "BAD_USER_INPUT"},
		{"unknown wallet address", map[string]any{"walletAddressId": uuid.NewString()}, "NOT_FOUND"},
		{"metadata too large", map[string]any{"walletAddressId": wa.ID, "metadata": map[string]any{"x": strings.Repeat("x", 20_000)}}, "BAD_USER_INPUT"},
	} {
		if _, err := createIncomingPayment(ctx, op, tc.input); code(t, err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}

	// Approving and cancelling exclude each other; each again is answered.
	if _, err := actOn(ctx, op, "updateIncomingPayment", map[string]any{"id": p.ID, "metadata": map[string]any{"description": "Invoice 8"}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got, err := actOn(ctx, op, "approveIncomingPayment", map[string]any{"id": p.ID}); err != nil || got.Metadata["description"] != "Invoice 8" {
			t.Fatalf("approve: %+v %v", got, err)
		}
	}
	if _, err := actOn(ctx, op, "cancelIncomingPayment", map[string]any{"id": p.ID}); code(t, err) != "FORBIDDEN" {
		t.Fatalf("cancel an approved payment: %v", err)
	}
	cancelled, err := actOn(ctx, op, "cancelIncomingPayment", map[string]any{"id": plain.ID, "cancellationReason": "not wanted"})
	if err != nil || cancelled.CancelledAt == nil || cancelled.CancellationReason == nil || *cancelled.CancellationReason != "not wanted" || cancelled.State != "PENDING" {
		t.Fatalf("cancelled %+v %v", cancelled, err)
	}
	if _, err := actOn(ctx, op, "approveIncomingPayment", map[string]any{"id": plain.ID}); code(t, err) != "FORBIDDEN" {
		t.Fatalf("approve a cancelled payment: %v", err)
	}
	if _, err := actOn(ctx, op, "approveIncomingPayment", map[string]any{"id": uuid.NewString()}); code(t, err) != "NOT_FOUND" {
		t.Fatalf("approve an unknown payment: %v", err)
	}

	// Another tenant sees none of them.
	var created struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := op.Do(ctx, `mutation { createTenant(input: {apiSecret: "ip-secret"}) { tenant { id } } }`, nil, &created); err != nil {
		t.Fatal(err)
	}
	stranger := s.client(created.CreateTenant.Tenant.ID, "ip-secret")
	if _, err := getIncomingPayment(ctx, stranger, p.ID); code(t, err) != "NOT_FOUND" {
		t.Fatalf("a stranger reads: %v", err)
	}
	if _, err := actOn(ctx, stranger, "approveIncomingPayment", map[string]any{"id": p.ID}); code(t, err) != "NOT_FOUND" {
		t.Fatalf("a stranger approves: %v", err)
	}
	if _, err := createIncomingPayment(ctx, stranger, map[string]any{"walletAddressId": wa.ID}); code(t, err) != "NOT_FOUND" {
		t.Fatalf("a stranger creates: %v", err)
	}

	// Lists: the operator's, a stranger's, by initiator, by wallet address.
	list := func(c *adminclient.Client, query string, vars map[string]any, path ...string) []string {
		t.Helper()
		var out map[string]any
		if err := c.Do(ctx, query, vars, &out); err != nil {
			t.Fatal(err)
		}
		var v any = out
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		var ids []string
		for _, e := range v.(map[string]any)["edges"].([]any) {
			ids = append(ids, e.(map[string]any)["node"].(map[string]any)["id"].(string))
		}
		return ids
	}
	all := `query($filter: IncomingPaymentFilter, $tenantId: String) { incomingPayments(sortOrder: ASC, filter: $filter, tenantId: $tenantId) { edges { node { id } } } }`
	if got := list(op, all, nil, "incomingPayments"); fmt.Sprint(got) != fmt.Sprint([]string{p.ID, plain.ID}) {
		t.Fatalf("operator lists %v", got)
	}
	if got := list(stranger, all, map[string]any{"tenantId": p.Tenant.ID}, "incomingPayments"); len(got) != 0 {
		t.Fatalf("a stranger lists %v", got)
	}
	if got := list(op, all, map[string]any{"filter": map[string]any{"initiatedBy": map[string]any{"in": []string{"CARD"}}}}, "incomingPayments"); len(got) != 0 {
		t.Fatalf("card payments %v", got)
	}
	if got := list(op, all, map[string]any{"filter": map[string]any{"initiatedBy": map[string]any{"notIn": []string{"CARD"}}}}, "incomingPayments"); len(got) != 2 {
		t.Fatalf("payments not by card %v", got)
	}
	byWallet := `query($id: String!) { walletAddress(id: $id) { incomingPayments { edges { node { id } } } } }`
	if got := list(op, byWallet, map[string]any{"id": other.ID}, "walletAddress", "incomingPayments"); fmt.Sprint(got) != fmt.Sprint([]string{plain.ID}) {
		t.Fatalf("payments into %s: %v", other.ID, got)
	}

	// Money arriving completes it at its amount: the ledger's account
	// credited, the worker told, as the connector does.
	payments, waiter := s.running.Backend.IncomingPayments, s.running.Backend.Waiter
	receive := func(id string, amount uint64) {
		t.Helper()
		res, err := payments.RecordReceived(ctx, credit(t, s, id, amount), id)
		if err != nil {
			t.Fatal(err)
		}
		if err := waiter.Wait(ctx, projections.IncomingPayments{}.Name(), res.Sequence, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	receive(p.ID, 200)
	if got, err := getIncomingPayment(ctx, op, p.ID); err != nil || got.State != "PROCESSING" || got.ReceivedAmount.Value != "200" {
		t.Fatalf("after 200: %+v %v", got, err)
	}
	receive(p.ID, 300)
	if got, err := getIncomingPayment(ctx, op, p.ID); err != nil || got.State != "COMPLETED" || got.ReceivedAmount.Value != "500" {
		t.Fatalf("after 500: %+v %v", got, err)
	}

	// The worker expires payments: one with money stays, EXPIRED; one
	// without is deleted, as Rafiki's.
	soon := time.Now().Add(1500 * time.Millisecond).Format(time.RFC3339Nano)
	kept, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID, "expiresAt": soon})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID, "expiresAt": soon})
	if err != nil {
		t.Fatal(err)
	}
	receive(kept.ID, 7)
	testkit.Eventually(t, 10*time.Second, func() bool {
		got, err := getIncomingPayment(ctx, op, kept.ID)
		return err == nil && got.State == "EXPIRED" && got.ReceivedAmount.Value == "7"
	}, "payment %s not expired", kept.ID)
	testkit.Eventually(t, 10*time.Second, func() bool {
		_, err := getIncomingPayment(ctx, op, gone.ID)
		return code(t, err) == "NOT_FOUND"
	}, "payment %s not deleted", gone.ID)
}

// credit puts money in an incoming payment's ledger account, as a fulfilled
// packet does, opening the account when it has none; it answers the
// payment's tenant.
func credit(t *testing.T, s *system, id string, amount uint64) string {
	t.Helper()
	ctx := context.Background()
	p, err := s.running.Backend.Read.IncomingPayment(ctx, id, nil)
	if err != nil || p == nil {
		t.Fatalf("incoming payment %s: %v", id, err)
	}
	a, err := s.running.Backend.Read.Asset(ctx, p.AssetID, nil)
	if err != nil || a == nil {
		t.Fatalf("asset %s: %v", p.AssetID, err)
	}
	l := s.running.Deps.Ledger
	account := ledger.Account{ID: uuid.MustParse(id), Type: ledger.Incoming, AssetID: uuid.MustParse(a.ID), Ledger: a.Ledger}
	if err := l.CreateAssetAccounts(ctx, account.AssetID, a.Ledger); err != nil {
		t.Fatal(err)
	}
	if err := l.CreateLiquidityAccount(ctx, account); err != nil {
		t.Fatal(err)
	}
	if err := l.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: account, Amount: amount}); err != nil {
		t.Fatal(err)
	}
	return p.TenantID
}
