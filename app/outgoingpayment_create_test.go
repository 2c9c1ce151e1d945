package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
)

// The resource server's outgoing payment creation, each request and answer
// checked against the Open Payments spec: a payment of a quote and one of
// an incoming payment and a debit amount, under a grant whose debit limit
// they share (the answer shows what the grant's payments spent); past the
// limit, another receiver than the grant's, an unknown quote, another
// wallet address's quote, a second payment of one quote, and no token are
// refused as Rafiki refuses them. A payment made so is funded and
// completes.
func TestOutgoingPaymentCreateRouteMatchesTheSpec(t *testing.T) {
	s := startResourceServer(t)
	spec := openPaymentsSpec(t, "resource-server.yaml")
	ctx := context.Background()
	tenant := s.operator.TenantID
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	wallets := map[string]string{}
	for _, address := range []string{"opc-alice", "opc-bob", "opc-carol"} {
		wa, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": address})
		if err != nil {
			t.Fatal(err)
		}
		wallets[address] = wa.ID
	}
	alice := "http://wallet.test/opc-alice"
	into, err := createIncomingPayment(ctx, s.operator, map[string]any{"walletAddressId": wallets["opc-bob"]})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := createIncomingPayment(ctx, s.operator, map[string]any{"walletAddressId": wallets["opc-carol"]})
	if err != nil {
		t.Fatal(err)
	}
	quote := func(from, receiver string, debit int) string {
		t.Helper()
		q, err := createQuote(ctx, s.operator, map[string]any{"walletAddressId": wallets[from], "receiver": receiver,
			"debitAmount": map[string]any{"value": fmt.Sprint(debit), "assetCode": "USD", "assetScale": 2}})
		if err != nil {
			t.Fatal(err)
		}
		return q.ID
	}
	client := newOPClient(t)
	limits := &events.GrantLimits{Receiver: into.URL, DebitAmount: &events.GrantAmount{Value: "1000", AssetCode: "USD", AssetScale: 2}}
	_, token := interactiveGrant(t, s, client, tenant, events.GrantAccess{Type: grant.TypeOutgoingPayment,
		Actions: []string{grant.ActionCreate, grant.ActionRead}, Identifier: alice, Limits: limits})
	_, readOnly := interactiveGrant(t, s, client, tenant, events.GrantAccess{Type: grant.TypeOutgoingPayment,
		Actions: []string{grant.ActionRead}, Identifier: alice})

	answers := map[string]json.RawMessage{}
	call := specCaller(t, s, spec, tenant, map[string]bool{"of a quote paid already": true, "of another wallet address's quote": true}, answers)
	create := func(name, token, body string, status int) map[string]any {
		t.Helper()
		return call(opCall{name: name, client: client, token: token, method: http.MethodPost, path: "/outgoing-payments",
			body: body, specPath: "/outgoing-payments", status: status}, false)
	}
	quoteURL := func(id string) string { return "http://wallet.test/" + tenant + "/quotes/" + id }

	first := quote("opc-alice", into.URL, 510)
	got := create("of a quote", token, fmt.Sprintf(`{"walletAddress":%q,"quoteId":%q,"metadata":{"note":"rent"}}`, alice, quoteURL(first)),
		http.StatusCreated)
	if got["id"] != "http://wallet.test/"+tenant+"/outgoing-payments/"+first || got["quoteId"] != quoteURL(first) ||
		fmt.Sprint(got["grantSpentDebitAmount"]) != "map[assetCode:USD assetScale:2 value:510]" ||
		fmt.Sprint(got["debitAmount"]) != "map[assetCode:USD assetScale:2 value:510]" || got["failed"] != false ||
		fmt.Sprint(got["metadata"]) != "map[note:rent]" {
		t.Fatalf("created %v", got)
	}
	got = create("of an incoming payment", token, fmt.Sprintf(`{"walletAddress":%q,"incomingPayment":%q,"debitAmount":{"value":"400","assetCode":"USD","assetScale":2}}`,
		alice, into.URL), http.StatusCreated)
	if fmt.Sprint(got["grantSpentDebitAmount"]) != "map[assetCode:USD assetScale:2 value:910]" || fmt.Sprint(got["receiveAmount"]) != "map[assetCode:USD assetScale:2 value:400]" {
		t.Fatalf("created %v", got)
	}
	create("past the grant's limit", token, fmt.Sprintf(`{"walletAddress":%q,"quoteId":%q}`, alice, quoteURL(quote("opc-alice", into.URL, 100))),
		http.StatusForbidden)
	create("to another receiver than the grant's", token, fmt.Sprintf(`{"walletAddress":%q,"quoteId":%q}`, alice,
		quoteURL(quote("opc-alice", elsewhere.URL, 10))), http.StatusForbidden)
	create("of a quote paid already", token, fmt.Sprintf(`{"walletAddress":%q,"quoteId":%q}`, alice, quoteURL(first)), http.StatusBadRequest)
	create("of an unknown quote", token, fmt.Sprintf(`{"walletAddress":%q,"quoteId":%q}`, alice, quoteURL(uuid.NewString())), http.StatusNotFound)
	create("of another wallet address's quote", token, fmt.Sprintf(`{"walletAddress":%q,"quoteId":%q}`, alice,
		quoteURL(quote("opc-carol", into.URL, 10))), http.StatusBadRequest)
	create("without a token", "", fmt.Sprintf(`{"walletAddress":%q,"quoteId":%q}`, alice, quoteURL(first)), http.StatusUnauthorized)
	create("with a token that cannot create", readOnly, fmt.Sprintf(`{"walletAddress":%q,"quoteId":%q}`, alice, quoteURL(first)),
		http.StatusForbidden)
	create("with both a quote and an incoming payment", token, fmt.Sprintf(`{"walletAddress":%q,"quoteId":%q,"incomingPayment":%q}`,
		alice, quoteURL(first), into.URL), http.StatusBadRequest)

	o := newOutgoing(s)
	if err := o.fund(first); err != nil {
		t.Fatal(err)
	}
	if p, _ := o.finished(t, first, 10*time.Second); p.State != "COMPLETED" || p.SentAmount.Value != "510" {
		t.Fatalf("paid %+v", p)
	}
}
