package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

// authAdmin is a dev-like process (backend, auth and workers) with clients
// of both admin APIs.
type authAdmin struct {
	running  *app.Running
	nats     *testkit.NATS
	url      string // the auth admin /graphql endpoint
	operator *adminclient.Client
	backend  *adminclient.Client
}

func startAuthAdmin(t *testing.T) *authAdmin {
	t.Helper()
	n := testkit.StartNATS(t, false)
	cfg := config.Config{
		OperatorTenantID: uuid.NewString(), AdminAPISecret: "operator-" + uuid.NewString(),
		AdminSignatureVersion: 1, AdminSignatureTTL: 30 * time.Second, ILPAddress: "test.rafiki",
		DatabaseURL: testkit.NewDatabase(t), AuthDatabaseURL: testkit.NewDatabase(t), RedisURL: testkit.RedisURL(), NATSURL: n.URL, NATSStreamReplicas: 1,
		ReadYourWritesTimeout: 5 * time.Second, RequestTimeout: 10 * time.Second, ShutdownTimeout: 5 * time.Second, GraphQLIntrospection: true,
		IncomingPaymentExpiryMax: 30 * 24 * time.Hour, QuoteLifespan: 5 * time.Minute, OutgoingPaymentRetryAttempts: 5,
		GraphQLIdempotencyTTL: time.Hour, GraphQLIdempotencyLock: 2 * time.Second,
		StreamSecret: make([]byte, 32), EventSecretsKey: testkit.EventSecretsKey,
		OpenPaymentsURL: "http://wallet.test", AuthServerGrantURL: "http://auth.test", LocalCacheDuration: 15 * time.Second,
		AuthServerURL: "http://auth.test", CookieKey: "cookie-key-of-the-tests",
		IdentityServerURL: "http://idp.test/consent", IdentityServerSecret: "idp-secret",
		InteractionExpiry: 10 * time.Minute, AccessTokenExpiry: 10 * time.Minute,
	}
	r, err := app.Start(context.Background(), cfg, testLogger(), app.Set{Backend: true, Auth: true, Worker: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Stop(stop)
	})
	authBase, err := r.URL(app.AuthAdminListener)
	if err != nil {
		t.Fatal(err)
	}
	backendBase, err := r.URL(app.AdminListener)
	if err != nil {
		t.Fatal(err)
	}
	a := &authAdmin{running: r, nats: n, url: authBase + "/graphql"}
	a.operator = a.client(cfg.OperatorTenantID, cfg.AdminAPISecret)
	a.backend = &adminclient.Client{URL: backendBase + "/graphql", TenantID: cfg.OperatorTenantID, Secret: cfg.AdminAPISecret}
	return a
}

func (a *authAdmin) client(tenantID, secret string) *adminclient.Client {
	return &adminclient.Client{URL: a.url, TenantID: tenantID, Secret: secret}
}

type amountOut struct {
	Value      string `json:"value"`
	AssetCode  string `json:"assetCode"`
	AssetScale int    `json:"assetScale"`
}

type grantOut struct {
	ID     string  `json:"id"`
	Client *string `json:"client"`
	Access []struct {
		ID         string   `json:"id"`
		Identifier *string  `json:"identifier"`
		Type       string   `json:"type"`
		Actions    []string `json:"actions"`
		Limits     *struct {
			Receiver      *string    `json:"receiver"`
			DebitAmount   *amountOut `json:"debitAmount"`
			ReceiveAmount *amountOut `json:"receiveAmount"`
			Interval      *string    `json:"interval"`
		} `json:"limits"`
		CreatedAt string `json:"createdAt"`
	} `json:"access"`
	Subject *struct {
		SubIDs []struct {
			ID          string `json:"id"`
			SubID       string `json:"subId"`
			SubIDFormat string `json:"subIdFormat"`
			CreatedAt   string `json:"createdAt"`
		} `json:"sub_ids"`
	} `json:"subject"`
	State              string  `json:"state"`
	FinalizationReason *string `json:"finalizationReason"`
	CreatedAt          string  `json:"createdAt"`
	TenantID           string  `json:"tenantId"`
}

const grantFields = `id client access { id identifier type actions
	limits { receiver debitAmount { value assetCode assetScale } receiveAmount { value assetCode assetScale } interval } createdAt }
	subject { sub_ids { id subId subIdFormat createdAt } } state finalizationReason createdAt tenantId`

