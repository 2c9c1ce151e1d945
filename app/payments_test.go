package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/testkit"
)

type paymentsOut struct {
	Payments struct {
		PageInfo struct {
			StartCursor, EndCursor       *string
			HasNextPage, HasPreviousPage bool
		}
		Edges []struct {
			Cursor string
			Node   struct {
				ID, Type, WalletAddressID, State, CreatedAt string
				Client, Liquidity                           *string
				Metadata                                    map[string]any
				Tenant                                      *struct{ ID string }
			}
		}
	} `json:"payments"`
}

const paymentsQuery = `query($after: String, $before: String, $first: Int, $last: Int, $sortOrder: SortOrder, $filter: PaymentFilter, $tenantId: String) {
	payments(after: $after, before: $before, first: $first, last: $last, sortOrder: $sortOrder, filter: $filter, tenantId: $tenantId) {
		pageInfo { startCursor endCursor hasNextPage hasPreviousPage }
		edges { cursor node { id type walletAddressId state createdAt client liquidity metadata tenant { id } } } } }`

// The combined payments list through the signed admin API: the caller's
// tenant's payments (the operator's choice of every tenant's or one's),
// filtered by kind and wallet address on their in lists only, paged as the
// other lists are; a payment deleted at its expiry is not listed.
func TestPaymentsList(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "pay-alice"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "pay-bob"})
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := op.Do(ctx, `mutation { createTenant(input: {apiSecret: "p-secret", settings: [{key: WALLET_ADDRESS_URL, value: "http://wallet.test/bank-p"}]}) { tenant { id } } }`, nil, &created); err != nil {
		t.Fatal(err)
	}
	tenantID := created.CreateTenant.Tenant.ID
	tc := s.client(tenantID, "p-secret")
	eur, err := createAsset(ctx, tc, "EUR", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	carol, err := createWalletAddress(ctx, tc, map[string]any{"assetId": eur.ID, "address": "carol"})
	if err != nil {
		t.Fatal(err)
	}

	gone, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": alice.ID, "expiresAt": time.Now().Add(1500 * time.Millisecond).Format(time.RFC3339Nano)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range []struct {
		client *adminclient.Client
		input  map[string]any
	}{
		{op, map[string]any{"walletAddressId": alice.ID, "metadata": map[string]any{"description": "first"}}},
		{op, map[string]any{"walletAddressId": bob.ID}},
		{op, map[string]any{"walletAddressId": alice.ID}},
		{tc, map[string]any{"walletAddressId": carol.ID}},
	} {
		p, err := createIncomingPayment(ctx, c.client, c.input)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	first, err := getIncomingPayment(ctx, op, ids[0])
	if err != nil {
		t.Fatal(err)
	}

	list := func(c *adminclient.Client, vars map[string]any) paymentsOut {
		t.Helper()
		var out paymentsOut
		if err := c.Do(ctx, paymentsQuery, vars, &out); err != nil {
			t.Fatalf("payments %v: %v", vars, err)
		}
		return out
	}
	idsOf := func(out paymentsOut) string {
		var got []string
		for _, e := range out.Payments.Edges {
			if e.Cursor != e.Node.ID {
				t.Fatalf("cursor %s of payment %s", e.Cursor, e.Node.ID)
			}
			got = append(got, e.Node.ID)
		}
		return fmt.Sprint(got)
	}
	want := func(i ...int) string {
		var out []string
		for _, j := range i {
			out = append(out, ids[j])
		}
		return fmt.Sprint(out)
	}
	asc := map[string]any{"sortOrder": "ASC"}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{"sortOrder": "ASC"}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}

	testkit.Eventually(t, 10*time.Second, func() bool { return idsOf(list(op, asc)) == want(0, 1, 2, 3) },
		"the payment without money was not deleted at its expiry: %s", gone.ID)
	all := list(op, asc)
	node := all.Payments.Edges[0].Node
	if node.Type != "INCOMING" || node.State != "PENDING" || node.WalletAddressID != alice.ID || node.CreatedAt != first.CreatedAt ||
		node.Client != nil || node.Liquidity != nil || node.Metadata["description"] != "first" || node.Tenant == nil || node.Tenant.ID != first.Tenant.ID {
		t.Fatalf("listed %+v, created %+v", node, first)
	}
	if tenant := all.Payments.Edges[3].Node.Tenant; tenant == nil || tenant.ID != tenantID {
		t.Fatalf("the tenant's payment lists tenant %+v", tenant)
	}

	for _, tc := range []struct {
		name   string
		client *adminclient.Client
		vars   map[string]any
		want   string
	}{
		{"newest first by default", op, nil, want(3, 2, 1, 0)},
		{"the operator, one tenant", op, with(map[string]any{"tenantId": tenantID}), want(3)},
		{"a tenant", tc, asc, want(3)},
		{"a tenant asking for another", tc, with(map[string]any{"tenantId": first.Tenant.ID}), want(3)},
		{"incoming", op, with(map[string]any{"filter": map[string]any{"type": map[string]any{"in": []string{"INCOMING"}}}}), want(0, 1, 2, 3)},
		{"outgoing", op, with(map[string]any{"filter": map[string]any{"type": map[string]any{"in": []string{"OUTGOING"}}}}), want()},
		{"notIn is not read", op, with(map[string]any{"filter": map[string]any{"type": map[string]any{"notIn": []string{"INCOMING"}}}}), want(0, 1, 2, 3)},
		{"an empty in", op, with(map[string]any{"filter": map[string]any{"walletAddressId": map[string]any{"in": []string{}}}}), want(0, 1, 2, 3)},
		{"one wallet address", op, with(map[string]any{"filter": map[string]any{"walletAddressId": map[string]any{"in": []string{alice.ID}}}}), want(0, 2)},
		{"two wallet addresses", op, with(map[string]any{"filter": map[string]any{"walletAddressId": map[string]any{"in": []string{alice.ID, bob.ID}}}}), want(0, 1, 2)},
		{"a wallet address id that is no UUID", op, with(map[string]any{"filter": map[string]any{"walletAddressId": map[string]any{"in": []string{"alice"}}}}), want()},
		{"another tenant's wallet address", tc, with(map[string]any{"filter": map[string]any{"walletAddressId": map[string]any{"in": []string{alice.ID}}}}), want()},
		{"first page", op, with(map[string]any{"first": 2}), want(0, 1)},
		{"after a cursor", op, with(map[string]any{"first": 2, "after": ids[1]}), want(2, 3)},
		{"before a cursor", op, with(map[string]any{"last": 2, "before": ids[3]}), want(1, 2)},
		{"before a cursor, newest first", op, map[string]any{"last": 1, "before": ids[1]}, want(2)},
	} {
		if got := idsOf(list(tc.client, tc.vars)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}

	page := list(op, with(map[string]any{"first": 2})).Payments.PageInfo
	if !page.HasNextPage || page.HasPreviousPage || *page.StartCursor != ids[0] || *page.EndCursor != ids[1] {
		t.Fatalf("first page %+v", page)
	}
	page = list(op, with(map[string]any{"first": 2, "after": ids[1]})).Payments.PageInfo
	if page.HasNextPage || !page.HasPreviousPage || *page.StartCursor != ids[2] || *page.EndCursor != ids[3] {
		t.Fatalf("last page %+v", page)
	}
	if page := list(op, with(map[string]any{"first": 2, "after": ids[3]})).Payments.PageInfo; page.HasNextPage || page.HasPreviousPage || page.StartCursor != nil {
		t.Fatalf("past the end %+v", page)
	}

	for _, tc := range []struct {
		name string
		vars map[string]any
	}{
		{"backwards from the start", map[string]any{"last": 2}},
		{"too many", map[string]any{"first": 101}},
		{"a negative count", map[string]any{"first": -1}},
		{"a cursor that is no id", map[string]any{"after": "nope"}},
	} {
		if err := op.Do(ctx, paymentsQuery, tc.vars, nil); code(t, err) != "BAD_USER_INPUT" {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
