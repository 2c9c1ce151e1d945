package systemtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
)

// TestKilledBetweenRequestAndLedger runs `rafiki dev` with the failpoint
// that kills it (SIGKILL, by itself) right after it stored a deposit's
// request, before the ledger moved the money. Started again without it,
// its worker completes the deposit: the balance shows it once, the asset's
// history holds the request and its outcome, a retry with the same
// idempotency key succeeds, and `rafiki ledger check` finds every deposit
// explained by its events.
func TestKilledBetweenRequestAndLedger(t *testing.T) {
	h := newHarness(t)
	r := h.NewRafiki(nil)
	dev := r.Start("dev-failpoint", map[string]string{"RAFIKI_FAILPOINT": app.FailpointLiquidityAfterRequest}, "dev")
	r.WaitReady(t, dev, 90*time.Second)
	op, assetID := operatorWithAsset(t, r, 20*time.Second)
	ctx := context.Background()

	transferID, key := uuid.NewString(), uuid.NewString()
	deposit := func() error {
		return op.Do(ctx, `mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"assetId": assetID, "amount": "100", "id": transferID, "idempotencyKey": key}}, nil)
	}
	if err := deposit(); err == nil {
		t.Fatal("the deposit succeeded through the failpoint")
	}
	// dev dies at the failpoint.
	dev.WaitExit(t, 10*time.Second)

	dev2 := r.Start("dev", nil, "dev")
	r.WaitReady(t, dev2, 90*time.Second)
	// Right after the restart nothing moved yet that the events do not
	// explain.
	checkLedger(t, r)
	if got := assetLiquidity(t, op, assetID); got != "0" {
		t.Fatalf("liquidity before the deposit was completed: %s", got)
	}
	// The worker completes it once the request's own handler is past its
	// window (a minute after the request).
	deadline := time.Now().Add(3 * time.Minute)
	for assetLiquidity(t, op, assetID) != "100" {
		if time.Now().After(deadline) {
			t.Fatalf("the deposit was not completed; liquidity %s", assetLiquidity(t, op, assetID))
		}
		time.Sleep(time.Second)
	}
	if err := deposit(); err != nil {
		t.Fatalf("retry with the same idempotency key: %v", err)
	}
	if got := assetLiquidity(t, op, assetID); got != "100" {
		t.Fatalf("liquidity after the retry: %s", got)
	}
	out, err := r.Run(60*time.Second, "events", assetID)
	if err != nil {
		t.Fatalf("rafiki events: %v\n%s", err, out)
	}
	if strings.Count(out, "liquidity.deposit_requested") != 1 || strings.Count(out, "liquidity.deposited") != 1 {
		t.Fatalf("asset history:\n%s", out)
	}
	checkLedger(t, r)
}

// checkLedger runs `rafiki ledger check`, which must find every ledger
// balanced and every deposit and withdrawal explained by its events.
func checkLedger(t *testing.T, r *Rafiki) {
	t.Helper()
	out, err := r.Run(60*time.Second, "ledger", "check")
	if err != nil || !strings.Contains(out, "events explain every deposit and withdrawal") {
		t.Fatalf("ledger check: %v\n%s", err, out)
	}
}

func assetLiquidity(t *testing.T, op *adminclient.Client, assetID string) string {
	t.Helper()
	var out struct{ Asset struct{ Liquidity string } }
	if err := op.Do(context.Background(), `query($id: String!) { asset(id: $id) { liquidity } }`, map[string]any{"id": assetID}, &out); err != nil {
		t.Fatalf("asset liquidity: %v", err)
	}
	return out.Asset.Liquidity
}
