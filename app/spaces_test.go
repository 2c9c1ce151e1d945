package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
)

// No tenant's WALLET_ADDRESS_URL or ILP_ADDRESS lies in another tenant's or
// holds it, on whole path and address segments, however it is set.
func TestTenantSpacesDoNotOverlap(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	op := s.operator
	stream, err := s.nats.JS.Stream(ctx, app.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	createTenant := func(walletAddressURL, ilpAddress string) (string, error) {
		var out struct {
			CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
		}
		settings := []map[string]any{{"key": "WALLET_ADDRESS_URL", "value": walletAddressURL}}
		if ilpAddress != "" {
			settings = append(settings, map[string]any{"key": "ILP_ADDRESS", "value": ilpAddress})
		}
		err := op.Do(ctx, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
			map[string]any{"input": map[string]any{"apiSecret": "s-" + uuid.NewString(), "settings": settings}}, &out)
		return out.CreateTenant.Tenant.ID, err
	}
	if _, err := createTenant("http://wallet.test/ali", "test.bank"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		walletAddressURL, ilpAddress string
		ok                           bool
	}{
		{"http://wallet.test/ali/x", "", false},
		{"http://wallet.test/ali", "", false},
		{"https://WALLET.test/ALI/", "", false},
		{"http://wallet.test", "", false},
		{"http://wallet.test/alice", "test.bank.x", false},
		{"http://wallet.test/alice", "test", false},
		{"http://wallet.test/alice", "test.bankx", true},
	} {
		before := lastSequence(t, stream)
		_, err := createTenant(tc.walletAddressURL, tc.ilpAddress)
		if tc.ok && err != nil {
			t.Fatalf("%s %s: %v", tc.walletAddressURL, tc.ilpAddress, err)
		}
		if !tc.ok {
			if code(t, err) != "BAD_USER_INPUT" {
				t.Fatalf("%s %s: %v, want BAD_USER_INPUT", tc.walletAddressURL, tc.ilpAddress, err)
			}
			if after := lastSequence(t, stream); after != before {
				t.Fatalf("%s %s: refused, but the stream moved from %d to %d", tc.walletAddressURL, tc.ilpAddress, before, after)
			}
		}
	}

	// A tenant's settings change is held to the same rule; its own space is
	// no obstacle.
	id, err := createTenant("http://wallet.test/bob", "")
	if err != nil {
		t.Fatal(err)
	}
	var secret struct {
		Tenant struct{ APISecret string } `json:"tenant"`
	}
	if err := op.Do(ctx, `query($id: String!) { tenant(id: $id) { apiSecret } }`, map[string]any{"id": id}, &secret); err != nil {
		t.Fatal(err)
	}
	bob := s.client(id, secret.Tenant.APISecret)
	setURL := func(value string) error {
		return bob.Do(ctx, `mutation($v: String!) { createTenantSettings(input: {settings: [{key: WALLET_ADDRESS_URL, value: $v}]}) { settings { key } } }`,
			map[string]any{"v": value}, nil)
	}
	if err := setURL("http://wallet.test/ali/bob"); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("moving into another tenant's space: %v", err)
	}
	if err := setURL("http://wallet.test/bob/sub"); err != nil {
		t.Fatalf("moving within its own space: %v", err)
	}
	// The space it moved from stays its own: its wallet addresses there
	// still exist.
	if _, err := createTenant("http://wallet.test/bob/other", ""); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("a space in one another tenant moved away from: %v", err)
	}

	// The operator, whose wallet addresses fall back to OPEN_PAYMENTS_URL,
	// cannot make one in a tenant's space.
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "ali/mallory"}); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("operator address in a tenant's space: %v", err)
	}
	if _, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "alice-op"}); err != nil {
		t.Fatalf("operator address beside a tenant's space: %v", err)
	}

	// A tenant whose space holds another's wallet address makes none below
	// it, which would read as an account of that address's owner.
	if _, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "shop/alice"}); err != nil {
		t.Fatal(err)
	}
	daveID, err := createTenant("http://wallet.test/shop", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `query($id: String!) { tenant(id: $id) { apiSecret } }`, map[string]any{"id": daveID}, &secret); err != nil {
		t.Fatal(err)
	}
	dave := s.client(daveID, secret.Tenant.APISecret)
	daveUSD, err := createAsset(ctx, dave, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createWalletAddress(ctx, dave, map[string]any{"assetId": daveUSD.ID, "address": "http://wallet.test/shop/alice/tips"}); code(t, err) != "BAD_USER_INPUT" {
		t.Fatalf("an address below another tenant's address: %v", err)
	}
	if _, err := createWalletAddress(ctx, dave, map[string]any{"assetId": daveUSD.ID, "address": "http://wallet.test/shop/bob/tips"}); err != nil {
		t.Fatalf("an address in its own space: %v", err)
	}
	if _, err := createWalletAddress(ctx, dave, map[string]any{"assetId": daveUSD.ID, "address": "http://wallet.test/shop/bob/tips/more"}); err != nil {
		t.Fatalf("an address below its own address: %v", err)
	}
}

// Tenants claiming nested spaces at the same time: exactly one gets its
// space, the others are refused.
func TestConcurrentSpaceClaims(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	const claimants = 6
	var wg sync.WaitGroup
	errs := make([]error, claimants)
	for i := range claimants {
		wg.Go(func() {
			url := "http://wallet.test/race" + strings.Repeat("/x", i)
			errs[i] = s.operator.Do(ctx, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
				map[string]any{"input": map[string]any{"apiSecret": "s", "settings": []map[string]any{{"key": "WALLET_ADDRESS_URL", "value": url}}}}, nil)
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case code(t, err) != "BAD_USER_INPUT":
			t.Fatalf("claimant %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d tenants hold nested spaces, want 1: %v", won, errs)
	}
}
