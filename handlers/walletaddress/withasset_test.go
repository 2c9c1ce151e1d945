package walletaddress_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/testkit"
	"github.com/rafiki-go/rafiki/testkit/readcount"
)

// Once a wallet address has been read, it and its asset are looked at in
// one request, and what changed in either since is seen.
func TestWithAssetReadsBothInOneRequest(t *testing.T) {
	ctx := context.Background()
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	tenantID, assetID, id := uuid.NewString(), uuid.NewString(), uuid.NewString()
	versions := map[string]uint64{}
	appendTo := func(aggregateType, aggregateID string, ev events.Event) {
		t.Helper()
		subject, err := handlers.Subject(tenantID, aggregateType, aggregateID)
		if err != nil {
			t.Fatal(err)
		}
		target := handlers.Target{Subject: subject, AggregateType: aggregateType, AggregateID: aggregateID, TenantID: tenantID}
		commandID := uuid.NewString()
		res, err := handlers.AppendEvents(ctx, store, subject, versions[subject], handlers.Meta(target, handlers.CommandInfo{ID: commandID}), commandID, ev)
		if err != nil {
			t.Fatal(err)
		}
		versions[subject] = res.Sequence
	}
	counting := &readcount.Store{Store: store}
	r := walletaddress.NewWithAsset(counting)
	load := func() (walletaddress.State, asset.State, int64) {
		t.Helper()
		before := (counting.Lasts.Load() + counting.LastsOfMany.Load())
		wa, a, err := r.Load(ctx, tenantID, id)
		if err != nil {
			t.Fatal(err)
		}
		return wa, a, (counting.Lasts.Load() + counting.LastsOfMany.Load()) - before
	}

	if wa, _, _ := load(); wa.Exists {
		t.Fatalf("a wallet address with no events: %+v", wa)
	}
	appendTo(asset.AggregateType, assetID, &events.AssetCreated{Code: "USD", Scale: 2, Ledger: 1})
	appendTo(walletaddress.AggregateType, id, &events.WalletAddressCreated{AssetID: assetID, Address: "https://wallet.test/a"})
	if wa, a, requests := load(); !wa.Exists || a.Code != "USD" || requests != 2 {
		t.Fatalf("first read: %+v, %+v in %d requests; want both in 2", wa, a, requests)
	}
	if wa, a, requests := load(); !wa.Active() || a.Code != "USD" || requests != 1 {
		t.Fatalf("second read: %+v, %+v in %d requests; want both in 1", wa, a, requests)
	}
	appendTo(walletaddress.AggregateType, id, &events.WalletAddressDeactivated{})
	appendTo(asset.AggregateType, assetID, &events.FeeSet{FeeID: uuid.NewString(), Type: "SENDING", Fixed: 7})
	wa, a, requests := load()
	if wa.Active() || a.SendingFee == nil || a.SendingFee.Fixed != 7 || requests != 1 {
		t.Fatalf("after both changed: %+v, %+v in %d requests; want the changes in 1", wa, a, requests)
	}
}
