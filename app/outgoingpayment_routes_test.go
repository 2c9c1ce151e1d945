package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/openpayments"
)

// interactiveGrant issues to c a grant of access that needs interaction
// (outgoing payments): requested, accepted at once by the resource owner,
// its interaction finished, then polled for its token. It answers the grant's id and access token.
func interactiveGrant(t *testing.T, s *system, c *opClient, tenantID string, access events.GrantAccess) (string, string) {
	t.Helper()
	ctx := context.Background()
	d := s.running.Deps
	policy := grant.DefaultPolicy("http://auth.test")
	policy.Wait = 0
	grants := grant.NewHandler(d.Store, policy, func(context.Context, string) (grant.Tenant, error) {
		return grant.Tenant{Exists: true, HasIDP: true}, nil
	}, d.Enqueue)
	meta := func() commands.Meta {
		id := uuid.NewString()
		return commands.Meta{ID: id, CorrelationID: id}
	}
	req, err := grants.Request(ctx, commands.RequestGrant{Meta: meta(), TenantID: tenantID, Access: []events.GrantAccess{access},
		Client: events.GrantClient{WalletAddress: c.walletAddress}, Interact: &events.GrantInteract{Start: []string{"redirect"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := grants.Accept(ctx, commands.InteractionChoice{Meta: meta(), GrantID: req.GrantID, InteractionID: req.InteractionID,
		Nonce: req.InteractNonce}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := grants.Finish(ctx, commands.FinishInteraction{Meta: meta(), GrantID: req.GrantID, InteractionID: req.InteractionID,
		Nonce: req.InteractNonce}); err != nil {
		t.Fatal(err)
	}
	got, err := grants.Continue(ctx, commands.ContinueGrant{Meta: meta(), GrantID: req.GrantID, ContinueID: req.ContinueID,
		ContinueToken: req.ContinueToken})
	if err != nil || got.AccessToken == nil {
		t.Fatalf("token of grant %s: %+v %v", req.GrantID, got, err)
	}
	return req.GrantID, got.AccessToken.Value
}

// The outgoing payment routes of the resource server that read, each
// request and answer checked against the Open Payments spec: a wallet
// address's payments (always only the client's own, as Rafiki lists them),
// one payment (read reaches the client's own, read-all any), and what the
// payments of the token's grant spent (in the current interval when its
// limits repeat, in all otherwise, null when none spent).
func TestOutgoingPaymentReadRoutesMatchTheSpec(t *testing.T) {
	s := startResourceServer(t)
	spec := openPaymentsSpec(t, "resource-server.yaml")
	ctx := context.Background()
	tenant, d := s.operator.TenantID, s.running.Deps
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	wallets := map[string]walletAddressOut{}
	for _, address := range []string{"opr-alice", "opr-bob"} {
		if wallets[address], err = createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": address}); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := "http://wallet.test/opr-alice", "http://wallet.test/opr-bob"
	into, err := createIncomingPayment(ctx, s.operator, map[string]any{"walletAddressId": wallets["opr-bob"].ID})
	if err != nil {
		t.Fatal(err)
	}
	client, stranger := newOPClient(t), newOPClient(t)
	now := time.Now().UTC().Truncate(time.Second)
	interval := events.GrantLimits{DebitAmount: &events.GrantAmount{Value: "1000", AssetCode: "USD", AssetScale: 2},
		Interval: "R/" + now.Add(-time.Hour).Format(time.RFC3339) + "/PT2H"}
	outgoing := func(c *opClient, limits *events.GrantLimits, actions ...string) (string, string) {
		t.Helper()
		return interactiveGrant(t, s, c, tenant, events.GrantAccess{Type: grant.TypeOutgoingPayment, Actions: actions, Identifier: alice, Limits: limits})
	}
	repeating, token := outgoing(client, &interval, grant.ActionCreate, grant.ActionRead, grant.ActionList)
	total, totalToken := outgoing(client, &events.GrantLimits{DebitAmount: interval.DebitAmount}, grant.ActionCreate)
	_, unspentToken := outgoing(client, nil, grant.ActionCreate)
	notBegun, notBegunToken := outgoing(client, &events.GrantLimits{DebitAmount: interval.DebitAmount,
		Interval: "R/" + now.Add(time.Hour).Format(time.RFC3339) + "/PT2H"}, grant.ActionCreate)
	_, strangers := outgoing(stranger, nil, grant.ActionRead, grant.ActionList)
	_, strangersAll := outgoing(stranger, nil, grant.ActionReadAll, grant.ActionListAll)
	onBob := s.grant(t, client, tenant, map[string]any{"type": "incoming-payment", "actions": []string{"read", "list"}, "identifier": bob})
	_, nobody := interactiveGrant(t, s, client, tenant, events.GrantAccess{Type: grant.TypeOutgoingPayment, Actions: []string{grant.ActionList},
		Identifier: "http://wallet.test/opr-nobody"})

	// Four payments from alice, three by the client, one by the stranger;
	// the client's second is cancelled, its third failed.
	const typ = outgoingpayment.AggregateType
	var ids []string
	for i, by := range []*opClient{client, client, client, stranger} {
		q, err := createQuote(ctx, s.operator, map[string]any{"walletAddressId": wallets["opr-alice"].ID, "receiver": into.URL,
			"debitAmount": map[string]any{"value": fmt.Sprint(100 * (i + 1)), "assetCode": "USD", "assetScale": 2}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, q.ID)
		appendTo(t, d, typ, tenant, q.ID, paymentOf(q, usd.ID, `{"description":"Thanks"}`, by.walletAddress, repeating))
	}
	reason := "too late"
	appendTo(t, d, typ, tenant, ids[1], &events.OutgoingPaymentCancelled{Reason: &reason})
	appendTo(t, d, typ, tenant, ids[2], &events.OutgoingPaymentFunded{Amount: 300}, &events.OutgoingPaymentFailed{Error: "F99", Sent: 120, Delivered: 110})
	last := appendTo(t, d, typ, tenant, ids[0], &events.OutgoingPaymentFunded{Amount: 100})
	waitApplied(t, d, "outgoing_payments", last)

	// What the payments took of the grants: of the repeating one, one
	// payment in the previous interval, three in the current one, of which
	// one gave back all it took and one part of it; of the other, two (one
	// of them not in the read model of payments), one giving back part.
	const grantType = outgoingpayment.GrantAggregateType
	spend := func(grantID, paymentID string, debit, receive uint64, from time.Time) {
		t.Helper()
		e := &events.OutgoingPaymentGrantSpent{OutgoingPaymentID: paymentID, DebitAmount: debit, ReceiveAmount: receive}
		if grantID == repeating {
			to := from.Add(2 * time.Hour)
			e.IntervalStart, e.IntervalEnd = &from, &to
		}
		appendTo(t, d, grantType, tenant, grantID, e)
	}
	current, previous := now.Add(-time.Hour), now.Add(-3*time.Hour)
	spend(repeating, uuid.NewString(), 700, 690, previous)
	spend(repeating, ids[0], 100, 100, current)
	spend(repeating, ids[1], 200, 200, current)
	spend(repeating, ids[2], 300, 300, current)
	appendTo(t, d, grantType, tenant, repeating, &events.OutgoingPaymentGrantReleased{OutgoingPaymentID: ids[1], DebitAmount: 200, ReceiveAmount: 200})
	appendTo(t, d, grantType, tenant, repeating, &events.OutgoingPaymentGrantReleased{OutgoingPaymentID: ids[2], DebitAmount: 180, ReceiveAmount: 190})
	spend(total, ids[3], 400, 400, time.Time{})
	// A grant whose interval holds no period now spent nothing in it,
	// whatever its records say.
	strayQuote, err := createQuote(ctx, s.operator, map[string]any{"walletAddressId": wallets["opr-alice"].ID, "receiver": into.URL,
		"debitAmount": map[string]any{"value": "7", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	appendTo(t, d, typ, tenant, strayQuote.ID, paymentOf(strayQuote, usd.ID, "", "http://wallet.test/opr-third-client", notBegun))
	stray, strayEnd := now.Add(-time.Hour), now.Add(time.Hour)
	appendTo(t, d, grantType, tenant, notBegun, &events.OutgoingPaymentGrantSpent{OutgoingPaymentID: strayQuote.ID, DebitAmount: 7,
		ReceiveAmount: 7, IntervalStart: &stray, IntervalEnd: &strayEnd})
	other := uuid.NewString()
	spend(total, other, 100, 90, time.Time{})
	last = appendTo(t, d, grantType, tenant, total, &events.OutgoingPaymentGrantReleased{OutgoingPaymentID: other, DebitAmount: 5, ReceiveAmount: 5})
	waitApplied(t, d, "outgoing_payment_grants", last)

	answers := map[string]json.RawMessage{}
	call := specCaller(t, s, spec, tenant, map[string]bool{"list from a cursor not an id": true}, answers)
	list := "/outgoing-payments?wallet-address=" + url.QueryEscape(alice)
	path := func(id string) string { return "/outgoing-payments/" + id }
	get := func(name string, c *opClient, token, id string, status int) map[string]any {
		t.Helper()
		return call(opCall{name: name, client: c, token: token, method: http.MethodGet, path: path(id), specPath: "/outgoing-payments/{id}", status: status}, false)
	}
	spent := func(name, token string, status int) map[string]any {
		t.Helper()
		return call(opCall{name: name, client: client, token: token, method: http.MethodGet, path: "/outgoing-payment-grant",
			specPath: "/outgoing-payment-grant", status: status}, false)
	}

	got := get("get", client, token, ids[0], http.StatusOK)
	want := map[string]any{"id": "http://wallet.test/" + tenant + "/outgoing-payments/" + ids[0], "walletAddress": alice,
		"quoteId": "http://wallet.test/" + tenant + "/quotes/" + ids[0], "receiver": into.URL, "failed": false,
		"debitAmount":   map[string]any{"value": "100", "assetCode": "USD", "assetScale": float64(2)},
		"receiveAmount": map[string]any{"value": "100", "assetCode": "USD", "assetScale": float64(2)},
		"sentAmount":    map[string]any{"value": "0", "assetCode": "USD", "assetScale": float64(2)},
		"metadata":      map[string]any{"description": "Thanks"}, "createdAt": got["createdAt"]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	// The answer to a payment's creation matches the spec too.
	subject, err := outgoingpayment.Subject(tenant, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	state, _, err := handlers.Load(ctx, d.Store, subject, outgoingpayment.Evolve)
	if err != nil {
		t.Fatal(err)
	}
	created, err := json.Marshal(openpayments.OutgoingPaymentWithSpentBody("http://wallet.test", alice, state, 100, 100))
	if err != nil {
		t.Fatal(err)
	}
	matchesSpec(t, spec, specAnswer{Method: http.MethodPost, Path: "/outgoing-payments", Status: http.StatusCreated,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: created})
	if got := get("get the cancelled one", client, token, ids[1], http.StatusOK); got["failed"] != true ||
		fmt.Sprint(got["metadata"]) != "map[cancellationReason:too late description:Thanks]" {
		t.Fatalf("cancelled %v", got)
	}
	if got := get("get the failed one", client, token, ids[2], http.StatusOK); got["failed"] != true ||
		fmt.Sprint(got["sentAmount"]) != "map[assetCode:USD assetScale:2 value:120]" {
		t.Fatalf("failed %v", got)
	}
	get("get another client's with read", stranger, strangers, ids[0], http.StatusNotFound)
	get("get another client's with read-all", stranger, strangersAll, ids[0], http.StatusOK)
	get("get one that does not exist", client, token, uuid.NewString(), http.StatusNotFound)
	get("get one that is no id", client, token, "nonsense", http.StatusNotFound)
	get("get without a token", client, "", ids[0], http.StatusUnauthorized)
	get("get unsigned", nil, token, ids[0], http.StatusBadRequest)
	get("get without the read action", client, totalToken, ids[0], http.StatusForbidden)

	var page struct {
		Pagination struct {
			StartCursor, EndCursor       string
			HasNextPage, HasPreviousPage bool
		}
		Result []struct{ ID string }
	}
	pageOf := func(name string, c *opClient, token, query string) []string {
		t.Helper()
		call(opCall{name: name, client: c, token: token, method: http.MethodGet, path: list + query, specPath: "/outgoing-payments", status: http.StatusOK}, false)
		page.Result, page.Pagination.StartCursor, page.Pagination.EndCursor = nil, "", ""
		if err := json.Unmarshal(answers[name], &page); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range page.Result {
			out = append(out, p.ID[strings.LastIndex(p.ID, "/")+1:])
		}
		return out
	}
	if got := pageOf("list", client, token, ""); fmt.Sprint(got) != fmt.Sprint([]string{ids[2], ids[1], ids[0]}) ||
		page.Pagination.HasNextPage || page.Pagination.HasPreviousPage {
		t.Fatalf("list: %s", answers["list"])
	}
	if got := pageOf("list first 2", client, token, "&first=2"); len(got) != 2 || !page.Pagination.HasNextPage {
		t.Fatalf("first 2: %s", answers["list first 2"])
	}
	if got := pageOf("list the next page", client, token, "&first=2&cursor="+page.Pagination.EndCursor); fmt.Sprint(got) != fmt.Sprint([]string{ids[0]}) ||
		!page.Pagination.HasPreviousPage || page.Pagination.HasNextPage {
		t.Fatalf("next page: %s", answers["list the next page"])
	}
	if got := pageOf("list the previous page", client, token, "&last=1&cursor="+ids[0]); fmt.Sprint(got) != fmt.Sprint([]string{ids[1]}) {
		t.Fatalf("previous page: %s", answers["list the previous page"])
	}
	if got := pageOf("list another client's with list", stranger, strangers, ""); fmt.Sprint(got) != fmt.Sprint([]string{ids[3]}) {
		t.Fatalf("the stranger's list: %s", answers["list another client's with list"])
	}
	if got := pageOf("list another client's with list-all", stranger, strangersAll, ""); fmt.Sprint(got) != fmt.Sprint([]string{ids[3]}) {
		t.Fatalf("the stranger's list-all, which Rafiki also limits to the client's own: %s", answers["list another client's with list-all"])
	}
	for _, c := range []opCall{
		{"list without a token", client, "", http.MethodGet, list, "", "/outgoing-payments", http.StatusUnauthorized},
		{"list unsigned", nil, token, http.MethodGet, list, "", "/outgoing-payments", http.StatusBadRequest},
		{"list with a token for another type", client, onBob, http.MethodGet, list, "", "/outgoing-payments", http.StatusForbidden},
		{"list without a wallet address", client, token, http.MethodGet, "/outgoing-payments", "", "/outgoing-payments", http.StatusBadRequest},
		{"list first 0", client, token, http.MethodGet, list + "&first=0", "", "/outgoing-payments", http.StatusBadRequest},
		{"list from a cursor not an id", client, token, http.MethodGet, list + "&first=1&cursor=nonsense", "", "/outgoing-payments", http.StatusBadRequest},
		{"list an unknown wallet address", client, nobody, http.MethodGet, "/outgoing-payments?wallet-address=" + url.QueryEscape("http://wallet.test/opr-nobody"), "",
			"/outgoing-payments", http.StatusNotFound},
	} {
		call(c, false)
	}

	amount := func(v any) string { return fmt.Sprint(v) }
	if got := spent("spent in the current interval", token, http.StatusOK); amount(got["spentDebitAmount"]) != "map[assetCode:USD assetScale:2 value:220]" ||
		amount(got["spentReceiveAmount"]) != "map[assetCode:USD assetScale:2 value:210]" {
		t.Fatalf("spent in the current interval: %v", got)
	}
	if got := spent("spent in all", totalToken, http.StatusOK); amount(got["spentDebitAmount"]) != "map[assetCode:USD assetScale:2 value:495]" ||
		amount(got["spentReceiveAmount"]) != "map[assetCode:USD assetScale:2 value:485]" {
		t.Fatalf("spent in all: %v", got)
	}
	if got := spent("nothing spent", unspentToken, http.StatusOK); len(got) != 2 || got["spentDebitAmount"] != nil || got["spentReceiveAmount"] != nil {
		t.Fatalf("nothing spent: %s", answers["nothing spent"])
	}
	if got := spent("an interval not begun", notBegunToken, http.StatusOK); len(got) != 2 || got["spentDebitAmount"] != nil || got["spentReceiveAmount"] != nil {
		t.Fatalf("an interval not begun: %s", answers["an interval not begun"])
	}
	spent("spent without a token", "", http.StatusUnauthorized)
	spent("spent with a token that cannot create", strangers, http.StatusForbidden)

	// Last, since it changes the lists: a payment is read as soon as it
	// was made, from its events while the read model does not show it yet.
	fresh, err := createQuote(ctx, s.operator, map[string]any{"walletAddressId": wallets["opr-alice"].ID, "receiver": into.URL,
		"debitAmount": map[string]any{"value": "5", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	appendTo(t, d, typ, tenant, fresh.ID, paymentOf(fresh, usd.ID, "", client.walletAddress, ""))
	if got := get("get one just made", client, token, fresh.ID, http.StatusOK); !strings.HasSuffix(got["id"].(string), fresh.ID) ||
		fmt.Sprint(got["debitAmount"]) != "map[assetCode:USD assetScale:2 value:5]" {
		t.Fatalf("just made %v", got)
	}
}
