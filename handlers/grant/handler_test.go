package grant_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/testkit"
)

const (
	tenantID = "00000000-0000-4000-8000-000000000002"
	wallet   = "https://wallet.example/alice"
)

type fixture struct {
	t      *testing.T
	store  *eventstore.Store
	grants *grant.Handler
	policy grant.Policy
	queue  *queue
	n      int
}

func setup(t *testing.T) *fixture {
	t.Helper()
	return setupWith(t, func(*grant.Policy) {})
}

// setupWith builds the fixture with a policy changed by change.
func setupWith(t *testing.T, change func(*grant.Policy)) *fixture {
	t.Helper()
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(context.Background(), n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	p := grant.DefaultPolicy("https://auth.example")
	p.Wait = 300 * time.Millisecond
	change(&p)
	tenants := func(_ context.Context, id string) (grant.Tenant, error) {
		return grant.Tenant{Exists: id == tenantID, HasIDP: true}, nil
	}
	q := &queue{}
	return &fixture{t: t, store: store, grants: grant.NewHandler(store, p, tenants, q.enqueue), policy: p, queue: q}
}

func (f *fixture) meta() commands.Meta {
	f.n++
	return commands.Meta{ID: fmt.Sprintf("cmd-%d", f.n)}
}

// events lists the types of a grant's stored events.
func (f *fixture) events(grantID string) []string {
	f.t.Helper()
	subject, err := handlers.Subject(tenantID, grant.AggregateType, grantID)
	if err != nil {
		f.t.Fatal(err)
	}
	envs, _, err := f.store.Load(context.Background(), subject)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]string, len(envs))
	for i, env := range envs {
		out[i] = env.Type
	}
	return out
}

func code(err error) grant.Code {
	var ge *grant.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return ""
}

