package handlers_test

import (
	"context"
	"testing"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/testkit"
)

// tenantHistory is a store holding one tenant's subject, and a way to
// append events to it.
func tenantHistory(t *testing.T, id string) (store *eventstore.Store, subject string, appendEvent func(commandID string, ev events.Event) uint64) {
	t.Helper()
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(context.Background(), n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	subject, err = tenant.Subject(id)
	if err != nil {
		t.Fatal(err)
	}
	target := handlers.Target{Subject: subject, AggregateType: tenant.AggregateType, AggregateID: id, TenantID: id}
	var version uint64
	return store, subject, func(commandID string, ev events.Event) uint64 {
		t.Helper()
		res, err := handlers.AppendEvents(context.Background(), store, subject, version,
			handlers.Meta(target, handlers.CommandInfo{ID: commandID}), commandID, ev)
		if err != nil {
			t.Fatal(err)
		}
		version = res.Sequence
		return version
	}
}

func TestStateCacheFoldsOnlyNewEvents(t *testing.T) {
	ctx := context.Background()
	store, subject, appendTo := tenantHistory(t, "6f1b8c1e-59b5-4a4a-9d6c-1f1b7c9f0a01")
	var version uint64
	appendEvent := func(commandID string, ev events.Event) {
		t.Helper()
		version = appendTo(commandID, ev)
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

// laggingStore answers LoadAfter as a replica that misses the newest
// messages for its first reads would.
type laggingStore struct {
	handlers.Store
	missing int // reads that still lack the subject's newest message
	reads   int
}

func (l *laggingStore) LoadAfter(ctx context.Context, subject string, from uint64) ([]events.Envelope, uint64, error) {
	l.reads++
	envs, version, err := l.Store.LoadAfter(ctx, subject, from)
	if err != nil || l.missing == 0 || len(envs) == 0 {
		return envs, version, err
	}
	l.missing--
	envs = envs[:len(envs)-1]
	if len(envs) == 0 {
		return nil, from, nil
	}
	return envs, envs[len(envs)-1].Sequence, nil
}

// A replica that lags the leader does not make the cache fold a state short
// of a change the leader acknowledged: it reads again until it has it, and
// gives up with SERVICE_UNAVAILABLE rather than answer stale.
func TestStateCacheReadsThroughALaggingReplica(t *testing.T) {
	ctx := context.Background()
	store, subject, appendEvent := tenantHistory(t, "6f1b8c1e-59b5-4a4a-9d6c-1f1b7c9f0a02")
	appendEvent("l1", &events.TenantCreated{APISecret: "s", PublicName: "One"})
	name := "Two"
	appendEvent("l2", &events.TenantUpdated{PublicName: &name})

	lagging := &laggingStore{Store: store, missing: 2}
	s, _, err := handlers.NewStateCache(tenant.Evolve).Load(ctx, lagging, subject)
	if err != nil || s.PublicName != "Two" || lagging.reads != 3 {
		t.Fatalf("through a lagging replica: %+v %v after %d reads, want Two after 3", s, err, lagging.reads)
	}
	stuck := &laggingStore{Store: store, missing: 1 << 30}
	if _, _, err := handlers.NewStateCache(tenant.Evolve).Load(ctx, stuck, subject); apperr.KindOf(err) != apperr.Unavailable {
		t.Fatalf("a replica that never catches up: %v, want Unavailable", err)
	}
}
