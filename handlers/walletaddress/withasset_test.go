package walletaddress_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/testkit"
	"github.com/rafiki-go/rafiki/testkit/readcount"
)

// withAssetFixture is a store holding one tenant's events, and appendTo
// appends one event of an aggregate of it.
type withAssetFixture struct {
	store                 *eventstore.Store
	tenantID, assetID, id string
	appendTo              func(aggregateType, aggregateID string, ev events.Event)
}

func newWithAssetFixture(t *testing.T) *withAssetFixture {
	t.Helper()
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
	return &withAssetFixture{store: store, tenantID: tenantID, assetID: assetID, id: id, appendTo: appendTo}
}

// loader loads f's wallet address through r, answering the requests for
// last sequences each load made.
func (f *withAssetFixture) loader(t *testing.T, r *walletaddress.WithAsset, counting *readcount.Store) func() (walletaddress.State, asset.State, int64) {
	return func() (walletaddress.State, asset.State, int64) {
		t.Helper()
		before := (counting.Lasts.Load() + counting.LastsOfMany.Load())
		wa, a, err := r.Load(context.Background(), f.tenantID, f.id)
		if err != nil {
			t.Fatal(err)
		}
		return wa, a, (counting.Lasts.Load() + counting.LastsOfMany.Load()) - before
	}
}

// Once a wallet address has been read, it and its asset are looked at in
// one request, and what changed in either since is seen.
func TestWithAssetReadsBothInOneRequest(t *testing.T) {
	f := newWithAssetFixture(t)
	appendTo, assetID, id := f.appendTo, f.assetID, f.id
	counting := &readcount.Store{Store: f.store}
	r := walletaddress.NewWithAsset(counting)
	load := f.loader(t, r, counting)

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

// A trusted wallet address read less than its time ago is answered without
// a request while the read models' progress stays; a move of the progress,
// the end of its time, or progress unknown make it read again.
func TestWithAssetTrustedUntilTheReadModelsMove(t *testing.T) {
	f := newWithAssetFixture(t)
	f.appendTo(asset.AggregateType, f.assetID, &events.AssetCreated{Code: "USD", Scale: 2, Ledger: 1})
	f.appendTo(walletaddress.AggregateType, f.id, &events.WalletAddressCreated{AssetID: f.assetID, Address: "https://wallet.test/a"})
	counting := &readcount.Store{Store: f.store}
	r := walletaddress.NewWithAsset(counting)
	const ttl = 15 * time.Second
	now := time.Now()
	progress, known := walletaddress.Progress{WalletAddresses: 10, Assets: 4}, true
	walletaddress.SetClock(r, func() time.Time { return now })
	r.Trust(func() (walletaddress.Progress, bool) { return progress, known }, ttl)
	load := f.loader(t, r, counting)

	if wa, a, requests := load(); !wa.Active() || a.Code != "USD" || requests != 2 {
		t.Fatalf("first read: %+v, %+v in %d requests", wa, a, requests)
	}
	if wa, a, requests := load(); !wa.Active() || a.Code != "USD" || requests != 0 {
		t.Fatalf("trusted read: %+v, %+v in %d requests; want none", wa, a, requests)
	}
	// Until the read models apply a deactivation, the pair read before
	// stands, as Rafiki's cache would; once they do, it is read again.
	f.appendTo(walletaddress.AggregateType, f.id, &events.WalletAddressDeactivated{})
	if wa, _, requests := load(); !wa.Active() || requests != 0 {
		t.Fatalf("before the read models moved: %+v in %d requests", wa, requests)
	}
	progress.WalletAddresses++
	if wa, _, requests := load(); wa.Active() || requests != 1 {
		t.Fatalf("after the read models moved: %+v in %d requests; want the deactivation in 1", wa, requests)
	}
	if _, _, requests := load(); requests != 0 {
		t.Fatalf("trusted again: %d requests", requests)
	}
	progress.Assets++
	if _, _, requests := load(); requests != 1 {
		t.Fatalf("after the assets' read model moved: %d requests", requests)
	}
	now = now.Add(ttl)
	if _, _, requests := load(); requests != 1 {
		t.Fatalf("at the end of its time: %d requests", requests)
	}
	known = false
	for i := range 2 {
		if _, _, requests := load(); requests != 1 {
			t.Fatalf("progress unknown, read %d: %d requests", i, requests)
		}
	}
}
