package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/testkit"
)

func liquidityOf(t *testing.T, s *system, query, id string) *string {
	t.Helper()
	var out map[string]*struct{ Liquidity *string }
	if err := s.operator.Do(context.Background(), query, map[string]any{"id": id}, &out); err != nil {
		t.Fatal(err)
	}
	for _, v := range out {
		return v.Liquidity
	}
	return nil
}

func TestPeersAndLiquidity(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, map[string]any{"liquidityThreshold": "50"})
	if err != nil {
		t.Fatal(err)
	}
	assetLiquidity := `query($id: String!) { asset(id: $id) { liquidity } }`
	if got := liquidityOf(t, s, assetLiquidity, usd.ID); got == nil || *got != "0" {
		t.Fatalf("a new asset's liquidity: %v", got)
	}
	mutate := func(mutation string, input map[string]any) error {
		input["idempotencyKey"] = uuid.NewString()
		return op.Do(ctx, `mutation($input: `+strings.ToUpper(mutation[:1])+mutation[1:]+`Input!) { `+mutation+`(input: $input) { success } }`,
			map[string]any{"input": input}, nil)
	}
	deposit := uuid.NewString()
	if err := mutate("depositAssetLiquidity", map[string]any{"assetId": usd.ID, "amount": "1000", "id": deposit}); err != nil {
		t.Fatal(err)
	}
	if err := mutate("depositAssetLiquidity", map[string]any{"assetId": usd.ID, "amount": "1000", "id": deposit}); code(t, err) != "DUPLICATE" {
		t.Fatalf("deposit id reused: %v", err)
	}
	if err := mutate("depositAssetLiquidity", map[string]any{"assetId": usd.ID, "amount": "0", "id": uuid.NewString()}); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("zero deposit: %v", err)
	}
	withdrawal := uuid.NewString()
	if err := mutate("createAssetLiquidityWithdrawal", map[string]any{"assetId": usd.ID, "amount": "960", "id": withdrawal, "timeoutSeconds": "60"}); err != nil {
		t.Fatal(err)
	}
	if got := liquidityOf(t, s, assetLiquidity, usd.ID); *got != "40" {
		t.Fatalf("liquidity with a pending withdrawal: %v", *got)
	}
	if err := mutate("createAssetLiquidityWithdrawal", map[string]any{"assetId": usd.ID, "amount": "41", "id": uuid.NewString(), "timeoutSeconds": "0"}); code(t, err) != "FORBIDDEN" {
		t.Fatalf("withdrawing more than the balance: %v", err)
	}
	if err := mutate("voidLiquidityWithdrawal", map[string]any{"withdrawalId": withdrawal}); err != nil {
		t.Fatal(err)
	}
	if err := mutate("postLiquidityWithdrawal", map[string]any{"withdrawalId": withdrawal}); code(t, err) != "CONFLICT" {
		t.Fatalf("posting a voided withdrawal: %v", err)
	}
	if err := mutate("postLiquidityWithdrawal", map[string]any{"withdrawalId": uuid.NewString()}); code(t, err) != "NOT_FOUND" {
		t.Fatalf("posting an unknown withdrawal: %v", err)
	}
	if got := liquidityOf(t, s, assetLiquidity, usd.ID); *got != "1000" {
		t.Fatalf("liquidity after the void: %v", *got)
	}

	// Peers: created with initial liquidity, unique tokens, listed.
	var created struct {
		CreatePeer struct {
			Peer struct {
				ID, StaticIlpAddress string
				Liquidity            *string
				Routes               []string
				HTTP                 struct{ Outgoing struct{ Endpoint string } }
			}
		} `json:"createPeer"`
	}
	createPeer := `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id staticIlpAddress liquidity routes http { outgoing { endpoint } } } } }`
	peerInput := func(address, token string) map[string]any {
		return map[string]any{"input": map[string]any{"assetId": usd.ID, "staticIlpAddress": address, "initialLiquidity": "300",
			"http": map[string]any{"incoming": map[string]any{"authTokens": []string{token}},
				"outgoing": map[string]any{"authToken": "out", "endpoint": "http://peer.test/ilp"}}}}
	}
	if err := op.Do(ctx, createPeer, peerInput("test.peer-a", "token-a"), &created); err != nil {
		t.Fatal(err)
	}
	p := created.CreatePeer.Peer
	if p.Liquidity == nil || *p.Liquidity != "300" || p.StaticIlpAddress != "test.peer-a" || p.HTTP.Outgoing.Endpoint != "http://peer.test/ilp" {
		t.Fatalf("created peer %+v", p)
	}
	if err := op.Do(ctx, createPeer, peerInput("test.peer-b", "token-a"), nil); code(t, err) != "DUPLICATE" {
		t.Fatalf("a second peer with the same token: %v", err)
	}
	if err := op.Do(ctx, createPeer, peerInput("not an address", "token-c"), nil); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("a bad ILP address: %v", err)
	}
	if err := mutate("createPeerLiquidityWithdrawal", map[string]any{"peerId": p.ID, "amount": "100", "id": uuid.NewString(), "timeoutSeconds": "0"}); err != nil {
		t.Fatal(err)
	}
	if got := liquidityOf(t, s, `query($id: String!) { peer(id: $id) { liquidity } }`, p.ID); *got != "200" {
		t.Fatalf("peer liquidity after a withdrawal: %v", *got)
	}
	var transfers struct {
		AccountingTransfers struct {
			Debits, Credits []struct{ Amount, TransferType, State string }
		} `json:"accountingTransfers"`
	}
	if err := op.Do(ctx, `query($id: String!) { accountingTransfers(id: $id) { debits { amount transferType state } credits { amount transferType state } } }`,
		map[string]any{"id": p.ID}, &transfers); err != nil {
		t.Fatal(err)
	}
	at := transfers.AccountingTransfers
	if len(at.Credits) != 1 || at.Credits[0].Amount != "300" || at.Credits[0].TransferType != "DEPOSIT" ||
		len(at.Debits) != 1 || at.Debits[0].Amount != "100" || at.Debits[0].State != "POSTED" {
		t.Fatalf("peer transfers: %+v", at)
	}

	// A post whose ledger step was done before its outcome was recorded (a
	// process killed in between) is recorded as posted when retried.
	lost := uuid.NewString()
	if err := mutate("createPeerLiquidityWithdrawal", map[string]any{"peerId": p.ID, "amount": "10", "id": lost, "timeoutSeconds": "60"}); err != nil {
		t.Fatal(err)
	}
	if err := s.running.Deps.Ledger.PostWithdrawal(ctx, uuid.MustParse(lost)); err != nil {
		t.Fatal(err)
	}
	if err := mutate("postLiquidityWithdrawal", map[string]any{"withdrawalId": lost}); err != nil {
		t.Fatalf("posting a withdrawal the ledger posted: %v", err)
	}
	peerHistory, err := app.History(ctx, s.running.Deps.JS, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := peerHistory[len(peerHistory)-1]; last.Type != "liquidity.withdrawal_posted" || !strings.Contains(string(last.Data), lost) {
		t.Fatalf("the post was not recorded: %s %s", last.Type, last.Data)
	}

	// A pending withdrawal left to expire is voided by the ledger and
	// recorded on the owner's stream by a worker.
	eur, err := createAsset(ctx, op, "EUR", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := mutate("depositAssetLiquidity", map[string]any{"assetId": eur.ID, "amount": "50", "id": uuid.NewString()}); err != nil {
		t.Fatal(err)
	}
	expiring := uuid.NewString()
	if err := mutate("createAssetLiquidityWithdrawal", map[string]any{"assetId": eur.ID, "amount": "20", "id": expiring, "timeoutSeconds": "1"}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 15*time.Second, func() bool {
		h, err := app.History(ctx, s.running.Deps.JS, eur.ID)
		return err == nil && h[len(h)-1].Type == "liquidity.withdrawal_voided" && strings.Contains(string(h[len(h)-1].Data), expiring)
	}, "the expired withdrawal was not recorded as voided")
	if got := liquidityOf(t, s, assetLiquidity, eur.ID); *got != "50" {
		t.Fatalf("liquidity after the withdrawal expired: %v", *got)
	}

	// An asset held by a peer cannot be deleted.
	if err := op.Do(ctx, `mutation($id: ID!) { deleteAsset(input: {id: $id}) { asset { id } } }`, map[string]any{"id": usd.ID}, nil); code(t, err) != "FORBIDDEN" {
		t.Fatalf("deleting an asset in use: %v", err)
	}

	// A wallet address that received nothing has nothing to withdraw.
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "wm"})
	if err != nil {
		t.Fatal(err)
	}
	err = op.Do(ctx, `mutation($input: CreateWalletAddressWithdrawalInput!) { createWalletAddressWithdrawal(input: $input) { withdrawal { id amount } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": wa.ID, "id": uuid.NewString(), "idempotencyKey": uuid.NewString(), "timeoutSeconds": "0"}}, nil)
	if code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("withdrawing an empty wallet address: %v", err)
	}
	if got := liquidityOf(t, s, `query($id: String!) { walletAddress(id: $id) { liquidity } }`, wa.ID); got == nil || *got != "0" {
		t.Fatalf("wallet address liquidity: %v", got)
	}

	// Every movement is on the owner's event history.
	history, err := app.History(ctx, s.running.Deps.JS, usd.ID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, env := range history {
		types = append(types, env.Type)
	}
	want := "asset.created liquidity.deposit_requested liquidity.deposited liquidity.withdrawal_requested liquidity.withdrawal_created liquidity.low " +
		"liquidity.withdrawal_requested liquidity.request_failed liquidity.withdrawal_void_requested liquidity.withdrawal_voided"
	if strings.Join(types, " ") != want {
		t.Fatalf("asset history %v, want %s", types, want)
	}
	if imbalances, err := s.running.Deps.Ledger.Check(ctx); err != nil || len(imbalances) != 0 {
		t.Fatalf("ledger check: %v %v", imbalances, err)
	}
	if discrepancies, err := app.CheckLiquidity(ctx, s.running.Deps.JS, s.running.Deps.Ledger); err != nil || len(discrepancies) != 0 {
		t.Fatalf("liquidity check: %v %v", discrepancies, err)
	}
}
