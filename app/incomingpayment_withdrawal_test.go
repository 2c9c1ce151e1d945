package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/connector/stream"
	"github.com/rafiki-go/rafiki/testkit"
)

// payIncomingPayment sends one STREAM money packet from the peer whose
// incoming token is token to an incoming payment, and answers the amount
// the receiver says it got (0 when it refused the packet).
func payIncomingPayment(t *testing.T, s *system, token, incomingPaymentID string, amount uint64) uint64 {
	t.Helper()
	address, secret, err := s.running.Deps.StreamCredentials.Generate("test.rafiki", stream.Tag{ID: uuid.MustParse(incomingPaymentID)})
	if err != nil {
		t.Fatal(err)
	}
	connectorURL, err := s.running.URL(app.ConnectorListener)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := payOverSTREAM(t, connectorURL, token, address, secret, amount)
	return got
}

// An incoming payment's money, received through the connector, is
// withdrawn once it completed or expired, as Rafiki withdraws it: the whole
// balance, under the id of the event that ended the payment, pending or at
// once, then posted or voided; nothing for an open, unknown, foreign or
// empty payment, nor a second time.
func TestIncomingPaymentWithdrawal(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd.ID, "staticIlpAddress": "test.sender", "initialLiquidity": "1000",
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{"from-sender"}},
			"outgoing": map[string]any{"authToken": "to-sender", "endpoint": "http://127.0.0.1:9/unused"}}}}, nil); err != nil {
		t.Fatal(err)
	}
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "withdrawals"})
	if err != nil {
		t.Fatal(err)
	}
	withdraw := func(id, key, timeoutSeconds string) error {
		t.Helper()
		var out struct {
			CreateIncomingPaymentWithdrawal *struct{ Success bool } `json:"createIncomingPaymentWithdrawal"`
		}
		err := op.Do(ctx, `mutation($input: CreateIncomingPaymentWithdrawalInput!) { createIncomingPaymentWithdrawal(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"incomingPaymentId": id, "idempotencyKey": key, "timeoutSeconds": timeoutSeconds}}, &out)
		if err == nil && (out.CreateIncomingPaymentWithdrawal == nil || !out.CreateIncomingPaymentWithdrawal.Success) {
			t.Fatalf("withdrawing %s answered %+v", id, out.CreateIncomingPaymentWithdrawal)
		}
		return err
	}
	settle := func(mutation, transferID string) error {
		return op.Do(ctx, `mutation($input: `+upperFirst(mutation)+`Input!) { `+mutation+`(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"withdrawalId": transferID, "idempotencyKey": uuid.NewString()}}, nil)
	}
	liquidity := func(id string) string {
		t.Helper()
		got := liquidityOf(t, s, `query($id: String!) { incomingPayment(id: $id) { liquidity } }`, id)
		if got == nil {
			return "null"
		}
		return *got
	}
	// withdrawalOf is the payment's one debit: a withdrawal whose id is the
	// id of the event that ended the payment.
	withdrawalOf := func(id, ended, state string) string {
		t.Helper()
		var out struct {
			AccountingTransfers struct {
				Debits []struct{ ID, Amount, TransferType, State string }
			} `json:"accountingTransfers"`
		}
		if err := op.Do(ctx, `query($id: String!) { accountingTransfers(id: $id) { debits { id amount transferType state } } }`,
			map[string]any{"id": id}, &out); err != nil {
			t.Fatal(err)
		}
		history, err := app.History(ctx, s.running.Deps.JS, id)
		if err != nil {
			t.Fatal(err)
		}
		var endedBy string
		for _, env := range history {
			if env.Type == ended {
				endedBy = env.ID.String()
			}
		}
		debits := out.AccountingTransfers.Debits
		if len(debits) != 1 || debits[0].ID != endedBy || debits[0].TransferType != "WITHDRAWAL" || debits[0].State != state {
			t.Fatalf("debits of %s: %+v, want one %s withdrawal with the id of its %s event %s", id, debits, state, ended, endedBy)
		}
		return debits[0].ID
	}

	// Paid in two packets: open until the second completes it.
	paid, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID,
		"incomingAmount": map[string]any{"value": "300", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := withdraw(paid.ID, uuid.NewString(), "0"); code(t, err) != "NOT_FOUND" {
		t.Fatalf("withdrawing a pending payment: %v", err)
	}
	testkit.Eventually(t, 5*time.Second, func() bool { return payIncomingPayment(t, s, "from-sender", paid.ID, 100) == 100 },
		"paying the incoming payment")
	if err := withdraw(paid.ID, uuid.NewString(), "0"); code(t, err) != "NOT_FOUND" {
		t.Fatalf("withdrawing a processing payment: %v", err)
	}
	if got := payIncomingPayment(t, s, "from-sender", paid.ID, 200); got != 200 {
		t.Fatalf("the second packet delivered %d", got)
	}
	testkit.Eventually(t, 5*time.Second, func() bool {
		got, err := getIncomingPayment(ctx, op, paid.ID)
		return err == nil && got.State == "COMPLETED"
	}, "the incoming payment did not complete")
	if got := liquidity(paid.ID); got != "300" {
		t.Fatalf("the completed payment holds %s", got)
	}

	for _, tc := range []struct {
		name, id, timeoutSeconds, code string
	}{
		{"unknown payment", uuid.NewString(), "0", "NOT_FOUND"},
		{"id that is no UUID", "not-an-id", "0", "BAD_USER_INPUT"},
		{"timeout over a day", paid.ID, "86401", "BAD_USER_INPUT"},
	} {
		if err := withdraw(tc.id, uuid.NewString(), tc.timeoutSeconds); code(t, err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	var tenant struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := op.Do(ctx, `mutation { createTenant(input: {apiSecret: "w-secret"}) { tenant { id } } }`, nil, &tenant); err != nil {
		t.Fatal(err)
	}
	stranger := s.client(tenant.CreateTenant.Tenant.ID, "w-secret")
	err = stranger.Do(ctx, `mutation($input: CreateIncomingPaymentWithdrawalInput!) { createIncomingPaymentWithdrawal(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"incomingPaymentId": paid.ID, "idempotencyKey": uuid.NewString(), "timeoutSeconds": "0"}}, nil)
	if code(t, err) != "NOT_FOUND" {
		t.Fatalf("another tenant withdrawing: %v", err)
	}
	if got := liquidity(paid.ID); got != "300" {
		t.Fatalf("refused withdrawals moved money: %s left", got)
	}

	// A pending withdrawal holds the whole balance until it is posted; its
	// key answers again, another key finds the transfer made.
	key := uuid.NewString()
	if err := withdraw(paid.ID, key, "60"); err != nil {
		t.Fatal(err)
	}
	if got := liquidity(paid.ID); got != "0" {
		t.Fatalf("liquidity with the withdrawal pending: %s", got)
	}
	pending := withdrawalOf(paid.ID, "incoming_payment.completed", "PENDING")
	if err := withdraw(paid.ID, key, "60"); err != nil {
		t.Fatalf("the same request again: %v", err)
	}
	if err := withdraw(paid.ID, key, "0"); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("another request under the same key: %v", err)
	}
	if err := withdraw(paid.ID, uuid.NewString(), "60"); code(t, err) != "DUPLICATE" {
		t.Fatalf("withdrawing again under another key: %v", err)
	}
	if err := settle("postLiquidityWithdrawal", pending); err != nil {
		t.Fatal(err)
	}
	withdrawalOf(paid.ID, "incoming_payment.completed", "POSTED")
	if got := liquidity(paid.ID); got != "0" {
		t.Fatalf("liquidity after the post: %s", got)
	}
	if err := settle("voidLiquidityWithdrawal", pending); code(t, err) != "CONFLICT" {
		t.Fatalf("voiding a posted withdrawal: %v", err)
	}

	// Expired: one with money keeps it until withdrawn, here voided and
	// not withdrawn again; one without is deleted. A payment completed
	// with nothing has nothing to withdraw.
	soon := time.Now().Add(3 * time.Second).Format(time.RFC3339Nano)
	kept, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID, "expiresAt": soon})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID, "expiresAt": soon})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, func() bool { return payIncomingPayment(t, s, "from-sender", kept.ID, 7) == 7 },
		"paying the expiring payment")
	if _, err := s.running.Backend.IncomingPayments.Complete(ctx, commands.CompleteIncomingPayment{
		Meta: commands.Meta{ID: uuid.NewString(), Actor: commands.Actor{Operator: true}}, IncomingPaymentID: empty.ID}); err != nil {
		t.Fatal(err)
	}
	if err := withdraw(empty.ID, uuid.NewString(), "0"); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("withdrawing a payment that received nothing: %v", err)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		got, err := getIncomingPayment(ctx, op, kept.ID)
		_, goneErr := getIncomingPayment(ctx, op, gone.ID)
		return err == nil && got.State == "EXPIRED" && code(t, goneErr) == "NOT_FOUND"
	}, "the payments did not expire")
	if err := withdraw(gone.ID, uuid.NewString(), "0"); code(t, err) != "NOT_FOUND" {
		t.Fatalf("withdrawing a payment deleted at its expiry: %v", err)
	}
	if err := withdraw(kept.ID, uuid.NewString(), "60"); err != nil {
		t.Fatal(err)
	}
	voided := withdrawalOf(kept.ID, "incoming_payment.expired", "PENDING")
	if err := settle("voidLiquidityWithdrawal", voided); err != nil {
		t.Fatal(err)
	}
	if got := liquidity(kept.ID); got != "7" {
		t.Fatalf("liquidity after the void: %s", got)
	}
	if err := withdraw(kept.ID, uuid.NewString(), "0"); code(t, err) != "DUPLICATE" {
		t.Fatalf("withdrawing again after a void: %v", err)
	}
	withdrawalOf(kept.ID, "incoming_payment.expired", "VOIDED")

	if imbalances, err := s.running.Deps.Ledger.Check(ctx); err != nil || len(imbalances) != 0 {
		t.Fatalf("ledger check: %v %v", imbalances, err)
	}
	if discrepancies, err := app.CheckLiquidity(ctx, s.running.Deps.JS, s.running.Deps.Ledger); err != nil || len(discrepancies) != 0 {
		t.Fatalf("liquidity check: %v %v", discrepancies, err)
	}
}