func TestInteractiveGrant(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	request := commands.RequestGrant{
		Meta: f.meta(), TenantID: tenantID, Client: events.GrantClient{WalletAddress: wallet},
		Access: []events.GrantAccess{{Type: grant.TypeOutgoingPayment, Actions: []string{grant.ActionCreate, grant.ActionRead}, Identifier: wallet,
			Limits: &events.GrantLimits{DebitAmount: &events.GrantAmount{Value: "500", AssetCode: "USD", AssetScale: 2}, Interval: "R/2026-01-01T00:00:00Z/P1M"}}},
		Interact: &events.GrantInteract{Start: []string{"redirect"},
			Finish: &events.GrantFinish{Method: "redirect", URI: "https://client.example/done", Nonce: "CLIENT-NONCE"}},
	}
	req, err := f.grants.Request(ctx, request)
	if err != nil {
		t.Fatal(err)
	}
	if req.State != events.GrantStatePending || req.AccessToken != nil || req.ContinueToken == "" || req.InteractionID == "" || req.InteractNonce == "" || req.Repeated {
		t.Fatalf("request: %+v", req)
	}

	// A retried request answers its first result and stores nothing, and
	// it cannot answer the continuation token again.
	again, err := f.grants.Request(ctx, request)
	if err != nil || !again.Repeated || again.GrantID != req.GrantID || again.Sequence != req.Sequence ||
		again.ContinueToken != "" || again.InteractionID != req.InteractionID || again.State != events.GrantStatePending {
		t.Fatalf("retried request: %+v %v", again, err)
	}

	// Finishing before the identity provider answered ends nothing.
	finish := commands.FinishInteraction{GrantID: req.GrantID, InteractionID: req.InteractionID, Nonce: req.InteractNonce}
	finish.Meta = f.meta()
	if _, _, err := f.grants.Finish(ctx, finish); code(err) != grant.InvalidInteraction {
		t.Fatalf("early finish: %v", err)
	}
	choice := commands.InteractionChoice{Meta: f.meta(), GrantID: req.GrantID, InteractionID: req.InteractionID, Nonce: req.InteractNonce}
	if _, err := f.grants.Accept(ctx, choice); err != nil {
		t.Fatal(err)
	}
	finish.Meta = f.meta()
	fin, _, err := f.grants.Finish(ctx, finish)
	if err != nil {
		t.Fatal(err)
	}
	if !fin.Approved || fin.InteractRef == "" || fin.FinishURI != "https://client.example/done" ||
		fin.Hash != grant.FinishHash("CLIENT-NONCE", req.InteractNonce, fin.InteractRef, "https://auth.example/"+tenantID) {
		t.Fatalf("finish: %+v", fin)
	}

	cont := commands.ContinueGrant{Meta: f.meta(), GrantID: req.GrantID, ContinueID: req.ContinueID, ContinueToken: req.ContinueToken, InteractRef: fin.InteractRef}
	poll := cont
	poll.InteractRef = ""
	if _, err := f.grants.Continue(ctx, poll); code(err) != grant.TooFast {
		t.Fatalf("poll within the wait: %v", err)
	}
	time.Sleep(f.policy.Wait)
	poll.Meta = f.meta()
	if _, err := f.grants.Continue(ctx, poll); code(err) != grant.RequestDenied {
		t.Fatalf("polling a grant with a finish URI: %v", err)
	}
	got, err := f.grants.Continue(ctx, cont)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != events.GrantStateFinalized || got.AccessToken == nil || got.AccessToken.Value == "" || got.Repeated {
		t.Fatalf("continue: %+v", got)
	}
	retried, err := f.grants.Continue(ctx, cont)
	if err != nil || !retried.Repeated || retried.Sequence != got.Sequence || retried.AccessToken != nil || retried.State != events.GrantStateFinalized {
		t.Fatalf("retried continue: %+v %v", retried, err)
	}
	cont.Meta = f.meta()
	if _, err := f.grants.Continue(ctx, cont); code(err) != grant.RequestDenied {
		t.Fatalf("continuing a finalized grant: %v", err)
	}
	// The request is one message: the grant with its interaction started.
	want := []string{"grant.requested", "grant.interaction_approved", "grant.approved",
		"grant.access_token_issued", "grant.finalized"}
	if got := f.events(req.GrantID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}

	// Rotation replaces the token: the old one can no longer be rotated or
	// revoked, the new one can.
	rotate := commands.RotateToken{Meta: f.meta(), GrantID: req.GrantID, TokenID: got.AccessToken.ID, TokenValue: got.AccessToken.Value}
	next, _, err := f.grants.Rotate(ctx, rotate)
	if err != nil || next == nil || next.Value == got.AccessToken.Value || next.ID == got.AccessToken.ID {
		t.Fatalf("rotate: %+v %v", next, err)
	}
	if again, _, err := f.grants.Rotate(ctx, rotate); err != nil || again != nil {
		t.Fatalf("retried rotation: %+v %v", again, err)
	}
	rotate.Meta = f.meta()
	if _, _, err := f.grants.Rotate(ctx, rotate); code(err) != grant.InvalidRotation {
		t.Fatalf("rotating a rotated token: %v", err)
	}
	revoke := commands.RevokeToken{Meta: f.meta(), GrantID: req.GrantID, TokenID: next.ID, TokenValue: next.Value}
	if _, err := f.grants.RevokeToken(ctx, revoke); err != nil {
		t.Fatal(err)
	}
	revoke.Meta = f.meta()
	if _, err := f.grants.RevokeToken(ctx, revoke); code(err) != grant.InvalidRequest {
		t.Fatalf("revoking twice: %v", err)
	}
}