type pageInfoOut struct {
	StartCursor     *string `json:"startCursor"`
	EndCursor       *string `json:"endCursor"`
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
}

type grantsOut struct {
	Grants struct {
		PageInfo pageInfoOut `json:"pageInfo"`
		Edges    []struct {
			Cursor string   `json:"cursor"`
			Node   grantOut `json:"node"`
		} `json:"edges"`
	} `json:"grants"`
}

func (g grantsOut) ids() []string {
	out := make([]string, len(g.Grants.Edges))
	for i, e := range g.Grants.Edges {
		out[i] = e.Node.ID
	}
	return out
}

const grantsQuery = `query($after: String, $before: String, $first: Int, $last: Int, $filter: GrantFilter, $sortOrder: SortOrder, $tenantId: ID) {
	grants(after: $after, before: $before, first: $first, last: $last, filter: $filter, sortOrder: $sortOrder, tenantId: $tenantId) {
		pageInfo { startCursor endCursor hasNextPage hasPreviousPage }
		edges { cursor node { ` + grantFields + ` } } } }`

func listGrants(ctx context.Context, c *adminclient.Client, vars map[string]any) (grantsOut, error) {
	var out grantsOut
	err := c.Do(ctx, grantsQuery, vars, &out)
	return out, err
}

func getGrant(ctx context.Context, c *adminclient.Client, id string) (grantOut, error) {
	var out struct{ Grant grantOut }
	err := c.Do(ctx, `query($id: ID!) { grant(id: $id) { `+grantFields+` } }`, map[string]any{"id": id}, &out)
	return out.Grant, err
}

func revokeGrant(ctx context.Context, c *adminclient.Client, id string) (string, error) {
	var out struct {
		RevokeGrant struct{ ID string } `json:"revokeGrant"`
	}
	err := c.Do(ctx, `mutation($input: RevokeGrantInput!) { revokeGrant(input: $input) { id } }`,
		map[string]any{"input": map[string]any{"grantId": id}}, &out)
	return out.RevokeGrant.ID, err
}

// grants the test makes, in the order it makes them.
type madeGrants struct {
	opDirect, opPending, tIssued, tRejected, tDirect string
}

func meta() commands.Meta {
	id := uuid.NewString()
	return commands.Meta{ID: id, CorrelationID: id}
}

