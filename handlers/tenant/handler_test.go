package tenant_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/testkit"
)

// TestRetriedCommandAnswersItsFirstResult runs each tenant command twice
// under one command id, as a retry after a lost answer does, on a stream
// whose duplicate window has passed: the retry answers the first result and
// appends nothing, even after another command changed the tenant.
func TestRetriedCommandAnswersItsFirstResult(t *testing.T) {
	ctx := context.Background()
	n := testkit.StartNATS(t, false)
	stream, err := n.JS.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	cfg := stream.CachedInfo().Config
	const window = 100 * time.Millisecond
	cfg.Duplicates = window
	if _, err := n.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	operator := commands.Actor{TenantID: uuid.NewString(), Operator: true}
	h := tenant.NewHandler(store, operator.TenantID, "test.rafiki", "")
	meta := func(actor commands.Actor) commands.Meta { return commands.Meta{ID: uuid.NewString(), Actor: actor} }
	newTenant := func() string {
		id := uuid.NewString()
		if _, _, err := h.Create(ctx, commands.CreateTenant{Meta: meta(operator), TenantID: id, APISecret: "s"}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	lastSequence := func() uint64 {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.LastSeq
	}
	name := func(s string) *string { return &s }

	for _, tc := range []struct {
		name string
		// fresh runs the command on a tenant id no tenant has yet.
		fresh bool
		// run runs the command of m on tenant id (made for the row) and
		// reports the tenant it acted on.
		run func(id string, m commands.Meta) (string, handlers.Result, error)
		// between changes the tenant after the first run, with another
		// command; nil for none.
		between func(id string)
		want    func(s tenant.State) error
	}{
		{name: "create", fresh: true,
			run: func(_ string, m commands.Meta) (string, handlers.Result, error) {
				return h.Create(ctx, commands.CreateTenant{Meta: m, APISecret: "first"})
			}},
		{name: "create with an id", fresh: true,
			run: func(id string, m commands.Meta) (string, handlers.Result, error) {
				return h.Create(ctx, commands.CreateTenant{Meta: m, TenantID: id, APISecret: "first"})
			}},
		// A space claimed is checked and appended on a path of its own.
		{name: "create claiming a space", fresh: true,
			run: func(id string, m commands.Meta) (string, handlers.Result, error) {
				return h.Create(ctx, commands.CreateTenant{Meta: m, TenantID: id, APISecret: "first",
					Settings: []events.Setting{{Key: tenant.SettingWalletAddressURL, Value: "https://" + id + ".example"}}})
			}},
		{name: "settings claiming a space",
			run: func(id string, m commands.Meta) (string, handlers.Result, error) {
				res, err := h.SetSettings(ctx, commands.SetTenantSettings{Meta: m, TenantID: id,
					Settings: []events.Setting{{Key: tenant.SettingWalletAddressURL, Value: "https://" + id + ".example"}}})
				return id, res, err
			}},
		{name: "update",
			run: func(id string, m commands.Meta) (string, handlers.Result, error) {
				res, err := h.Update(ctx, commands.UpdateTenant{Meta: m, TenantID: id, PublicName: name("first")})
				return id, res, err
			},
			between: func(id string) {
				if _, err := h.Update(ctx, commands.UpdateTenant{Meta: meta(operator), TenantID: id, PublicName: name("second")}); err != nil {
					t.Fatal(err)
				}
			},
			want: func(s tenant.State) error {
				if s.PublicName != "second" {
					return fmt.Errorf("public name %q, want the later update's", s.PublicName)
				}
				return nil
			}},
		{name: "delete",
			run: func(id string, m commands.Meta) (string, handlers.Result, error) {
				res, err := h.Delete(ctx, commands.DeleteTenant{Meta: m, TenantID: id})
				return id, res, err
			}},
		{name: "settings",
			run: func(id string, m commands.Meta) (string, handlers.Result, error) {
				res, err := h.SetSettings(ctx, commands.SetTenantSettings{Meta: m, TenantID: id,
					Settings: []events.Setting{{Key: tenant.SettingWebhookURL, Value: "http://first.test"}}})
				return id, res, err
			},
			between: func(id string) {
				if _, err := h.SetSettings(ctx, commands.SetTenantSettings{Meta: meta(commands.Actor{TenantID: id}), TenantID: id,
					Settings: []events.Setting{{Key: tenant.SettingWebhookURL, Value: "http://second.test"}}}); err != nil {
					t.Fatal(err)
				}
			},
			want: func(s tenant.State) error {
				if got := s.Settings[tenant.SettingWebhookURL]; got != "http://second.test" {
					return fmt.Errorf("webhook URL %q, want the later setting's", got)
				}
				return nil
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := meta(operator)
			id := uuid.NewString()
			if !tc.fresh {
				id = newTenant()
			}
			id, first, err := tc.run(id, m)
			if err != nil {
				t.Fatal(err)
			}
			if tc.between != nil {
				tc.between(id)
			}
			time.Sleep(3 * window)
			before := lastSequence()
			again, res, err := tc.run(id, m)
			if err != nil || again != id || res.Sequence != first.Sequence {
				t.Fatalf("retry answered %s %+v %v, want %s %+v", again, res, err, id, first)
			}
			if after := lastSequence(); after != before {
				t.Fatalf("retry appended %d messages", after-before)
			}
			s, _, err := h.Load(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				if err := tc.want(s); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// Tenants claiming spaces all at once are all made: the claims of one
// process take turns instead of racing for claims._.tenant_spaces.
func TestConcurrentSpaceClaims(t *testing.T) {
	ctx := context.Background()
	n := testkit.StartNATS(t, true)
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	operator := commands.Actor{TenantID: uuid.NewString(), Operator: true}
	h := tenant.NewHandler(store, operator.TenantID, "test.rafiki", "")
	const tenantsN = 64
	errs := make(chan error, tenantsN)
	var wg sync.WaitGroup
	for i := range tenantsN {
		wg.Go(func() {
			_, _, err := h.Create(ctx, commands.CreateTenant{Meta: commands.Meta{ID: uuid.NewString(), Actor: operator}, APISecret: "s",
				Settings: []events.Setting{{Key: "WALLET_ADDRESS_URL", Value: fmt.Sprintf("https://wallet.test/t%d", i)}}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// The operator makes its wallet addresses under OPEN_PAYMENTS_URL when it
// sets no WALLET_ADDRESS_URL: no other tenant's space may hold that base,
// however it is spelled, while spaces below it are any tenant's to claim.
func TestSpacesHoldingTheOperatorsBase(t *testing.T) {
	ctx := context.Background()
	n := testkit.StartNATS(t, true)
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	operator := commands.Actor{TenantID: uuid.NewString(), Operator: true}
	h := tenant.NewHandler(store, operator.TenantID, "test.rafiki", "https://wallet.test")
	claim := func(tenantID, url string) error {
		_, err := h.SetSettings(ctx, commands.SetTenantSettings{Meta: commands.Meta{ID: uuid.NewString(), Actor: operator},
			TenantID: tenantID, Settings: []events.Setting{{Key: "WALLET_ADDRESS_URL", Value: url}}})
		return err
	}
	id, _, err := h.Create(ctx, commands.CreateTenant{Meta: commands.Meta{ID: uuid.NewString(), Actor: operator}, APISecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"https://wallet.test", "https://WALLET.test:443/", "https://wallet.test/"} {
		if err := claim(id, url); apperr.KindOf(err) != apperr.InvalidInput {
			t.Errorf("a tenant claiming %s: %v, want InvalidInput", url, err)
		}
	}
	if err := claim(id, "https://wallet.test/bank"); err != nil {
		t.Errorf("a tenant claiming a space below the base: %v", err)
	}
	if _, err := h.EnsureOperator(ctx, "secret"); err != nil {
		t.Fatal(err)
	}
	if err := claim(operator.TenantID, "https://wallet.test/op"); err != nil {
		t.Errorf("the operator claiming a space of its base: %v", err)
	}
}