func TestNonInteractiveGrantRevoked(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	req, err := f.grants.Request(ctx, commands.RequestGrant{
		Meta: f.meta(), TenantID: tenantID, Client: events.GrantClient{WalletAddress: wallet},
		Access: []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{grant.ActionCreate, grant.ActionReadAll}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if req.State != events.GrantStateApproved || req.AccessToken == nil || req.InteractionID != "" {
		t.Fatalf("request: %+v", req)
	}
	revoke := commands.RevokeGrant{Meta: f.meta(), GrantID: req.GrantID, ContinueID: req.ContinueID, ContinueToken: "WRONG"}
	if _, err := f.grants.Revoke(ctx, revoke); code(err) != grant.InvalidRequest {
		t.Fatalf("revoke with a wrong token: %v", err)
	}
	revoke.ContinueToken = req.ContinueToken
	if _, err := f.grants.Revoke(ctx, revoke); err != nil {
		t.Fatal(err)
	}
	rotate := commands.RotateToken{Meta: f.meta(), GrantID: req.GrantID, TokenID: req.AccessToken.ID, TokenValue: req.AccessToken.Value}
	if _, _, err := f.grants.Rotate(ctx, rotate); code(err) != grant.InvalidRotation {
		t.Fatalf("rotating a token of a revoked grant: %v", err)
	}
	time.Sleep(f.policy.Wait)
	poll := commands.ContinueGrant{Meta: f.meta(), GrantID: req.GrantID, ContinueID: req.ContinueID, ContinueToken: req.ContinueToken}
	if _, err := f.grants.Continue(ctx, poll); code(err) != grant.RequestDenied {
		t.Fatalf("continuing a revoked grant: %v", err)
	}
	// The request is one message: the grant with its token.
	want := []string{"grant.requested", "grant.revoked"}
	if got := f.events(req.GrantID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if _, err := f.grants.Continue(ctx, commands.ContinueGrant{Meta: f.meta(), GrantID: "00000000-0000-4000-8000-00000000000f",
		ContinueID: req.ContinueID, ContinueToken: req.ContinueToken}); code(err) != grant.InvalidRequest {
		t.Fatalf("continuing an unknown grant: %v", err)
	}
}

func TestRejectedGrant(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	req, err := f.grants.Request(ctx, commands.RequestGrant{
		Meta: f.meta(), TenantID: tenantID, Client: events.GrantClient{WalletAddress: wallet},
		Access:   []events.GrantAccess{{Type: grant.TypeOutgoingPayment, Actions: []string{grant.ActionCreate}, Identifier: wallet}},
		Interact: &events.GrantInteract{Start: []string{"redirect"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(f.policy.Wait)
	poll := commands.ContinueGrant{Meta: f.meta(), GrantID: req.GrantID, ContinueID: req.ContinueID, ContinueToken: req.ContinueToken}
	if c, err := f.grants.Continue(ctx, poll); err != nil || c.State != events.GrantStatePending || c.AccessToken != nil {
		t.Fatalf("poll: %+v %v", c, err)
	}
	poll.Meta = f.meta()
	if _, err := f.grants.Continue(ctx, poll); code(err) != grant.TooFast {
		t.Fatalf("poll at once: %v", err)
	}
	choice := commands.InteractionChoice{Meta: f.meta(), GrantID: req.GrantID, InteractionID: req.InteractionID, Nonce: req.InteractNonce}
	if _, err := f.grants.Reject(ctx, choice); err != nil {
		t.Fatal(err)
	}
	choice.Meta = f.meta()
	if _, err := f.grants.Accept(ctx, choice); code(err) != grant.InvalidInteraction {
		t.Fatalf("accept after reject: %v", err)
	}
	fin, _, err := f.grants.Finish(ctx, commands.FinishInteraction{Meta: f.meta(), GrantID: req.GrantID, InteractionID: req.InteractionID, Nonce: req.InteractNonce})
	if err != nil || fin.Approved || fin.Hash != "" {
		t.Fatalf("finish: %+v %v", fin, err)
	}
	if _, err := f.grants.Expire(ctx, commands.ExpireInteraction{Meta: f.meta(), GrantID: req.GrantID}); err != nil {
		t.Fatalf("expiring an answered interaction: %v", err)
	}
	want := []string{"grant.requested", "grant.polled", "grant.interaction_rejected", "grant.denied"}
	if got := f.events(req.GrantID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}
