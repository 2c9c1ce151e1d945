package readmodel_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/readmodel"
)

// A cursor naming a row of another tenant, wallet address or client pages
// as an unknown one does: where that row sits in time is none of the
// caller's business. A row of the caller's own that the rest of the filter
// no longer keeps (deleted since the page before) still places the page.
func TestCursorsNameTheOwnersRowsOnly(t *testing.T) {
	ctx := context.Background()
	pool := incomingPaymentsModel(t)
	alice, bob, wallet := uuid.NewString(), uuid.NewString(), uuid.NewString()
	start := time.Now().UTC().Truncate(time.Microsecond)
	n := 0
	add := func(tenant, client string, deleted bool) string {
		t.Helper()
		id := uuid.NewString()
		at := start.Add(time.Duration(n) * time.Second)
		n++
		var deletedAt *time.Time
		if deleted {
			deletedAt = &at
		}
		if _, err := pool.Exec(ctx, `INSERT INTO rm_incoming_payments.incoming_payments (id, tenant_id, wallet_address_id,
				asset_id, asset_code, asset_scale, state, received_amount, expires_at, client, initiated_by, deleted_at, created_at, updated_at, version)
			VALUES ($1, $2, $3, $3, 'USD', 2, 'PENDING', 0, $4, $5, 'CARD', $6, $4, $4, 1)`,
			id, tenant, wallet, at, client, deletedAt); err != nil {
			t.Fatal(err)
		}
		return id
	}
	a1 := add(alice, "https://x.example/c", false)
	b1 := add(bob, "https://x.example/c", false)
	a2 := add(alice, "https://y.example/c", false)
	aDeleted := add(alice, "https://x.example/c", true)
	a3 := add(alice, "https://x.example/c", false)

	read := readmodel.NewReader(pool, nil)
	list := func(f readmodel.IncomingPaymentFilter, after string) []string {
		t.Helper()
		items, _, err := read.IncomingPayments(ctx, f, readmodel.Page{After: &after})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range items {
			ids = append(ids, p.ID)
		}
		return ids
	}
	client := "https://x.example/c"
	for _, tc := range []struct {
		name   string
		filter readmodel.IncomingPaymentFilter
		after  string
		want   []string
	}{
		{"the tenant's own row", readmodel.IncomingPaymentFilter{TenantScope: &alice}, a1, []string{a2, a3}},
		{"another tenant's row", readmodel.IncomingPaymentFilter{TenantScope: &alice}, b1, nil},
		{"an unknown row", readmodel.IncomingPaymentFilter{TenantScope: &alice}, uuid.NewString(), nil},
		{"another client's row", readmodel.IncomingPaymentFilter{TenantScope: &alice, Client: &client}, a2, nil},
		{"the client's own row", readmodel.IncomingPaymentFilter{TenantScope: &alice, Client: &client}, a1, []string{a3}},
		{"the owner's row deleted since", readmodel.IncomingPaymentFilter{TenantScope: &alice}, aDeleted, []string{a3}},
		{"any row for the operator", readmodel.IncomingPaymentFilter{}, b1, []string{a2, a3}},
	} {
		if got := list(tc.filter, tc.after); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}

	// The page info of a page after another owner's row tells nothing either.
	last := 1
	items, info, err := read.IncomingPayments(ctx, readmodel.IncomingPaymentFilter{TenantScope: &alice},
		readmodel.Page{Before: &b1, Last: &last})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 0 || info.HasNextPage || info.HasPreviousPage {
		t.Errorf("before another tenant's row: %d items, %+v", len(items), info)
	}
}
