package app_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/testkit"
)

func TestIdempotencyKeys(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	key := uuid.NewString()
	first, err := createAsset(ctx, op, "USD", 2, map[string]any{"idempotencyKey": key})
	if err != nil {
		t.Fatal(err)
	}
	again, err := createAsset(ctx, op, "USD", 2, map[string]any{"idempotencyKey": key})
	if err != nil || again.ID != first.ID || again.Code != "USD" {
		t.Fatalf("replay: %+v %v, want the first result %s", again, err, first.ID)
	}
	if _, err := createAsset(ctx, op, "EUR", 2, map[string]any{"idempotencyKey": key}); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("same key, other arguments: %v", err)
	}
	if _, err := createAsset(ctx, op, "USD", 2, nil); code(t, err) != "DUPLICATE" {
		t.Fatalf("no key: %v", err)
	}

	// Once its record has expired, a key may name another request, as in
	// Rafiki: that request is a command of its own, not a retry of the first.
	if err := testkit.Redis(t).Del(ctx, "idempotency:"+op.TenantID+":"+key).Err(); err != nil {
		t.Fatal(err)
	}
	other, err := createAsset(ctx, op, "EUR", 2, map[string]any{"idempotencyKey": key})
	if err != nil || other.ID == first.ID || other.Code != "EUR" {
		t.Fatalf("the key reused for another request once expired: %+v %v, want a new EUR asset", other, err)
	}

	// Another tenant's key space is its own.
	var created struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := op.Do(ctx, `mutation { createTenant(input: {apiSecret: "c-secret"}) { tenant { id } } }`, nil, &created); err != nil {
		t.Fatal(err)
	}
	tc := s.client(created.CreateTenant.Tenant.ID, "c-secret")
	theirs, err := createAsset(ctx, tc, "USD", 2, map[string]any{"idempotencyKey": key})
	if err != nil || theirs.ID == first.ID {
		t.Fatalf("the same key for another tenant: %+v %v", theirs, err)
	}

	// Concurrent requests under one key: one runs, the others wait out the
	// lock or replay its result; none creates a second asset.
	concurrent := uuid.NewString()
	var wg sync.WaitGroup
	ids := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			a, err := createAsset(ctx, op, "GBP", 2, map[string]any{"idempotencyKey": concurrent})
			switch {
			case err == nil:
				ids <- a.ID
			case code(t, err) != "CONFLICT":
				t.Errorf("concurrent request: %v", err)
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Fatalf("concurrent requests under one key produced %d assets", len(seen))
	}
}
