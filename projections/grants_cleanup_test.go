package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/projections"
)

// Tokens expired before the cutoff are deleted, revoked, rotated or not, at
// most rowsMax at a time; tokens still live, revoked or not, are kept.
func TestDeleteOldTokens(t *testing.T) {
	e := grantsSetup(t)
	ctx := context.Background()
	short := e.policy
	short.AccessTokenExpiry = time.Second
	shortLived := grant.NewHandler(e.store, short, func(_ context.Context, id string) (grant.Tenant, error) {
		return grant.Tenant{Exists: id == grantsTenant}, nil
	}, func(ctx context.Context, subject, id string, at time.Time, c any) error {
		return commands.EnqueueAt(ctx, e.js, subject, id, at, c)
	})
	direct := func(h *grant.Handler) grant.Requested {
		t.Helper()
		req, err := h.Request(ctx, commands.RequestGrant{Meta: e.meta(), TenantID: grantsTenant,
			Client: events.GrantClient{WalletAddress: grantsWallet},
			Access: []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{grant.ActionCreate}}}})
		e.wrote(req.Result, err)
		return req
	}
	// Four expired rows: three issued, one of them rotated (its row
	// revoked, its successor expired too). Two live rows, one revoked.
	for range 2 {
		direct(shortLived)
	}
	rotated := direct(shortLived)
	_, res, err := shortLived.Rotate(ctx, commands.RotateToken{Meta: e.meta(), GrantID: rotated.GrantID,
		TokenID: rotated.AccessToken.ID, TokenValue: rotated.AccessToken.Value})
	e.wrote(res, err)
	direct(e.grants)
	revoked := direct(e.grants)
	e.wrote(e.grants.RevokeToken(ctx, commands.RevokeToken{Meta: e.meta(), GrantID: revoked.GrantID,
		TokenID: revoked.AccessToken.ID, TokenValue: revoked.AccessToken.Value}))
	count := func() string {
		return e.text(`SELECT count(*) FILTER (WHERE expires_in_seconds = 1) || ' ' || count(*) FILTER (WHERE revoked_at IS NOT NULL) || ' ' || count(*)
			FROM rm_grants.access_tokens`)
	}
	if got := count(); got != "4 2 6" {
		t.Fatalf("before cleanup: %s short-lived, revoked, all", got)
	}

	if _, err := projections.DeleteOldTokens(ctx, e.pool, time.Now().Add(time.Minute), 0); err == nil {
		t.Fatal("an unbounded batch accepted")
	}
	// Nothing expired yet, with no deletion period.
	if n, err := projections.DeleteOldTokens(ctx, e.pool, time.Now(), 3); err != nil || n != 0 {
		t.Fatalf("deleted %d live tokens: %v", n, err)
	}
	// A minute on, the short-lived ones are past it; three at a time.
	cutoff := time.Now().Add(time.Minute)
	for _, want := range []int64{3, 1, 0} {
		if n, err := projections.DeleteOldTokens(ctx, e.pool, cutoff, 3); err != nil || n != want {
			t.Fatalf("deleted %d, want %d: %v", n, want, err)
		}
	}
	if got := count(); got != "0 1 2" {
		t.Fatalf("after cleanup: %s short-lived, revoked, all", got)
	}
	if got := e.text(`SELECT count(*)::text FROM rm_grants.grants`); got != "5" {
		t.Fatalf("%s grants left, want all 5", got)
	}
}