// makeGrants requests grants as the GNAP endpoints would, for the operator
// and for tenant, and waits until the grants projection holds them.
func makeGrants(t *testing.T, a *authAdmin, tenantID string) madeGrants {
	t.Helper()
	ctx := context.Background()
	h := a.running.Auth.Grants
	var last uint64
	request := func(c commands.RequestGrant) grant.Requested {
		t.Helper()
		c.Meta = meta()
		req, err := h.Request(ctx, c)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		last = max(last, req.Sequence)
		return req
	}
	step := func(res handlers.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		last = max(last, res.Sequence)
	}
	var m madeGrants
	m.opDirect = request(commands.RequestGrant{TenantID: a.operator.TenantID, Client: events.GrantClient{WalletAddress: "https://wallet.test/client"},
		Access: []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{grant.ActionCreate, grant.ActionRead}, Identifier: "https://wallet.test/alice"}}}).GrantID
	m.opPending = request(commands.RequestGrant{TenantID: a.operator.TenantID, Client: events.GrantClient{WalletAddress: "https://wallet.test/client"},
		Access: []events.GrantAccess{{Type: grant.TypeOutgoingPayment, Actions: []string{grant.ActionCreate, grant.ActionRead}, Identifier: "https://wallet.test/carol",
			Limits: &events.GrantLimits{Receiver: "https://wallet.test/bob/incoming-payments/1",
				DebitAmount: &events.GrantAmount{Value: "18446744073709551615", AssetCode: "USD", AssetScale: 255}, Interval: "R/2026-01-01T00:00:00Z/P1M"}}},
		Subject:  []events.GrantSubjectID{{ID: "https://wallet.test/carol", Format: "uri"}},
		Interact: &events.GrantInteract{Start: []string{"redirect"}}}).GrantID

	interactive := func() grant.Requested {
		return request(commands.RequestGrant{TenantID: tenantID, Client: events.GrantClient{WalletAddress: "https://wallet.test/client"},
			Access: []events.GrantAccess{{Type: grant.TypeOutgoingPayment, Actions: []string{grant.ActionCreate}, Identifier: "https://wallet.test/bob",
				Limits: &events.GrantLimits{ReceiveAmount: &events.GrantAmount{Value: "500", AssetCode: "EUR", AssetScale: 2}}}},
			Interact: &events.GrantInteract{Start: []string{"redirect"},
				Finish: &events.GrantFinish{Method: "redirect", URI: "https://client.test/done", Nonce: "CLIENT-NONCE"}}})
	}
	issued := interactive()
	m.tIssued = issued.GrantID
	choice := commands.InteractionChoice{Meta: meta(), GrantID: issued.GrantID, InteractionID: issued.InteractionID, Nonce: issued.InteractNonce}
	step(h.Accept(ctx, choice))
	fin, res, err := h.Finish(ctx, commands.FinishInteraction{Meta: meta(), GrantID: issued.GrantID, InteractionID: issued.InteractionID, Nonce: issued.InteractNonce})
	step(res, err)
	cont, err := h.Continue(ctx, commands.ContinueGrant{Meta: meta(), GrantID: issued.GrantID, ContinueID: issued.ContinueID,
		ContinueToken: issued.ContinueToken, InteractRef: fin.InteractRef})
	step(cont.Result, err)

	rejected := interactive()
	m.tRejected = rejected.GrantID
	choice = commands.InteractionChoice{Meta: meta(), GrantID: rejected.GrantID, InteractionID: rejected.InteractionID, Nonce: rejected.InteractNonce}
	step(h.Reject(ctx, choice))
	_, res, err = h.Finish(ctx, commands.FinishInteraction{Meta: meta(), GrantID: rejected.GrantID, InteractionID: rejected.InteractionID, Nonce: rejected.InteractNonce})
	step(res, err)

	m.tDirect = request(commands.RequestGrant{TenantID: tenantID, Client: events.GrantClient{WalletAddress: "https://wallet.test/client"},
		Access: []events.GrantAccess{{Type: grant.TypeQuote, Actions: []string{grant.ActionCreate, grant.ActionRead}, Identifier: "https://wallet.test/dave"}}}).GrantID
	if err := a.running.Auth.Waiter.Wait(ctx, projections.Grants{}.Name(), last, 10*time.Second); err != nil {
		t.Fatalf("grants projection: %v", err)
	}
	return m
}

