package handlers_test

import (
	"context"
	"testing"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/testkit"
)

func TestStateCacheFoldsOnlyNewEvents(t *testing.T) {
	n := testkit.StartNATS(t, false)
	ctx := context.Background()
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	const id = "6f1b8c1e-59b5-4a4a-9d6c-1f1b7c9f0a01"
	subject, err := tenant.Subject(id)
	if err != nil {
		t.Fatal(err)
	}
	target := handlers.Target{Subject: subject, AggregateType: tenant.AggregateType, AggregateID: id, TenantID: id}
	var version uint64
	appendEvent := func(commandID string, ev events.Event) {
		t.Helper()
		msgs, err := handlers.Messages(subject, version, handlers.Meta(target, handlers.CommandInfo{ID: commandID}), commandID, 0, ev)
		if err != nil {
			t.Fatal(err)
		}
		seqs, err := store.Append(ctx, msgs)
		if err != nil {
			t.Fatal(err)
		}
		version = seqs[0]
	}
	folded := 0
	cache := handlers.NewStateCache(func(s tenant.State, env events.Envelope, ev events.Event) tenant.State {
		folded++
		return tenant.Evolve(s, env, ev)
	})
	load := func() (tenant.State, uint64) {
		t.Helper()
		s, v, err := cache.Load(ctx, store, subject)
		if err != nil {
			t.Fatal(err)
		}
		return s, v
	}

	if s, v := load(); s.Exists || v != 0 || folded != 0 {
		t.Fatalf("absent aggregate: %+v at %d, %d folded", s, v, folded)
	}
	appendEvent("c1", &events.TenantCreated{APISecret: "s", PublicName: "One"})
	name := "Two"
	appendEvent("c2", &events.TenantUpdated{PublicName: &name})
	if s, v := load(); s.PublicName != "Two" || v != version || folded != 2 {
		t.Fatalf("first load: %+v at %d (want %d), %d folded", s, v, version, folded)
	}
	if s, v := load(); s.PublicName != "Two" || v != version || folded != 2 {
		t.Fatalf("cached load: %+v at %d, %d folded, want no new folds", s, v, folded)
	}
	appendEvent("c3", &events.TenantSettingsSet{Settings: []events.Setting{{Key: "WALLET_ADDRESS_URL", Value: "https://x.test"}}})
	s, v := load()
	if s.Settings["WALLET_ADDRESS_URL"] != "https://x.test" || s.PublicName != "Two" || v != version || folded != 3 {
		t.Fatalf("after a new event: %+v at %d (want %d), %d folded, want 3", s, v, version, folded)
	}
}
