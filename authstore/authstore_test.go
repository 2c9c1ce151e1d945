package authstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/authstore"
	"github.com/rafiki-go/rafiki/authsvc"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/readmodel"
	"github.com/rafiki-go/rafiki/testkit"
)

const (
	tenantA = "00000000-0000-4000-8000-0000000000c1"
	tenantB = "00000000-0000-4000-8000-0000000000c2"
	alice   = "https://wallet.test/alice"
	bob     = "https://wallet.test/bob"
)

type fixture struct {
	t      *testing.T
	nats   *testkit.NATS
	pool   *pgxpool.Pool
	store  *authstore.Store
	grants *grant.Handler
	ctx    context.Context
	cmds   int
}

// setup opens an auth database with the grants projection's tables and a
// store reading it; the projection's runner starts with runGrants.
func setup(t *testing.T, timeout time.Duration) *fixture {
	t.Helper()
	n := testkit.StartNATS(t, false)
	events, err := eventstore.Open(context.Background(), n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(events.Close)
	url := testkit.NewDatabase(t)
	if err := migrations.UpAuth(url); err != nil {
		t.Fatal(err)
	}
	pool := testkit.Pool(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := projections.Prepare(ctx, pool, projections.Grants{}); err != nil {
		t.Fatal(err)
	}
	waiter := projections.NewWaiter(pool, slog.New(slog.DiscardHandler))
	go waiter.Run(ctx)
	testkit.Eventually(t, 5*time.Second, waiter.Connected, "checkpoint listener")
	policy := grant.DefaultPolicy("https://auth.test")
	policy.Wait = 0
	tenants := func(_ context.Context, id string) (grant.Tenant, error) {
		return grant.Tenant{Exists: id == tenantA || id == tenantB, HasIDP: true}, nil
	}
	return &fixture{t: t, nats: n, pool: pool, store: authstore.New(pool, events, waiter, timeout),
		grants: grant.NewHandler(events, policy, tenants, func(ctx context.Context, subject, id string, at time.Time, c any) error {
			return commands.EnqueueAt(ctx, n.JS, subject, id, at, c)
		}), ctx: ctx}
}

func (f *fixture) runGrants() {
	go projections.NewRunner(f.pool, f.nats.JS, "EVENTS", projections.Grants{}, slog.New(slog.DiscardHandler)).Run(f.ctx)
}

func (f *fixture) meta() commands.Meta {
	f.cmds++
	return commands.Meta{ID: fmt.Sprintf("authstore-test-%d", f.cmds)}
}

// direct requests a non-interactive grant: approved, with a token.
func (f *fixture) direct(tenantID, identifier string) grant.Requested {
	f.t.Helper()
	req, err := f.grants.Request(context.Background(), commands.RequestGrant{Meta: f.meta(), TenantID: tenantID,
		Client: events.GrantClient{WalletAddress: alice},
		Access: []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{grant.ActionCreate, grant.ActionRead}, Identifier: identifier}}})
	if err != nil {
		f.t.Fatal(err)
	}
	return req
}

// interactive requests a pending grant with an interaction.
func (f *fixture) interactive(tenantID, identifier string) grant.Requested {
	f.t.Helper()
	req, err := f.grants.Request(context.Background(), commands.RequestGrant{Meta: f.meta(), TenantID: tenantID,
		Client: events.GrantClient{WalletAddress: alice},
		Access: []events.GrantAccess{{Type: grant.TypeOutgoingPayment, Actions: []string{grant.ActionCreate}, Identifier: identifier,
			Limits: &events.GrantLimits{DebitAmount: &events.GrantAmount{Value: "100", AssetCode: "USD", AssetScale: 2}}}},
		Subject:  []events.GrantSubjectID{{ID: identifier, Format: "uri"}},
		Interact: &events.GrantInteract{Start: []string{"redirect"}}})
	if err != nil {
		f.t.Fatal(err)
	}
	return req
}

