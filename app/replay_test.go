package app_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

// TestReplayRebuildsEveryReadModelIdentically fills every read model through
// the admin API, then rebuilds each projection from the first event and
// compares its tables with what the live projection had built.
func TestReplayRebuildsEveryReadModelIdentically(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, map[string]any{"liquidityThreshold": "7"})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation($id: ID!) { setFee(input: {assetId: $id, type: SENDING, fee: {fixed: "1", basisPoints: 5}}) { fee { id } } }`,
		map[string]any{"id": usd.ID}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := createAsset(ctx, op, "EUR", 2, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": fmt.Sprintf("w%d", i), "publicName": "W",
			"additionalProperties": []map[string]any{{"key": "k", "value": fmt.Sprint(i), "visibleInOpenPayments": i%2 == 0}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := op.Do(ctx, `mutation($input: CreateWalletAddressKeyInput!) { createWalletAddressKey(input: $input) { walletAddressKey { id } } }`,
			map[string]any{"input": map[string]any{"walletAddressId": wa.ID, "jwk": newJWK(t, "k")}}, nil); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			if err := op.Do(ctx, `mutation($id: ID!) { updateWalletAddress(input: {id: $id, status: INACTIVE, publicName: "gone"}) { walletAddress { id } } }`,
				map[string]any{"id": wa.ID}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd.ID, "staticIlpAddress": "test.replay-peer", "routes": []string{"test.more"},
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{uuid.NewString()}},
			"outgoing": map[string]any{"authToken": "o", "endpoint": "http://p.test"}}}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation { createTenant(input: {apiSecret: "r", publicName: "R"}) { tenant { id } } }`, nil, nil); err != nil {
		t.Fatal(err)
	}

	for _, p := range app.Projections(s.running.Deps.Keys) {
		consumer, _ := s.running.Deps.Streams.Consumer(projections.ConsumerName(p))
		counts := testkit.ReplayMatchesLive(t, s.running.Deps.Pool, s.running.Deps.JS, app.EventsStream, p, consumer.FilterSubjects[0])
		for table, n := range counts {
			if n == 0 {
				t.Fatalf("%s.%s is empty: the test did not exercise it", projections.Schema(p), table)
			}
		}
	}
}
