package handlers_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/testkit/readcount"
)

func TestLocatorRemembersWhatItFound(t *testing.T) {
	id := uuid.NewString()
	store, _, appendEvent := tenantHistory(t, id)
	counting := &readcount.Store{Store: store}
	locator := handlers.NewLocator(counting)
	ctx := context.Background()

	for range 2 {
		if _, found, err := locator.Locate(ctx, tenant.AggregateType, id); err != nil || found {
			t.Fatalf("before its first event: found %v, err %v", found, err)
		}
	}
	if got := counting.Lasts.Load(); got != 2 {
		t.Fatalf("an aggregate not found is read again each time: %d reads, want 2", got)
	}

	appendEvent(uuid.NewString(), &events.TenantCreated{APISecret: "secret"})
	for i := range 3 {
		tenantID, found, err := locator.Locate(ctx, tenant.AggregateType, id)
		if err != nil || !found || tenantID != id {
			t.Fatalf("locate %d: tenant %q, found %v, err %v; want %s", i, tenantID, found, err, id)
		}
	}
	if got := counting.Lasts.Load(); got != 3 {
		t.Fatalf("a tenant found is remembered: %d reads, want 3", got)
	}
	if _, _, err := locator.Locate(ctx, tenant.AggregateType, "not-an-id"); err == nil {
		t.Fatal("an id that is not a UUID is refused")
	}
}

// An aggregate a command of this process made is located without a read.
func TestLocatorRemembersWhatWasMade(t *testing.T) {
	id := uuid.NewString()
	store, _, _ := tenantHistory(t, id)
	counting := &readcount.Store{Store: store}
	locator := handlers.NewLocator(counting)
	locator.Remember(tenant.AggregateType, id, "made-here")
	tenantID, found, err := locator.Locate(context.Background(), tenant.AggregateType, id)
	if err != nil || !found || tenantID != "made-here" || counting.Lasts.Load() != 0 {
		t.Fatalf("tenant %q, found %v, err %v after %d reads; want the one remembered and no read", tenantID, found, err, counting.Lasts.Load())
	}
}