// The lookups answer a grant the moment its command was acknowledged, even
// while the projection has not applied it yet: a miss waits until the
// projection has passed the stream's last grant event, then looks again.
func TestLookupsCatchUp(t *testing.T) {
	f := setup(t, 5*time.Second)
	direct := f.direct(tenantA, alice)
	pending := f.interactive(tenantA, alice)
	// The projection starts only after the lookups began.
	go func() {
		time.Sleep(300 * time.Millisecond)
		f.runGrants()
	}()
	hash := grant.TokenHash(direct.AccessToken.Value)
	for _, c := range []struct {
		name   string
		lookup func() (authsvc.GrantRef, bool, error)
		want   string
	}{
		{"continue id", func() (authsvc.GrantRef, bool, error) { return f.store.ByContinueID(f.ctx, direct.ContinueID) }, direct.GrantID},
		{"token id", func() (authsvc.GrantRef, bool, error) { return f.store.ByTokenID(f.ctx, direct.AccessToken.ID) }, direct.GrantID},
		{"interaction id", func() (authsvc.GrantRef, bool, error) { return f.store.ByInteractionID(f.ctx, pending.InteractionID) }, pending.GrantID},
		{"token hash", func() (authsvc.GrantRef, bool, error) {
			tok, found, err := f.store.TokenByValueHash(f.ctx, hash)
			return authsvc.GrantRef{TenantID: tok.Grant.TenantID, GrantID: tok.Grant.ID}, found, err
		}, direct.GrantID},
		{"unknown continue id", func() (authsvc.GrantRef, bool, error) { return f.store.ByContinueID(f.ctx, uuid.NewString()) }, ""},
		{"unknown token id", func() (authsvc.GrantRef, bool, error) { return f.store.ByTokenID(f.ctx, uuid.NewString()) }, ""},
		{"unknown interaction id", func() (authsvc.GrantRef, bool, error) { return f.store.ByInteractionID(f.ctx, uuid.NewString()) }, ""},
		{"unknown token hash", func() (authsvc.GrantRef, bool, error) {
			tok, found, err := f.store.TokenByValueHash(f.ctx, grant.TokenHash("nothing"))
			return authsvc.GrantRef{GrantID: tok.Grant.ID}, found, err
		}, ""},
		{"not an id", func() (authsvc.GrantRef, bool, error) { return f.store.ByContinueID(f.ctx, "events.>") }, ""},
		{"continue id as a URN", func() (authsvc.GrantRef, bool, error) {
			return f.store.ByContinueID(f.ctx, "urn:uuid:"+direct.ContinueID)
		}, direct.GrantID},
		{"token id in upper case", func() (authsvc.GrantRef, bool, error) {
			return f.store.ByTokenID(f.ctx, strings.ToUpper(direct.AccessToken.ID))
		}, direct.GrantID},
	} {
		got, found, err := c.lookup()
		if err != nil || found != (c.want != "") || got.GrantID != c.want || (found && got.TenantID != tenantA) {
			t.Fatalf("%s: %+v %t %v, want %s", c.name, got, found, err, c.want)
		}
	}

	// A hit answers at once; so does a miss once the projection is caught
	// up. The token row comes with its grant.
	start := time.Now()
	tok, found, err := f.store.TokenByValueHash(f.ctx, hash)
	if err != nil || !found || tok.ID != direct.AccessToken.ID || tok.Revoked || tok.ExpiresIn != 10*time.Minute ||
		tok.ExpiredAt(time.Now()) || !tok.ExpiredAt(tok.CreatedAt.Add(11*time.Minute)) ||
		tok.Grant.State != events.GrantStateApproved || tok.Grant.Client.WalletAddress != alice ||
		len(tok.Grant.Access) != 1 || !slices.Equal(tok.Grant.Access[0].Actions, []string{grant.ActionCreate, grant.ActionRead}) {
		t.Fatalf("token: %+v %t %v", tok, found, err)
	}
	if _, found, err := f.store.ByContinueID(f.ctx, uuid.NewString()); err != nil || found {
		t.Fatalf("unknown: %t %v", found, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("answers of a caught-up projection took %s", took)
	}

	// A revoked token is still found, marked: introspection answers it
	// inactive at once.
	rotated, _, err := f.grants.Rotate(f.ctx, commands.RotateToken{Meta: f.meta(), GrantID: direct.GrantID,
		TokenID: direct.AccessToken.ID, TokenValue: direct.AccessToken.Value})
	if err != nil {
		t.Fatal(err)
	}
	if tok, found, err := f.store.TokenByValueHash(f.ctx, grant.TokenHash(rotated.Value)); err != nil || !found || tok.Revoked {
		t.Fatalf("rotated token: %+v %t %v", tok, found, err)
	}
	if tok, found, err := f.store.TokenByValueHash(f.ctx, hash); err != nil || !found || !tok.Revoked {
		t.Fatalf("replaced token: %+v %t %v", tok, found, err)
	}
}

// While the projection does not run, a lookup that misses gives up after
// its timeout with TIMEOUT: it cannot tell that the grant does not exist.
func TestLookupTimesOutBehindTheStream(t *testing.T) {
	f := setup(t, 300*time.Millisecond)
	req := f.direct(tenantA, alice)
	start := time.Now()
	_, found, err := f.store.ByContinueID(f.ctx, req.ContinueID)
	if found || apperr.KindOf(err) != apperr.Timeout {
		t.Fatalf("lookup behind the stream: %t %v", found, err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 3*time.Second {
		t.Fatalf("gave up after %s", took)
	}
}

// Grants filters and pages as the auth admin API's grants query does.
func TestGrantsFiltersAndPages(t *testing.T) {
	f := setup(t, 5*time.Second)
	f.runGrants()
	approved := f.direct(tenantA, alice)
	pending := f.interactive(tenantA, bob)
	revoked := f.direct(tenantA, bob)
	rejected := f.interactive(tenantB, alice)
	other := f.direct(tenantB, "")
	var last handlers.Result
	var err error
	if last, err = f.grants.Revoke(f.ctx, commands.RevokeGrant{Meta: f.meta(), GrantID: revoked.GrantID,
		ContinueID: revoked.ContinueID, ContinueToken: revoked.ContinueToken}); err != nil {
		t.Fatal(err)
	}
	choice := commands.InteractionChoice{Meta: f.meta(), GrantID: rejected.GrantID, InteractionID: rejected.InteractionID, Nonce: rejected.InteractNonce}
	if _, err := f.grants.Reject(f.ctx, choice); err != nil {
		t.Fatal(err)
	}
	if _, last, err = f.grants.Finish(f.ctx, commands.FinishInteraction{Meta: f.meta(), GrantID: rejected.GrantID,
		InteractionID: rejected.InteractionID, Nonce: rejected.InteractNonce}); err != nil {
		t.Fatal(err)
	}
	// The finish is the last grant event: once the store sees the rejection,
	// it sees everything.
	testkit.Eventually(t, 10*time.Second, func() bool {
		g, err := f.store.Grant(f.ctx, rejected.GrantID, nil)
		return err == nil && g != nil && g.FinalizationReason != nil
	}, "projection applied up to %d", last.Sequence)

	tA := tenantA
	bad := "not-a-tenant"
	for _, c := range []struct {
		name   string
		filter authstore.Filter
		want   []grant.Requested
	}{
		{"none", authstore.Filter{}, []grant.Requested{approved, pending, revoked, rejected, other}},
		{"identifier", authstore.Filter{Identifiers: []string{alice}}, []grant.Requested{approved, rejected}},
		{"identifiers", authstore.Filter{Identifiers: []string{alice, bob}}, []grant.Requested{approved, pending, revoked, rejected}},
		{"state in", authstore.Filter{StateIn: []string{events.GrantStatePending, events.GrantStateApproved}}, []grant.Requested{approved, pending, other}},
		{"state not in", authstore.Filter{StateNotIn: []string{events.GrantStateFinalized}}, []grant.Requested{approved, pending, other}},
		{"reason in", authstore.Filter{FinalizationReasonIn: []string{events.FinalizationRevoked}}, []grant.Requested{revoked}},
		{"reason not in keeps grants without one", authstore.Filter{FinalizationReasonNotIn: []string{events.FinalizationRevoked}},
			[]grant.Requested{approved, pending, rejected, other}},
		{"tenant", authstore.Filter{TenantID: &tA}, []grant.Requested{approved, pending, revoked}},
		{"tenant not an id", authstore.Filter{TenantID: &bad}, nil},
		{"all together", authstore.Filter{TenantID: &tA, Identifiers: []string{bob}, StateNotIn: []string{events.GrantStateApproved},
			FinalizationReasonNotIn: []string{events.FinalizationRejected}}, []grant.Requested{pending, revoked}},
	} {
		got, _, err := f.store.Grants(f.ctx, c.filter, readmodel.Page{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if ids(got) != requestIDs(c.want) {
			t.Errorf("%s: got %s, want %s", c.name, ids(got), requestIDs(c.want))
		}
	}

	g, err := f.store.Grant(f.ctx, pending.GrantID, nil)
	if err != nil || g == nil || g.State != events.GrantStatePending || g.TenantID != tenantA || len(g.Subjects) != 1 || g.Subjects[0].SubID != bob ||
		g.Subjects[0].ID != projections.GrantSubjectID(pending.GrantID, 0) || len(g.Access) != 1 || g.Access[0].ID != projections.GrantAccessID(pending.GrantID, 0) ||
		g.Access[0].Limits == nil || g.Access[0].Limits.DebitAmount.Value != "100" || *g.Access[0].Identifier != bob || g.Interact == nil {
		t.Fatalf("grant: %+v %v", g, err)
	}
	if g, err := f.store.Grant(f.ctx, pending.GrantID, ptr(tenantB)); g != nil || err != nil {
		t.Fatalf("another tenant's grant: %+v %v", g, err)
	}

	all := []grant.Requested{approved, pending, revoked, rejected, other}
	for _, c := range []struct {
		name       string
		page       readmodel.Page
		want       []grant.Requested
		next, prev bool
	}{
		{"first 2", readmodel.Page{First: ptr(2)}, all[:2], true, false},
		{"after the second", readmodel.Page{First: ptr(2), After: &all[1].GrantID}, all[2:4], true, true},
		{"after the fourth", readmodel.Page{First: ptr(2), After: &all[3].GrantID}, all[4:], false, true},
		{"last 2 before the fifth", readmodel.Page{Last: ptr(2), Before: &all[4].GrantID}, all[2:4], true, true},
		{"descending", readmodel.Page{First: ptr(3), Descending: true}, []grant.Requested{other, rejected, revoked}, true, false},
		{"descending after the third newest", readmodel.Page{First: ptr(3), Descending: true, After: &revoked.GrantID},
			[]grant.Requested{pending, approved}, false, true},
	} {
		got, info, err := f.store.Grants(f.ctx, authstore.Filter{}, c.page)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if ids(got) != requestIDs(c.want) || info.HasNextPage != c.next || info.HasPreviousPage != c.prev ||
			*info.StartCursor != c.want[0].GrantID || *info.EndCursor != c.want[len(c.want)-1].GrantID {
			t.Errorf("%s: got %s %+v, want %s next %t previous %t", c.name, ids(got), info, requestIDs(c.want), c.next, c.prev)
		}
	}
	if _, _, err := f.store.Grants(f.ctx, authstore.Filter{}, readmodel.Page{First: ptr(101)}); apperr.KindOf(err) != apperr.InvalidInput {
		t.Fatalf("a page of 101: %v", err)
	}
}

func ids(gs []authstore.Grant) string {
	var out []string
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return fmt.Sprint(out)
}

func requestIDs(rs []grant.Requested) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.GrantID)
	}
	return fmt.Sprint(out)
}

func ptr[T any](v T) *T { return &v }