// createTenant creates a tenant with its own secret and identity provider
// through the backend admin API.
func createTenant(t *testing.T, a *authAdmin, secret string) string {
	t.Helper()
	var out struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	err := a.backend.Do(context.Background(), `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"apiSecret": secret, "idpConsentUrl": "http://idp.test/b", "idpSecret": "idp-b"}}, &out)
	if err != nil || out.CreateTenant.Tenant.ID == "" {
		t.Fatalf("create tenant: %+v %v", out, err)
	}
	return out.CreateTenant.Tenant.ID
}

func TestAuthAdminGrants(t *testing.T) {
	a := startAuthAdmin(t)
	ctx := context.Background()
	op := a.operator
	tenantSecret := "tenant-" + uuid.NewString()
	tenantID := createTenant(t, a, tenantSecret)
	tc := a.client(tenantID, tenantSecret)
	other := a.client(createTenant(t, a, "other-secret"), "other-secret")
	m := makeGrants(t, a, tenantID)
	created := []string{m.opDirect, m.opPending, m.tIssued, m.tRejected, m.tDirect}

	t.Run("grant fields", func(t *testing.T) {
		g, err := getGrant(ctx, op, m.opPending)
		if err != nil {
			t.Fatal(err)
		}
		if g.ID != m.opPending || g.Client == nil || *g.Client != "https://wallet.test/client" || g.State != "PENDING" ||
			g.FinalizationReason != nil || g.TenantID != op.TenantID || !isTimestamp(g.CreatedAt) {
			t.Fatalf("pending grant: %+v", g)
		}
		if len(g.Access) != 1 {
			t.Fatalf("access: %+v", g.Access)
		}
		acc := g.Access[0]
		if acc.ID == "" || acc.Identifier == nil || *acc.Identifier != "https://wallet.test/carol" || acc.Type != grant.TypeOutgoingPayment ||
			!slices.Equal(acc.Actions, []string{"create", "read"}) || !isTimestamp(acc.CreatedAt) || acc.Limits == nil {
			t.Fatalf("access item: %+v", acc)
		}
		l := acc.Limits
		if l.Receiver == nil || *l.Receiver != "https://wallet.test/bob/incoming-payments/1" || l.Interval == nil || *l.Interval != "R/2026-01-01T00:00:00Z/P1M" ||
			l.ReceiveAmount != nil || l.DebitAmount == nil || *l.DebitAmount != (amountOut{Value: "18446744073709551615", AssetCode: "USD", AssetScale: 255}) {
			t.Fatalf("limits: %+v %+v", l, l.DebitAmount)
		}
		if g.Subject == nil || len(g.Subject.SubIDs) != 1 || g.Subject.SubIDs[0].SubID != "https://wallet.test/carol" ||
			g.Subject.SubIDs[0].SubIDFormat != "uri" || g.Subject.SubIDs[0].ID == "" || !isTimestamp(g.Subject.SubIDs[0].CreatedAt) {
			t.Fatalf("subject: %+v", g.Subject)
		}

		want := map[string]struct {
			state  string
			reason string
		}{m.opDirect: {"APPROVED", ""}, m.tIssued: {"FINALIZED", "ISSUED"}, m.tRejected: {"FINALIZED", "REJECTED"}, m.tDirect: {"APPROVED", ""}}
		for id, w := range want {
			g, err := getGrant(ctx, op, id)
			if err != nil {
				t.Fatal(err)
			}
			reason := ""
			if g.FinalizationReason != nil {
				reason = *g.FinalizationReason
			}
			if g.State != w.state || reason != w.reason || g.Subject != nil {
				t.Errorf("grant %s: %s/%s subject %+v, want %s/%s", id, g.State, reason, g.Subject, w.state, w.reason)
			}
		}
		issued, err := getGrant(ctx, tc, m.tIssued)
		if err != nil {
			t.Fatal(err)
		}
		if issued.TenantID != tenantID || len(issued.Access) != 1 || issued.Access[0].Limits == nil || issued.Access[0].Limits.DebitAmount != nil ||
			issued.Access[0].Limits.ReceiveAmount == nil || *issued.Access[0].Limits.ReceiveAmount != (amountOut{Value: "500", AssetCode: "EUR", AssetScale: 2}) {
			t.Fatalf("issued grant, read by its tenant: %+v", issued)
		}
	})

	t.Run("filters", func(t *testing.T) {
		cases := []struct {
			name   string
			client *adminclient.Client
			vars   map[string]any
			want   []string
		}{
			{"none", op, nil, created},
			{"identifier in", op, map[string]any{"filter": map[string]any{"identifier": map[string]any{"in": []string{"https://wallet.test/bob"}}}},
				[]string{m.tIssued, m.tRejected}},
			{"identifiers in", op, map[string]any{"filter": map[string]any{"identifier": map[string]any{"in": []string{"https://wallet.test/alice", "https://wallet.test/dave"}}}},
				[]string{m.opDirect, m.tDirect}},
			{"identifier in, none matches", op, map[string]any{"filter": map[string]any{"identifier": map[string]any{"in": []string{"https://wallet.test/nobody"}}}}, nil},
			{"state in", op, map[string]any{"filter": map[string]any{"state": map[string]any{"in": []string{"PENDING"}}}}, []string{m.opPending}},
			{"states in", op, map[string]any{"filter": map[string]any{"state": map[string]any{"in": []string{"APPROVED", "FINALIZED"}}}},
				[]string{m.opDirect, m.tIssued, m.tRejected, m.tDirect}},
			{"state notIn", op, map[string]any{"filter": map[string]any{"state": map[string]any{"notIn": []string{"FINALIZED"}}}},
				[]string{m.opDirect, m.opPending, m.tDirect}},
			{"state in and notIn", op, map[string]any{"filter": map[string]any{"state": map[string]any{"in": []string{"APPROVED", "PENDING"}, "notIn": []string{"PENDING"}}}},
				[]string{m.opDirect, m.tDirect}},
			{"finalizationReason in", op, map[string]any{"filter": map[string]any{"finalizationReason": map[string]any{"in": []string{"ISSUED"}}}}, []string{m.tIssued}},
			{"finalizationReason notIn keeps grants not finalized", op, map[string]any{"filter": map[string]any{"finalizationReason": map[string]any{"notIn": []string{"ISSUED"}}}},
				[]string{m.opDirect, m.opPending, m.tRejected, m.tDirect}},
			{"conditions combine", op, map[string]any{"filter": map[string]any{"identifier": map[string]any{"in": []string{"https://wallet.test/bob"}},
				"finalizationReason": map[string]any{"notIn": []string{"ISSUED"}}}}, []string{m.tRejected}},
			{"empty lists filter nothing", op, map[string]any{"filter": map[string]any{"identifier": map[string]any{"in": []string{}}, "state": map[string]any{"in": []string{}}}}, created},
			{"operator, tenantId", op, map[string]any{"tenantId": tenantID}, []string{m.tIssued, m.tRejected, m.tDirect}},
			{"operator, its own tenantId", op, map[string]any{"tenantId": op.TenantID}, []string{m.opDirect, m.opPending}},
			{"operator, tenantId and filter", op, map[string]any{"tenantId": tenantID, "filter": map[string]any{"state": map[string]any{"notIn": []string{"FINALIZED"}}}}, []string{m.tDirect}},
			{"tenant", tc, nil, []string{m.tIssued, m.tRejected, m.tDirect}},
			{"tenant, filtered", tc, map[string]any{"filter": map[string]any{"identifier": map[string]any{"in": []string{"https://wallet.test/alice", "https://wallet.test/dave"}}}}, []string{m.tDirect}},
			{"tenant naming the operator", tc, map[string]any{"tenantId": op.TenantID}, []string{m.tIssued, m.tRejected, m.tDirect}},
			{"tenant with none", other, nil, nil},
			{"tenant with none naming another", other, map[string]any{"tenantId": tenantID}, nil},
		}
		for _, c := range cases {
			vars := map[string]any{"sortOrder": "ASC"}
			for k, v := range c.vars {
				vars[k] = v
			}
			got, err := listGrants(ctx, c.client, vars)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if !slices.Equal(got.ids(), c.want) {
				t.Errorf("%s: %v, want %v", c.name, got.ids(), c.want)
			}
			for _, e := range got.Grants.Edges {
				if e.Cursor != e.Node.ID {
					t.Errorf("%s: cursor %s of grant %s", c.name, e.Cursor, e.Node.ID)
				}
			}
		}
	})

	t.Run("pagination", func(t *testing.T) {
		reversed := slices.Clone(created)
		slices.Reverse(reversed)
		str := func(s string) *string { return &s }
		cases := []struct {
			name string
			vars map[string]any
			want []string
			info pageInfoOut
		}{
			{"newest first by default", nil, reversed, pageInfoOut{StartCursor: str(reversed[0]), EndCursor: str(reversed[4])}},
			{"DESC", map[string]any{"sortOrder": "DESC"}, reversed, pageInfoOut{StartCursor: str(reversed[0]), EndCursor: str(reversed[4])}},
			{"first", map[string]any{"sortOrder": "ASC", "first": 2}, created[:2],
				pageInfoOut{StartCursor: str(created[0]), EndCursor: str(created[1]), HasNextPage: true}},
			{"first after", map[string]any{"sortOrder": "ASC", "first": 2, "after": created[1]}, created[2:4],
				pageInfoOut{StartCursor: str(created[2]), EndCursor: str(created[3]), HasNextPage: true, HasPreviousPage: true}},
			{"first after, the end", map[string]any{"sortOrder": "ASC", "first": 2, "after": created[3]}, created[4:],
				pageInfoOut{StartCursor: str(created[4]), EndCursor: str(created[4]), HasPreviousPage: true}},
			{"after the last", map[string]any{"sortOrder": "ASC", "after": created[4]}, nil, pageInfoOut{}},
			{"last before", map[string]any{"sortOrder": "ASC", "last": 2, "before": created[4]}, created[2:4],
				pageInfoOut{StartCursor: str(created[2]), EndCursor: str(created[3]), HasNextPage: true, HasPreviousPage: true}},
			{"last before, the start", map[string]any{"sortOrder": "ASC", "last": 2, "before": created[1]}, created[:1],
				pageInfoOut{StartCursor: str(created[0]), EndCursor: str(created[0]), HasNextPage: true}},
			{"DESC first after", map[string]any{"sortOrder": "DESC", "first": 3, "after": reversed[0]}, reversed[1:4],
				pageInfoOut{StartCursor: str(reversed[1]), EndCursor: str(reversed[3]), HasNextPage: true, HasPreviousPage: true}},
			{"DESC last before", map[string]any{"sortOrder": "DESC", "last": 1, "before": reversed[1]}, reversed[:1],
				pageInfoOut{StartCursor: str(reversed[0]), EndCursor: str(reversed[0]), HasNextPage: true}},
		}
		for _, c := range cases {
			got, err := listGrants(ctx, op, c.vars)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if !slices.Equal(got.ids(), c.want) {
				t.Errorf("%s: %v, want %v", c.name, got.ids(), c.want)
			}
			if info := got.Grants.PageInfo; !samePageInfo(info, c.info) {
				t.Errorf("%s: page info %s, want %s", c.name, showPageInfo(info), showPageInfo(c.info))
			}
		}
		// A tenant pages through its own grants only.
		got, err := listGrants(ctx, tc, map[string]any{"sortOrder": "ASC", "first": 1, "after": m.tIssued})
		if err != nil || !slices.Equal(got.ids(), []string{m.tRejected}) || !got.Grants.PageInfo.HasNextPage || !got.Grants.PageInfo.HasPreviousPage {
			t.Fatalf("tenant's second page: %v %+v %v", got.ids(), got.Grants.PageInfo, err)
		}
	})

	t.Run("ids spelled otherwise", func(t *testing.T) {
		for _, id := range []string{strings.ToUpper(m.tIssued), "urn:uuid:" + m.tIssued, "{" + m.tIssued + "}", strings.ReplaceAll(m.tIssued, "-", "")} {
			if g, err := getGrant(ctx, op, id); err != nil || g.ID != m.tIssued {
				t.Errorf("grant %s: %+v %v", id, g.ID, err)
			}
		}
		for _, id := range []string{strings.ToUpper(tenantID), "urn:uuid:" + tenantID} {
			got, err := listGrants(ctx, op, map[string]any{"sortOrder": "ASC", "tenantId": id})
			if err != nil || !slices.Equal(got.ids(), []string{m.tIssued, m.tRejected, m.tDirect}) {
				t.Errorf("grants of tenant %s: %v %v", id, got.ids(), err)
			}
		}
	})

	t.Run("tenant scoping", func(t *testing.T) {
		for _, id := range []string{m.opDirect, m.opPending} {
			if _, err := getGrant(ctx, tc, id); code(t, err) != "NOT_FOUND" {
				t.Errorf("tenant reading the operator's grant: %v, want NOT_FOUND", err)
			}
		}
		if _, err := getGrant(ctx, other, m.tDirect); code(t, err) != "NOT_FOUND" {
			t.Errorf("tenant reading another tenant's grant: %v, want NOT_FOUND", err)
		}
		if _, err := revokeGrant(ctx, tc, m.opDirect); code(t, err) != "NOT_FOUND" {
			t.Errorf("tenant revoking the operator's grant: %v, want NOT_FOUND", err)
		}
		if _, err := revokeGrant(ctx, other, m.tDirect); code(t, err) != "NOT_FOUND" {
			t.Errorf("tenant revoking another tenant's grant: %v, want NOT_FOUND", err)
		}
		for _, id := range []string{m.opDirect, m.tDirect} {
			if g, err := getGrant(ctx, op, id); err != nil || g.State != "APPROVED" {
				t.Errorf("grant %s after refused revocations: %+v %v", id, g, err)
			}
		}
	})

	t.Run("revoke", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			client *adminclient.Client
			id     string
			spelt  string
		}{{"tenant, its own", tc, m.tDirect, m.tDirect}, {"operator, a tenant's", op, m.tIssued, strings.ToUpper(m.tIssued)},
			{"operator, its own", op, m.opPending, m.opPending}} {
			id, err := revokeGrant(ctx, c.client, c.spelt)
			if err != nil || id != c.id {
				t.Fatalf("%s: %q %v", c.name, id, err)
			}
			g, err := getGrant(ctx, c.client, c.id)
			if err != nil || g.State != "FINALIZED" || g.FinalizationReason == nil || *g.FinalizationReason != "REVOKED" {
				t.Fatalf("%s: right after revocation: %+v %v", c.name, g, err)
			}
		}
		if id, err := revokeGrant(ctx, tc, m.tDirect); err != nil || id != m.tDirect {
			t.Fatalf("revoking again: %q %v", id, err)
		}
		got, err := listGrants(ctx, op, map[string]any{"sortOrder": "ASC", "filter": map[string]any{"finalizationReason": map[string]any{"in": []string{"REVOKED"}}}})
		if err != nil || !slices.Equal(got.ids(), []string{m.opPending, m.tIssued, m.tDirect}) {
			t.Fatalf("revoked grants: %v %v", got.ids(), err)
		}
	})
}

func isTimestamp(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && strings.HasSuffix(s, "Z")
}

func samePageInfo(a, b pageInfoOut) bool {
	eq := func(x, y *string) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	return eq(a.StartCursor, b.StartCursor) && eq(a.EndCursor, b.EndCursor) && a.HasNextPage == b.HasNextPage && a.HasPreviousPage == b.HasPreviousPage
}

func showPageInfo(p pageInfoOut) string {
	s := func(x *string) string {
		if x == nil {
			return "nil"
		}
		return *x
	}
	return "{start " + s(p.StartCursor) + " end " + s(p.EndCursor) + " next " + boolString(p.HasNextPage) + " previous " + boolString(p.HasPreviousPage) + "}"
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// The auth admin API refuses what the backend admin API refuses: unsigned,
// stale, replayed and badly signed requests, requests of unknown or
// deleted tenants, and GET.
func TestAuthAdminRejectsBadSignatures(t *testing.T) {
	a := startAuthAdmin(t)
	ctx := context.Background()
	body := []byte(`{"query":"{ grants { edges { node { id } } } }"}`)
	secret := "tenant-" + uuid.NewString()
	tenantID := createTenant(t, a, secret)
	if err := a.client(tenantID, secret).Do(ctx, `{ grants { edges { node { id } } } }`, nil, nil); err != nil {
		t.Fatalf("a tenant signing with its secret: %v", err)
	}
	tenantWithOperatorSecret, _ := a.client(tenantID, a.operator.Secret).Request(ctx, body, time.Now())
	unknown, _ := a.client(uuid.NewString(), a.operator.Secret).Request(ctx, body, time.Now())
	refusesBadSignatures(t, a.operator, body, map[string]*http.Request{
		"a tenant with the operator's secret": tenantWithOperatorSecret, "unknown tenant": unknown,
	}, `mutation { revokeGrant(input: {grantId: "x"}) { id } }`)

	if err := a.backend.Do(ctx, `mutation($id: String!) { deleteTenant(id: $id) { success } }`, map[string]any{"id": tenantID}, nil); err != nil {
		t.Fatal(err)
	}
	var status *adminclient.StatusError
	if err := a.client(tenantID, secret).Do(ctx, `{ grants { edges { node { id } } } }`, nil, nil); !errors.As(err, &status) || status.Status != http.StatusUnauthorized {
		t.Fatalf("deleted tenant signing a request: %v, want 401", err)
	}
}

// Bad input is refused with a GraphQL error and its code, and appends
// nothing to the event store.
func TestAuthAdminBadInput(t *testing.T) {
	a := startAuthAdmin(t)
	ctx := context.Background()
	secret := "tenant-" + uuid.NewString()
	tenantID := createTenant(t, a, secret)
	m := makeGrants(t, a, tenantID)
	stream, err := a.nats.JS.Stream(ctx, app.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	grantQuery := `query($id: ID!) { grant(id: $id) { id } }`
	revoke := `mutation($id: String!) { revokeGrant(input: {grantId: $id}) { id } }`
	identifiers := func(in ...string) map[string]any {
		return map[string]any{"filter": map[string]any{"identifier": map[string]any{"in": in}}}
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("https://wallet.test/%d", i)
	}
	states := make([]string, 101)
	for i := range states {
		states[i] = "PENDING"
	}
	cases := []struct {
		name  string
		query string
		vars  map[string]any
		code  string
	}{
		{"unknown grant", grantQuery, map[string]any{"id": uuid.NewString()}, "NOT_FOUND"},
		{"grant id not a UUID", grantQuery, map[string]any{"id": "not-a-uuid"}, "NOT_FOUND"},
		{"empty grant id", grantQuery, map[string]any{"id": ""}, "NOT_FOUND"},
		{"grant id with a NUL", grantQuery, map[string]any{"id": m.tDirect + "\x00"}, "NOT_FOUND"},
		{"revoking an unknown grant", revoke, map[string]any{"id": uuid.NewString()}, "NOT_FOUND"},
		{"revoking a grant id not a UUID", revoke, map[string]any{"id": "not-a-uuid"}, "BAD_USER_INPUT"},
		{"revoking an empty grant id", revoke, map[string]any{"id": ""}, "BAD_USER_INPUT"},
		{"revoking a grant id with SQL", revoke, map[string]any{"id": "' OR 1=1 --"}, "BAD_USER_INPUT"},
		{"identifier with a NUL", grantsQuery, identifiers("https://wallet.test/bob\x00"), "BAD_USER_INPUT"},
		{"identifier with a control character", grantsQuery, identifiers("https://wallet.test/bob\n"), "BAD_USER_INPUT"},
		{"identifier too long", grantsQuery, identifiers(strings.Repeat("a", 256)), "BAD_USER_INPUT"},
		{"too many identifiers", grantsQuery, identifiers(many...), "BAD_USER_INPUT"},
		{"too many states", grantsQuery, map[string]any{"filter": map[string]any{"state": map[string]any{"notIn": states}}}, "BAD_USER_INPUT"},
		{"unknown state", grantsQuery, map[string]any{"filter": map[string]any{"state": map[string]any{"in": []string{"BOGUS"}}}}, "GRAPHQL_VALIDATION_FAILED"},
		{"finalization reason in lower case", grantsQuery, map[string]any{"filter": map[string]any{"finalizationReason": map[string]any{"notIn": []string{"issued"}}}}, "BAD_USER_INPUT"},
		{"null identifier", grantsQuery, map[string]any{"filter": map[string]any{"identifier": map[string]any{"in": []any{nil}}}}, "GRAPHQL_VALIDATION_FAILED"},
		{"unknown filter field", grantsQuery, map[string]any{"filter": map[string]any{"tenantId": tenantID}}, "GRAPHQL_VALIDATION_FAILED"},
		{"cursor not a UUID", grantsQuery, map[string]any{"after": "' OR 1=1 --"}, "BAD_USER_INPUT"},
		{"negative page", grantsQuery, map[string]any{"first": -1}, "BAD_USER_INPUT"},
		{"page too large", grantsQuery, map[string]any{"first": 101}, "BAD_USER_INPUT"},
		{"last without before", grantsQuery, map[string]any{"last": 2}, "BAD_USER_INPUT"},
		{"unknown sort order", grantsQuery, map[string]any{"sortOrder": "SIDEWAYS"}, "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, c := range cases {
		before := lastSequence(t, stream)
		err := a.operator.Do(ctx, c.query, c.vars, nil)
		if got := errorCode(err); got != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
		if after := lastSequence(t, stream); after != before {
			t.Errorf("%s appended events %d to %d", c.name, before+1, after)
		}
	}

	// Hostile values that are well formed find nothing, and change nothing.
	for name, vars := range map[string]map[string]any{
		"identifier with SQL":          identifiers("' OR 1=1 --"),
		"identifier with a wildcard":   identifiers("%"),
		"operator naming no tenant":    {"tenantId": "not-a-uuid"},
		"operator naming an unknown":   {"tenantId": uuid.NewString()},
		"operator naming one with SQL": {"tenantId": "' OR 1=1 --"},
	} {
		got, err := listGrants(ctx, a.operator, vars)
		if err != nil || len(got.ids()) != 0 {
			t.Errorf("%s: %v %v, want no grant", name, got.ids(), err)
		}
	}
}

// errorCode is a GraphQL error's code, including a request refused before
// execution (HTTP 422); "" when err is nil.
func errorCode(err error) string {
	var gqlErrs adminclient.Errors
	if errors.As(err, &gqlErrs) {
		return gqlErrs[0].Code()
	}
	var status *adminclient.StatusError
	if errors.As(err, &status) && status.Status == http.StatusUnprocessableEntity {
		var body struct{ Errors adminclient.Errors }
		if json.Unmarshal([]byte(status.Body), &body) == nil && len(body.Errors) > 0 {
			return body.Errors[0].Code()
		}
	}
	if err != nil {
		return err.Error()
	}
	return ""
}
