package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/testkit"
)

// A worker expires the interaction of an interactive grant left alone
// when INTERACTION_EXPIRY_SECONDS have passed, and the auth read model
// shows it; an interaction the resource owner answered gets nothing. Its
// cleanup deletes the tokens ACCESS_TOKEN_DELETION_DAYS past their expiry
// and keeps the others.
func TestWorkerExpiresInteractionsAndDeletesOldTokens(t *testing.T) {
	n := testkit.StartNATS(t, false)
	ctx := context.Background()
	cfg := serviceConfig(t, n.URL, 0)
	cfg.InteractionExpiry = time.Second
	cfg.AccessTokenExpiry = time.Second
	cfg.IdentityServerURL, cfg.IdentityServerSecret = "https://idp.test/consent", "idp-secret"
	worker, err := app.Start(ctx, cfg, testLogger(), app.Set{Worker: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		worker.Stop(stop)
	})
	d := worker.Deps
	grants, _ := app.NewGrants(d)
	request := func(id string, interact *events.GrantInteract) grant.Requested {
		t.Helper()
		typ := grant.TypeOutgoingPayment
		if interact == nil {
			typ = grant.TypeIncomingPayment
		}
		req, err := grants.Request(ctx, commands.RequestGrant{Meta: commands.Meta{ID: id}, TenantID: cfg.OperatorTenantID,
			Client: events.GrantClient{WalletAddress: "https://wallet.test/alice"}, Interact: interact,
			Access: []events.GrantAccess{{Type: typ, Actions: []string{grant.ActionCreate}, Identifier: "https://wallet.test/alice"}}})
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	eventTypes := func(grantID string) []string {
		t.Helper()
		subject, err := handlers.Subject(cfg.OperatorTenantID, grant.AggregateType, grantID)
		if err != nil {
			t.Fatal(err)
		}
		envs, _, err := d.Store.Load(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, env := range envs {
			out = append(out, env.Type)
		}
		return out
	}

	left := request("expiry-left-alone", &events.GrantInteract{Start: []string{"redirect"}})
	answered := request("expiry-answered", &events.GrantInteract{Start: []string{"redirect"}})
	if _, err := grants.Accept(ctx, commands.InteractionChoice{Meta: commands.Meta{ID: "expiry-accept"}, GrantID: answered.GrantID,
		InteractionID: answered.InteractionID, Nonce: answered.InteractNonce}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 15*time.Second, func() bool {
		var expired bool
		err := d.AuthPool.QueryRow(ctx, `SELECT expired FROM rm_grants.interactions WHERE grant_id = $1`, left.GrantID).Scan(&expired)
		return err == nil && expired
	}, "the read model shows the interaction of grant %s expired", left.GrantID)
	if got := eventTypes(left.GrantID); !slices.Contains(got, "grant.interaction_expired") {
		t.Fatalf("left alone: %v", got)
	}
	// Both commands were due at once: once the queue is empty, the one on
	// the answered interaction ran too.
	queue, err := d.JS.Stream(ctx, app.CommandsStream)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		info, err := queue.Info(ctx)
		return err == nil && info.State.Msgs == 0
	}, "the command queue empties")
	if got := eventTypes(answered.GrantID); slices.Contains(got, "grant.interaction_expired") {
		t.Fatalf("answered: %v", got)
	}
	var state string
	if err := d.AuthPool.QueryRow(ctx, `SELECT state || ' ' || expired FROM rm_grants.interactions WHERE grant_id = $1`,
		answered.GrantID).Scan(&state); err != nil || state != "APPROVED false" {
		t.Fatalf("answered interaction in the read model: %q %v", state, err)
	}

	// With no deletion period, a token goes once expired; one that lives
	// for an hour stays.
	lasting := app.GrantPolicy(cfg)
	lasting.AccessTokenExpiry = time.Hour
	_, tenants := app.NewGrants(d)
	long, err := grant.NewHandler(d.Store, lasting, tenants.ForGrants, d.Enqueue).Request(ctx, commands.RequestGrant{
		Meta: commands.Meta{ID: "expiry-long"}, TenantID: cfg.OperatorTenantID, Client: events.GrantClient{WalletAddress: "https://wallet.test/alice"},
		Access: []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{grant.ActionCreate}}}})
	if err != nil {
		t.Fatal(err)
	}
	short := request("expiry-short", nil)
	testkit.Eventually(t, 10*time.Second, func() bool {
		var n int
		err := d.AuthPool.QueryRow(ctx, `SELECT count(*) FROM rm_grants.access_tokens`).Scan(&n)
		return err == nil && n == 2
	}, "both tokens in the read model")
	cleaning, stop := context.WithCancel(ctx)
	defer stop()
	cleanup := d.RunTokenCleanup(cleaning, 0, 100*time.Millisecond)
	testkit.Eventually(t, 10*time.Second, func() bool {
		var ids []string
		rows, err := d.AuthPool.Query(ctx, `SELECT id::text FROM rm_grants.access_tokens`)
		if err != nil {
			return false
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if rows.Scan(&id) != nil {
				return false
			}
			ids = append(ids, id)
		}
		return slices.Equal(ids, []string{long.AccessToken.ID})
	}, "token %s deleted once expired, %s kept", short.AccessToken.ID, long.AccessToken.ID)
	stop()
	cleanup.Wait()
}
