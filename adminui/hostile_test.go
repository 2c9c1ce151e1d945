package adminui_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/adminui"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/testkit"
)

// The tests in this file attack the admin UI as a hostile web site, a
// hostile tenant and a password guesser would. Those that need no backend
// run the UI against fakeAPI; the others against the backend of
// startSystem.

// fakeAPI stands in for the admin API: it signs in one tenant, by its id
// (the signature is not checked), answers any other id 401, and answers
// every other request with a GraphQL error repeating the request's
// variables, as an API echoing what it was sent would, so that what a
// page makes of an API's words is seen too.
type fakeAPI struct {
	tenantID string
	operator bool
	delay    time.Duration
	// failStatus, when set, answers every request with it and failBody.
	failStatus int
	failBody   string

	requests atomic.Int64 // every request, signed in or refused
	mu       sync.Mutex
	calls    []string // the queries and mutations besides whoami
}

func newFakeAPI() *fakeAPI { return &fakeAPI{tenantID: uuid.NewString(), operator: true} }

func (f *fakeAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	f.requests.Add(1)
	raw, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	answer := func(status int, body string) (*http.Response, error) {
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
	}
	if f.failStatus != 0 {
		return answer(f.failStatus, f.failBody)
	}
	tenant := req.Header.Get("tenant-id")
	if tenant != f.tenantID {
		// An API that repeats the tenant id it refused.
		return answer(http.StatusUnauthorized, "signature refused for tenant "+tenant)
	}
	var in struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	if strings.Contains(in.Query, "whoami") {
		out, _ := json.Marshal(map[string]any{"data": map[string]any{"whoami": map[string]any{"id": f.tenantID, "isOperator": f.operator}}})
		return answer(http.StatusOK, string(out))
	}
	f.mu.Lock()
	f.calls = append(f.calls, in.Query)
	f.mu.Unlock()
	var vars bytes.Buffer
	enc := json.NewEncoder(&vars)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(in.Variables)
	out, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{
		"message": "invalid input " + strings.TrimSpace(vars.String()), "extensions": map[string]any{"code": "BAD_USER_INPUT"}}}})
	return answer(http.StatusOK, string(out))
}

// callsSince are the calls made after the first n.
func (f *fakeAPI) callsSince(n int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls[n:]...)
}

func (f *fakeAPI) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// newFakeUI is the UI in front of api, with cfg's other settings.
func newFakeUI(t *testing.T, api *fakeAPI, cfg adminui.Config) *adminui.UI {
	t.Helper()
	cfg.GraphQLURL = "http://admin-api.test/graphql"
	if cfg.AuthGraphQLURL == "" {
		cfg.AuthGraphQLURL = "http://auth-admin-api.test/graphql"
	}
	cfg.HTTP = &http.Client{Transport: api}
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ui, err := adminui.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ui
}

// serveFakeUI serves the UI in front of api over HTTP.
func serveFakeUI(t *testing.T, api *fakeAPI) string {
	t.Helper()
	srv := httptest.NewServer(newFakeUI(t, api, adminui.Config{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// newBrowser is a browser of the UI at base.
func newBrowser(t testing.TB, base string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, client: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

// sessionCookie is the browser's session cookie.
func sessionCookie(t testing.TB, b *browser) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(b.base)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "rafiki_admin_session" {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// withCookie is a new browser holding only the cookie, as a thief would.
func withCookie(t testing.TB, base string, c *http.Cookie) *browser {
	b := newBrowser(t, base)
	u, _ := url.Parse(base)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
	return b
}

// tokenOf is the CSRF token of the browser's last page.
func tokenOf(t testing.TB, b *browser) string {
	t.Helper()
	for _, m := range hiddenRE.FindAllStringSubmatch(b.page, -1) {
		if m[1] == "csrf" {
			return m[2]
		}
	}
	t.Fatalf("no CSRF token on %s:\n%s", b.path, b.page)
	return ""
}

var (
	tagRE        = regexp.MustCompile(`(?s)<([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>`)
	quotedRE     = regexp.MustCompile(`"[^"]*"`)
	handlerRE    = regexp.MustCompile(`(?i)(^|[\s/])on[a-z]+\s*=`)
	scriptURLRE  = regexp.MustCompile(`(?i)\b(href|src|action|formaction)\s*=\s*"\s*(javascript|data|vbscript):`)
	markupLeakRE = regexp.MustCompile(`(?i)<\s*/?\s*(script|img|svg|iframe|object|embed|base|style|math|frame|video|audio)\b`)
)

// noInjectedMarkup fails when a page holds markup no template writes: an
// element that runs or loads something, an event handler attribute outside
// a quoted value (a value broken out of), or a script URL in a link.
func noInjectedMarkup(t testing.TB, where, page string) {
	t.Helper()
	if m := markupLeakRE.FindString(page); m != "" {
		t.Errorf("%s: injected element %q:\n%s", where, m, excerpt(page, m))
	}
	for _, tag := range tagRE.FindAllStringSubmatch(page, -1) {
		attrs := quotedRE.ReplaceAllString(tag[2], `""`)
		if handlerRE.MatchString(attrs) {
			t.Errorf("%s: an event handler in <%s%s>", where, tag[1], tag[2])
		}
		if scriptURLRE.MatchString(tag[0]) {
			t.Errorf("%s: a script URL in %s", where, tag[0])
		}
	}
}

func excerpt(page, at string) string {
	i := strings.Index(page, at)
	if i < 0 {
		return ""
	}
	return page[max(0, i-200):min(len(page), i+200)]
}

// hostile is text a hostile tenant writes wherever the API takes text:
// it closes an attribute, an element and the page's text, in both
// quotes. Each use is tagged, so that a page can be seen to show it.
func hostile(tag string) string {
	return tag + `"'><script>alert(1)</script><img src=x onerror=alert(1)>" onmouseover="alert(1)' onfocus='alert(1)</textarea></title></pre>`
}

// hostileNoSpace is hostile text where the API allows no spaces (an asset
// code), within its 64 characters.
func hostileNoSpace(tag string) string {
	return tag + `"onmouseover="alert(1)"'><script>alert(1)</script>`
}

// TestPagesEscapeWhatTenantsWrite has a tenant write markup into every
// field of its objects the API takes text for (through the API, as a
// tenant may without the UI), then has the operator, and the tenant,
// open every page that shows them: the markup shows as text, never as
// elements or attributes.
func TestPagesEscapeWhatTenantsWrite(t *testing.T) {
	s := startSystem(t)
	ctx := context.Background()
	tenantID, secret := uuid.NewString(), "hostile-"+uuid.NewString()
	if err := s.operator.Do(ctx, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"id": tenantID, "apiSecret": secret,
			"settings": []any{map[string]any{"key": "WALLET_ADDRESS_URL", "value": "http://t" + tenantID[:8] + ".wallet.test"}}}}, nil); err != nil {
		t.Fatal(err)
	}
	tc := &adminclient.Client{URL: s.operator.URL, TenantID: tenantID, Secret: secret}
	// A fatal write is one the test needs; the API may refuse the others
	// (its own checks are a defence too), which is logged.
	do := func(fatal bool, what, q string, input map[string]any, out any) {
		t.Helper()
		if err := tc.Do(ctx, q, map[string]any{"input": input}, out); err != nil {
			if fatal {
				t.Fatalf("%s: %v", what, err)
			}
			t.Logf("the API refused %s: %v", what, err)
		}
	}

	do(true, "the tenant's own details", `mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id } } }`,
		map[string]any{"id": tenantID, "publicName": hostile("tenantName")}, nil)
	do(false, "an email with markup", `mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id } } }`,
		map[string]any{"id": tenantID, "email": hostile("tenantEmail")}, nil)
	do(false, "a javascript: consent URL", `mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id } } }`,
		map[string]any{"id": tenantID, "idpConsentUrl": "javascript:alert(1)//" + hostile("consent")}, nil)
	do(false, "a consent URL with markup", `mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id } } }`,
		map[string]any{"id": tenantID, "idpConsentUrl": `http://consent.test/"><script>alert(1)</script>`}, nil)
	do(false, "a webhook URL with markup", `mutation($input: CreateTenantSettingsInput!) { createTenantSettings(input: $input) { settings { key } } }`,
		map[string]any{"settings": []any{map[string]any{"key": "WEBHOOK_URL", "value": `http://hooks.test/"><script>alert(1)</script>`}}}, nil)
	do(false, "a javascript: exchange rates URL", `mutation($input: CreateTenantSettingsInput!) { createTenantSettings(input: $input) { settings { key } } }`,
		map[string]any{"settings": []any{map[string]any{"key": "EXCHANGE_RATES_URL", "value": `javascript:alert(1)`}}}, nil)

	var assetOut struct {
		CreateAsset struct{ Asset struct{ ID string } }
	}
	do(true, "an asset code with markup", `mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id } } }`,
		map[string]any{"code": hostileNoSpace("code"), "scale": 2}, &assetOut)
	assetID := assetOut.CreateAsset.Asset.ID

	var waOut struct {
		CreateWalletAddress struct{ WalletAddress struct{ ID, Address string } }
	}
	do(true, "a wallet address with markup", `mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id address } } }`,
		map[string]any{"assetId": assetID, "address": "/mallory", "publicName": hostile("publicName"),
			"additionalProperties": []any{map[string]any{"key": hostile("propKey"), "value": hostile("propValue"), "visibleInOpenPayments": true}}}, &waOut)
	waID := waOut.CreateWalletAddress.WalletAddress.ID

	var peerOut struct {
		CreatePeer struct{ Peer struct{ ID string } }
	}
	do(false, "a peer with markup", `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`,
		map[string]any{"assetId": assetID, "name": hostile("peerName"), "staticIlpAddress": "test.rafiki." + tenantID + ".evil",
			"http": map[string]any{"outgoing": map[string]any{"authToken": "tok", "endpoint": `http://peer.test/"><script>alert(1)</script>`}}}, &peerOut)
	if peerOut.CreatePeer.Peer.ID == "" {
		do(true, "a peer named with markup", `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`,
			map[string]any{"assetId": assetID, "name": hostile("peerName"), "staticIlpAddress": "test.rafiki." + tenantID + ".evil",
				"http": map[string]any{"outgoing": map[string]any{"authToken": "tok", "endpoint": "http://peer.test/ilp"}}}, &peerOut)
	}
	peerID := peerOut.CreatePeer.Peer.ID

	var ipOut struct {
		CreateIncomingPayment struct{ Payment struct{ ID string } }
	}
	do(true, "metadata with markup", `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"walletAddressId": waID, "metadata": map[string]any{hostile("metaKey"): hostile("metaValue"), "nested": []any{hostile("metaNested")}}}, &ipOut)
	ipID := ipOut.CreateIncomingPayment.Payment.ID
	var cancelOut struct {
		CreateIncomingPayment struct{ Payment struct{ ID string } }
	}
	do(false, "a sender wallet address with markup", `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"walletAddressId": waID, "senderWalletAddress": `http://sender.test/"><script>alert(1)</script>`}, &cancelOut)
	if cancelOut.CreateIncomingPayment.Payment.ID == "" {
		do(true, "a second incoming payment", `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
			map[string]any{"walletAddressId": waID}, &cancelOut)
	}
	cancelledID := cancelOut.CreateIncomingPayment.Payment.ID
	do(true, "a cancellation reason with markup", `mutation($input: CancelIncomingPaymentInput!) { cancelIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"id": cancelledID, "cancellationReason": hostile("reason")}, nil)

	operator := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	tenant := s.browser(t).login(tenantID, secret)
	pages := []struct {
		path  string
		shows string // a tag the page must show, escaped
	}{
		{"/assets", "code&#34;onmouseover"},
		{"/assets/" + assetID, "code&#34;onmouseover"},
		{"/peers/new", "code&#34;onmouseover"},
		{"/wallet-addresses/new", "code&#34;onmouseover"},
		{"/wallet-addresses", "publicName&#34;&#39;&gt;&lt;script&gt;"},
		{"/wallet-addresses/" + waID, "propValue&#34;"},
		{"/payments", ipID},
		{"/payments?walletAddressId=" + waID, ipID},
		{"/payments/incoming/" + ipID, "metaValue"},
		{"/payments/incoming/" + cancelledID, "reason&#34;"},
		{"/history/" + assetID, "code"},
		{"/history/" + waID, "publicName"},
		{"/history/" + ipID, "metaValue"},
		{"/history/" + cancelledID + "?at=" + url.QueryEscape(time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)), "reason"},
		{"/history/" + tenantID, "tenantName"},
		{"/tenants/" + tenantID, "tenantName"},
	}
	if peerID != "" {
		pages = append(pages, struct{ path, shows string }{"/peers", "peerName"}, struct{ path, shows string }{"/peers/" + peerID, "peerName"},
			struct{ path, shows string }{"/history/" + peerID, "peerName"})
	}
	for _, p := range pages {
		for who, b := range map[string]*browser{"operator": operator, "tenant": tenant} {
			b.get(p.path)
			if b.status != http.StatusOK {
				t.Errorf("%s %s: status %d", who, p.path, b.status)
				continue
			}
			if !strings.Contains(b.page, p.shows) {
				t.Errorf("%s %s: the page does not show %q", who, p.path, p.shows)
			}
			noInjectedMarkup(t, who+" "+p.path, b.page)
		}
	}
	operator.get("/tenants").sees(http.StatusOK, "tenantName")
	noInjectedMarkup(t, "/tenants", operator.page)

	// The webhook events of the hostile objects, with their metadata.
	testkit.Eventually(t, 15*time.Second, func() bool {
		operator.get("/webhook-events?type=incoming_payment.created")
		return strings.Contains(operator.page, ipID)
	}, "incoming_payment.created listed")
	operator.sees(http.StatusOK, "metaValue")
	noInjectedMarkup(t, "/webhook-events", operator.page)

	// What a visitor types in a URL comes back as text too, on the page and
	// in the API's error messages.
	payload := hostile("reflected")
	for _, path := range []string{
		"/payments?walletAddressId=" + url.QueryEscape(payload),
		"/payments?type=" + url.QueryEscape(payload),
		"/webhook-events?type=" + url.QueryEscape(payload),
		"/assets?after=" + url.QueryEscape(payload),
		"/assets?before=" + url.QueryEscape(payload),
		"/grants?state=" + url.QueryEscape(payload),
		"/history/" + url.PathEscape(payload),
		"/history/" + assetID + "?at=" + url.QueryEscape(payload),
		"/assets/" + url.PathEscape(payload),
		"/peers/" + url.PathEscape(payload),
		"/wallet-addresses/" + url.PathEscape(payload),
		"/payments/incoming/" + url.PathEscape(payload),
		"/payments/outgoing/" + url.PathEscape(payload),
		"/grants/" + url.PathEscape(payload),
		"/tenants/" + url.PathEscape(payload),
		"/?done=" + url.QueryEscape(payload),
	} {
		operator.get(path)
		if operator.status >= 500 && operator.status != http.StatusBadGateway {
			t.Errorf("%s: status %d", path, operator.status)
		}
		noInjectedMarkup(t, path, operator.page)
	}
	// And what it types in forms the API refuses.
	operator.get("/assets/new").submit("/assets/new", map[string]string{"code": payload, "scale": "2", "tenantId": payload})
	noInjectedMarkup(t, "POST /assets/new", operator.page)
	operator.get("/peers/new").submit("/peers/new", map[string]string{"assetId": assetID, "name": payload, "staticIlpAddress": payload,
		"outgoingEndpoint": payload, "outgoingAuthToken": "t", "routes": payload, "maxPacketAmount": payload})
	noInjectedMarkup(t, "POST /peers/new", operator.page)
	operator.get("/wallet-addresses/"+waID).submit("/wallet-addresses/"+waID+"/send", map[string]string{"receiver": payload, "debitAmount": payload})
	noInjectedMarkup(t, "POST send", operator.page)
	operator.get("/tenants/new").submit("/tenants/new", map[string]string{"apiSecret": "x", "id": payload, "publicName": payload,
		"email": payload, "idpConsentUrl": payload, "setting_WEBHOOK_URL": payload})
	noInjectedMarkup(t, "POST /tenants/new", operator.page)
}

// TestTenantCannotReachAnotherTenantsObjects signs a tenant in and has it
// open and post every form of the operator's objects, by their ids in the
// URLs and forms: nothing is shown, and nothing changes.
func TestTenantCannotReachAnotherTenantsObjects(t *testing.T) {
	s := startSystem(t)
	ctx := context.Background()
	op := s.operator
	gql := func(q string, vars map[string]any, out any) {
		t.Helper()
		if err := op.Do(ctx, q, vars, out); err != nil {
			t.Fatal(err)
		}
	}
	assetID := createAsset(t, op, "OPERATORONLY", 2)
	gql(`mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"assetId": assetID, "amount": "10000", "id": uuid.NewString(), "idempotencyKey": uuid.NewString()}}, nil)
	var peerOut struct {
		CreatePeer struct{ Peer struct{ ID string } }
	}
	gql(`mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`,
		map[string]any{"input": map[string]any{"assetId": assetID, "name": "Operator peer", "staticIlpAddress": "test.operator-peer",
			"initialLiquidity": "500", "http": map[string]any{"outgoing": map[string]any{"authToken": "operator-peer-token", "endpoint": "http://peer.test/ilp"}}}}, &peerOut)
	peerID := peerOut.CreatePeer.Peer.ID
	var waOut struct {
		CreateWalletAddress struct{ WalletAddress struct{ ID string } }
	}
	gql(`mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id } } }`,
		map[string]any{"input": map[string]any{"assetId": assetID, "address": "http://wallet.test/operator-alice", "publicName": "Operator Alice"}}, &waOut)
	waID := waOut.CreateWalletAddress.WalletAddress.ID
	var ipOut struct {
		CreateIncomingPayment struct{ Payment struct{ ID string } }
	}
	gql(`mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": waID, "metadata": map[string]any{"note": "operator-private-note"}}}, &ipOut)
	ipID := ipOut.CreateIncomingPayment.Payment.ID
	// An outgoing payment of the operator's, waiting for its liquidity:
	// from the wallet address to another's incoming payment.
	var bobOut struct {
		CreateWalletAddress struct{ WalletAddress struct{ ID string } }
	}
	gql(`mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id } } }`,
		map[string]any{"input": map[string]any{"assetId": assetID, "address": "http://wallet.test/operator-bob"}}, &bobOut)
	var bobIP struct {
		CreateIncomingPayment struct{ Payment struct{ ID, URL string } }
	}
	gql(`mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id url } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": bobOut.CreateWalletAddress.WalletAddress.ID,
			"incomingAmount": map[string]any{"value": "100", "assetCode": "OPERATORONLY", "assetScale": 2}}}, &bobIP)
	var opOut struct {
		CreateOutgoingPaymentFromIncomingPayment struct{ Payment struct{ ID string } }
	}
	gql(`mutation($input: CreateOutgoingPaymentFromIncomingPaymentInput!) { createOutgoingPaymentFromIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": waID, "incomingPayment": bobIP.CreateIncomingPayment.Payment.URL,
			"idempotencyKey": uuid.NewString()}}, &opOut)
	opID := opOut.CreateOutgoingPaymentFromIncomingPayment.Payment.ID
	testkit.Eventually(t, 10*time.Second, func() bool {
		var out struct{ OutgoingPayment *struct{ State string } }
		return op.Do(ctx, `query($id: String!) { outgoingPayment(id: $id) { state } }`, map[string]any{"id": opID}, &out) == nil &&
			out.OutgoingPayment != nil && out.OutgoingPayment.State == "FUNDING"
	}, "the operator's outgoing payment waits for its liquidity")
	// A grant of the operator's, in the auth service.
	grantID := requestGrant(t, s, s.cfg.OperatorTenantID, "http://wallet.test/operator-grant-client")
	ob := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	testkit.Eventually(t, 10*time.Second, func() bool {
		ob.get("/grants/" + grantID)
		return ob.status == http.StatusOK
	}, "the operator's grant is listed")
	ob.sees(http.StatusOK, "APPROVED")

	tenantID, secret := uuid.NewString(), "nosy-"+uuid.NewString()
	gql(`mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"id": tenantID, "apiSecret": secret,
			"settings": []any{map[string]any{"key": "WALLET_ADDRESS_URL", "value": "http://t" + tenantID[:8] + ".wallet.test"}}}}, nil)
	ownAsset := createAsset(t, &adminclient.Client{URL: op.URL, TenantID: tenantID, Secret: secret}, "OWN", 2)

	b := s.browser(t).login(tenantID, secret)
	b.sees(http.StatusOK, "<h1>Overview</h1>")
	csrf := tokenOf(t, b)
	for _, path := range []string{"/assets/" + assetID, "/peers/" + peerID, "/wallet-addresses/" + waID, "/payments/incoming/" + ipID,
		"/payments/outgoing/" + opID, "/grants/" + grantID, "/history/" + assetID, "/history/" + ipID, "/history/" + opID, "/history/" + grantID,
		"/tenants/" + s.cfg.OperatorTenantID} {
		b.get(path)
		if b.status == http.StatusOK {
			t.Errorf("%s: the tenant opened the operator's object:\n%s", path, b.page)
		}
		b.lacks("Operator peer", "Operator Alice", "operator-alice", "operator-private-note", "operator-peer-token", "OPERATORONLY")
	}
	b.get("/payments?walletAddressId="+waID).lacks(ipID, "operator-alice")
	b.get("/payments").lacks(ipID, opID)
	b.get("/grants").lacks(grantID, "operator-grant-client")
	b.get("/assets").lacks("OPERATORONLY")
	b.get("/peers").lacks("Operator peer")
	b.get("/wallet-addresses").lacks("operator-alice")
	b.get("/webhook-events").lacks(ipID, "operator-private-note")

	tid := uuid.NewString
	for _, p := range []struct {
		path string
		form url.Values
	}{
		{"/assets/" + assetID + "/deposit", url.Values{"amount": {"1"}, "transferId": {tid()}}},
		{"/assets/" + assetID + "/withdraw", url.Values{"amount": {"1"}, "transferId": {tid()}}},
		{"/assets/" + assetID + "/thresholds", url.Values{"liquidityThreshold": {"99"}}},
		{"/assets/" + assetID + "/fee", url.Values{"type": {"SENDING"}, "fixed": {"1"}, "basisPoints": {"100"}}},
		{"/assets/" + assetID + "/delete", url.Values{"confirm": {"yes"}}},
		{"/peers/" + peerID + "/update", url.Values{"name": {"pwned"}, "staticIlpAddress": {"test.operator-peer"}, "outgoingEndpoint": {"http://evil.test/"}}},
		{"/peers/" + peerID + "/deposit", url.Values{"amount": {"1"}, "transferId": {tid()}}},
		{"/peers/" + peerID + "/withdraw", url.Values{"amount": {"1"}, "transferId": {tid()}}},
		{"/peers/" + peerID + "/delete", url.Values{"confirm": {"yes"}}},
		{"/wallet-addresses/" + waID + "/update", url.Values{"publicName": {"pwned"}, "status": {"INACTIVE"}}},
		{"/wallet-addresses/" + waID + "/withdraw", url.Values{"transferId": {tid()}}},
		{"/wallet-addresses/" + waID + "/request", url.Values{"idempotencyKey": {tid()}, "incomingAmount": {"1"}}},
		{"/wallet-addresses/" + waID + "/send", url.Values{"idempotencyKey": {tid()}, "receiver": {"http://wallet.test/x/incoming-payments/" + tid()}}},
		{"/payments/incoming/" + ipID + "/approve", nil},
		{"/payments/incoming/" + ipID + "/cancel", url.Values{"cancellationReason": {"pwned"}}},
		{"/payments/incoming/" + ipID + "/withdraw", url.Values{"transferId": {tid()}}},
		{"/payments/outgoing/" + opID + "/deposit", url.Values{"transferId": {tid()}}},
		{"/payments/outgoing/" + opID + "/cancel", url.Values{"reason": {"pwned"}}},
		{"/payments/outgoing/" + opID + "/withdraw", url.Values{"transferId": {tid()}, "timeoutSeconds": {"0"}}},
		{"/grants/" + grantID + "/revoke", url.Values{"confirm": {"yes"}}},
		{"/tenants/" + s.cfg.OperatorTenantID + "/update", url.Values{"publicName": {"pwned"}, "apiSecret": {"pwned-secret"}}},
		{"/tenants/" + s.cfg.OperatorTenantID + "/settings", url.Values{"setting_WEBHOOK_URL": {"http://evil.test/hook"}}},
		{"/tenants/" + s.cfg.OperatorTenantID + "/delete", url.Values{"confirm": {"yes"}}},
		{"/tenants/new", url.Values{"apiSecret": {"x"}, "publicName": {"pwned"}}},
		// Objects made on the operator's asset, or for the operator (those
		// with a tenant id are made, as the tenant's own: checked below).
		{"/peers/new", url.Values{"assetId": {assetID}, "staticIlpAddress": {"test.rafiki." + tenantID + ".p"}, "outgoingEndpoint": {"http://evil.test/"}, "outgoingAuthToken": {"t"}}},
		{"/wallet-addresses/new", url.Values{"assetId": {assetID}, "address": {"/on-operator-asset"}}},
		{"/wallet-addresses/new", url.Values{"assetId": {ownAsset}, "address": {"/for-operator"}, "tenantId": {s.cfg.OperatorTenantID}}},
		{"/assets/new", url.Values{"code": {"FOROP"}, "scale": {"2"}, "tenantId": {s.cfg.OperatorTenantID}}},
	} {
		form := url.Values{"csrf": {csrf}}
		for k, v := range p.form {
			form[k] = v
		}
		b.post(p.path, form)
		if b.status == http.StatusOK && strings.Contains(b.page, `class="flash"`) && p.form.Get("tenantId") == "" {
			t.Errorf("POST %s: done for the tenant:\n%s", p.path, excerpt(b.page, `class="flash"`))
		}
		b.lacks("operator-private-note", "operator-peer-token")
	}

	// Nothing of the operator's changed.
	var after struct {
		Asset *struct {
			Liquidity          string  `json:"liquidity"`
			LiquidityThreshold *string `json:"liquidityThreshold"`
			SendingFee         *struct{ Fixed string }
		} `json:"asset"`
		Peer *struct {
			Name      string `json:"name"`
			Liquidity string `json:"liquidity"`
		} `json:"peer"`
		WalletAddress *struct {
			PublicName string `json:"publicName"`
			Status     string `json:"status"`
		} `json:"walletAddress"`
		IncomingPayment *struct {
			State       string  `json:"state"`
			CancelledAt *string `json:"cancelledAt"`
		} `json:"incomingPayment"`
		Tenant *struct {
			PublicName *string `json:"publicName"`
			Settings   []struct{ Key, Value string }
		} `json:"tenant"`
		Payments struct {
			Edges []struct{ Node struct{ ID string } }
		} `json:"payments"`
		OutgoingPayment *struct {
			State     string  `json:"state"`
			Liquidity *string `json:"liquidity"`
		} `json:"outgoingPayment"`
		Assets struct {
			Edges []struct {
				Node struct {
					Code   string
					Tenant tenantOf
				}
			}
		} `json:"assets"`
		WalletAddresses struct {
			Edges []struct {
				Node struct {
					Address string
					Asset   struct{ ID string }
					Tenant  tenantOf
				}
			}
		} `json:"walletAddresses"`
	}
	gql(`query($a: String!, $p: String!, $w: String!, $i: String!, $t: String!, $o: String!) {
  asset(id: $a) { liquidity liquidityThreshold sendingFee { fixed } }
  peer(id: $p) { name liquidity }
  walletAddress(id: $w) { publicName status }
  incomingPayment(id: $i) { state cancelledAt }
  tenant(id: $t) { publicName settings { key value } }
  payments(first: 100, filter: { walletAddressId: { in: [$w] }, type: { in: ["INCOMING"] } }) { edges { node { id } } }
  outgoingPayment(id: $o) { state liquidity }
  assets(first: 100) { edges { node { code tenant { id } } } }
  walletAddresses(first: 100) { edges { node { address asset { id } tenant { id } } } } }`,
		map[string]any{"a": assetID, "p": peerID, "w": waID, "i": ipID, "t": s.cfg.OperatorTenantID, "o": opID}, &after)
	switch {
	case after.Asset == nil || after.Asset.Liquidity != "10000" || after.Asset.LiquidityThreshold != nil || after.Asset.SendingFee != nil:
		t.Errorf("the operator's asset changed: %+v", after.Asset)
	case after.Peer == nil || after.Peer.Name != "Operator peer" || after.Peer.Liquidity != "500":
		t.Errorf("the operator's peer changed: %+v", after.Peer)
	case after.WalletAddress == nil || after.WalletAddress.PublicName != "Operator Alice" || after.WalletAddress.Status != "ACTIVE":
		t.Errorf("the operator's wallet address changed: %+v", after.WalletAddress)
	case after.IncomingPayment == nil || after.IncomingPayment.State != "PENDING" || after.IncomingPayment.CancelledAt != nil:
		t.Errorf("the operator's incoming payment changed: %+v", after.IncomingPayment)
	case after.Tenant == nil || after.Tenant.PublicName != nil:
		t.Errorf("the operator's tenant changed: %+v", after.Tenant)
	case len(after.Payments.Edges) != 1:
		t.Errorf("payments were made on the operator's wallet address: %+v", after.Payments.Edges)
	case after.OutgoingPayment == nil || after.OutgoingPayment.State != "FUNDING" || (after.OutgoingPayment.Liquidity != nil && *after.OutgoingPayment.Liquidity != "0"):
		t.Errorf("the operator's outgoing payment changed: %+v", after.OutgoingPayment)
	}
	ob.get("/grants/"+grantID).sees(http.StatusOK, "APPROVED").lacks("REVOKED")
	if after.Tenant != nil {
		for _, st := range after.Tenant.Settings {
			if strings.Contains(st.Value, "evil.test") {
				t.Errorf("the operator's setting changed: %+v", st)
			}
		}
	}
	// What the tenant made is its own, whatever tenant id it typed, and
	// on its own assets only.
	for _, e := range after.Assets.Edges {
		if e.Node.Code == "FOROP" && e.Node.Tenant.ID != tenantID {
			t.Errorf("the tenant made an asset for tenant %s", e.Node.Tenant.ID)
		}
	}
	for _, e := range after.WalletAddresses.Edges {
		if e.Node.Tenant.ID == tenantID && e.Node.Asset.ID == assetID {
			t.Errorf("the tenant made wallet address %s on the operator's asset", e.Node.Address)
		}
		if strings.Contains(e.Node.Address, "for-operator") && e.Node.Tenant.ID != tenantID {
			t.Errorf("the tenant made wallet address %s for tenant %s", e.Node.Address, e.Node.Tenant.ID)
		}
	}
	// The operator still signs in with its own secret.
	s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret).sees(http.StatusOK, "<h1>Overview</h1>")
}

type tenantOf struct{ ID string }

// requestGrant makes an approved grant of the tenant's in the auth
// service, as TestGrantPages does, and answers its id.
func requestGrant(t *testing.T, s *system, tenantID, client string) string {
	t.Helper()
	d := s.running.Deps
	grants := grant.NewHandler(d.Store, grant.DefaultPolicy("http://auth.test"), func(context.Context, string) (grant.Tenant, error) {
		return grant.Tenant{Exists: true}, nil
	}, d.Enqueue)
	id := uuid.NewString()
	req, err := grants.Request(context.Background(), commands.RequestGrant{Meta: commands.Meta{ID: id, CorrelationID: id}, TenantID: tenantID,
		Access: []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{grant.ActionCreate, grant.ActionRead},
			Identifier: "http://wallet.test/grant-target"}},
		Client: events.GrantClient{WalletAddress: client}})
	if err != nil {
		t.Fatal(err)
	}
	return req.GrantID
}

// TestSecretsStayOffPages makes a tenant with an API secret and an
// identity provider secret, and a peer with tokens, through the forms, and
// looks for them on every page that shows those objects, in their
// histories, and on the pages that answer a refused form: the secrets are
// typed, replaced, never shown.
func TestSecretsStayOffPages(t *testing.T) {
	s := startSystem(t)
	b := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	apiSecret, idpSecret := "api-secret-"+uuid.NewString(), "idp-secret-"+uuid.NewString()
	b.get("/tenants/new").submit("/tenants/new", map[string]string{"publicName": "Secretive", "apiSecret": apiSecret,
		"idpSecret": idpSecret, "idpConsentUrl": "http://idp.test/consent", "setting_WEBHOOK_URL": "http://hooks.test/"}).
		sees(http.StatusOK, "Tenant created.").lacks(apiSecret, idpSecret)
	id := b.idFrom()
	page := "/tenants/" + id
	req, _ := http.NewRequest(http.MethodGet, s.uiURL+page, nil)
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("the tenant's page may be cached: Cache-Control %q", cc)
	}
	// Settings set for the tenant, signed with the secret the operator reads.
	b.submit(page+"/settings", map[string]string{"setting_EXCHANGE_RATES_URL": "http://rates.test/"}).sees(http.StatusOK, "Settings saved.").lacks(apiSecret, idpSecret)
	// The operator replaces the identity provider secret (only the tenant
	// replaces its API secret).
	newIDP := "idp-secret-2-" + uuid.NewString()
	b.submit(page+"/update", map[string]string{"idpSecret": newIDP}).sees(http.StatusOK, "Tenant saved.").lacks(apiSecret, idpSecret, newIDP)
	b.get("/tenants/new").submit("/tenants/new", map[string]string{"id": id, "apiSecret": "typed-new-api-" + id, "idpSecret": "typed-new-idp-" + id}).
		sees(http.StatusUnprocessableEntity).lacks("typed-new-api-"+id, "typed-new-idp-"+id)
	at := url.QueryEscape(time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano))
	for _, p := range []string{"/tenants", page, "/history/" + id, "/history/" + id + "?at=" + at} {
		b.get(p).sees(http.StatusOK).lacks(apiSecret, idpSecret, newIDP)
	}
	// The tenant's own session sees its page without its secrets too.
	tb := s.browser(t).login(id, apiSecret)
	tb.get(page).sees(http.StatusOK, "Secretive").lacks(apiSecret, idpSecret, newIDP)
	// It replaces its API secret: neither shows.
	newAPI := "api-secret-2-" + uuid.NewString()
	tb.submit(page+"/update", map[string]string{"apiSecret": newAPI}).sees(http.StatusOK, "Tenant saved.").lacks(apiSecret, newAPI)
	tb.get("/history/"+id).sees(http.StatusOK, "tenant.updated").lacks(apiSecret, idpSecret, newIDP, newAPI)
	// Refused: the typed secrets do not come back in the form.
	b.get(page).submit(page+"/update", map[string]string{"idpConsentUrl": "not a url", "apiSecret": "typed-api-" + id, "idpSecret": "typed-idp-" + id}).
		lacks("typed-api-"+id, "typed-idp-"+id)
	b.post("/tenants/"+uuid.NewString()+"/update", url.Values{"csrf": {tokenOf(t, b)}, "apiSecret": {"typed-api-" + id}, "idpSecret": {"typed-idp-" + id}}).
		lacks("typed-api-"+id, "typed-idp-"+id)

	assetID := createAsset(t, s.operator, "SEC", 0)
	b.get("/peers/new").submit("/peers/new", map[string]string{"assetId": assetID, "name": "Secret peer", "staticIlpAddress": "test.secret-peer",
		"outgoingEndpoint": "http://peer.test/ilp", "outgoingAuthToken": "peer-out-" + id, "incomingAuthTokens": "peer-in-" + id}).sees(http.StatusOK, "Peer created.")
	peerID := b.idFrom()
	for _, p := range []string{"/peers", "/peers/" + peerID, "/history/" + peerID + "?at=" + url.QueryEscape(time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano))} {
		b.get(p).sees(http.StatusOK).lacks("peer-out-"+id, "peer-in-"+id)
	}
	b.get("/peers/new").submit("/peers/new", map[string]string{"assetId": assetID, "staticIlpAddress": "test.secret-peer",
		"outgoingEndpoint": "http://peer.test/ilp", "outgoingAuthToken": "typed-out-" + id, "incomingAuthTokens": "typed-in-" + id}).
		sees(http.StatusUnprocessableEntity).lacks("typed-out-"+id, "typed-in-"+id)
	b.get("/peers/"+peerID).submit("/peers/"+peerID+"/update", map[string]string{"staticIlpAddress": "not an address", "outgoingEndpoint": "http://peer.test/ilp",
		"outgoingAuthToken": "typed-upd-" + id, "incomingAuthTokens": "typed-updin-" + id}).
		sees(http.StatusUnprocessableEntity).lacks("typed-upd-"+id, "typed-updin-"+id, "peer-out-"+id)

	// A failed sign-in does not show the secret typed.
	s.browser(t).get("/login").submit("/login", map[string]string{"tenantId": id, "apiSecret": "typed-login-" + id}).
		sees(http.StatusUnauthorized).lacks("typed-login-" + id)
}

// TestSignInDoesNotTellWhichTenantsExist signs in with a wrong secret for
// the operator's tenant, for another tenant and for a tenant id nobody
// has: the page says the same, so that the form does not list tenants.
func TestSignInDoesNotTellWhichTenantsExist(t *testing.T) {
	s := startSystem(t)
	other := uuid.NewString()
	if err := s.operator.Do(context.Background(), `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"id": other, "apiSecret": "other-" + uuid.NewString()}}, nil); err != nil {
		t.Fatal(err)
	}
	errorsRE := regexp.MustCompile(`(?s)<div class="errors" role="alert">.*?</div>`)
	var first string
	for i, id := range []string{s.cfg.OperatorTenantID, other, uuid.NewString()} {
		b := s.browser(t).get("/login").submit("/login", map[string]string{"tenantId": id, "apiSecret": "wrong"})
		answer := fmt.Sprintf("%d %s", b.status, errorsRE.FindString(b.page))
		if i == 0 {
			first = answer
		} else if answer != first {
			t.Errorf("tenant %d of 3: %q, the operator's: %q", i+1, answer, first)
		}
	}
}

// TestFormsSurviveMalformedInput posts what no form sends (numbers out of
// range, broken encodings, control characters, huge values, ids that are
// not ids) to the UI in front of the backend: every answer is a page
// saying what is wrong or a refusal, never a 500 or a trace, and the UI
// serves on.
func TestFormsSurviveMalformedInput(t *testing.T) {
	s := startSystem(t)
	b := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	assetID := createAsset(t, s.operator, "MAL", 2)
	b.get("/assets/" + assetID)
	csrf := tokenOf(t, b)
	check := func(what string) {
		t.Helper()
		if b.status >= 500 && b.status != http.StatusBadGateway || b.status == 0 {
			t.Errorf("%s: status %d:\n%.2000s", what, b.status, b.page)
		}
		for _, leak := range []string{"goroutine ", "panic", "runtime error", ".go:"} {
			if strings.Contains(b.page, leak) {
				t.Errorf("%s: %q on the page:\n%.2000s", what, leak, b.page)
			}
		}
	}
	huge := strings.Repeat("A", 900_000)
	amounts := []string{"-1", "1e309", "NaN", "0x10", "18446744073709551616", "99999999999999999999999999999999.99", "１２", "1..2", ".", "", " ", "1,5", "+1", "\x00", "\xff\xfe", huge[:10000]}
	for _, a := range amounts {
		for _, path := range []string{"/assets/" + assetID + "/deposit", "/assets/" + assetID + "/withdraw"} {
			b.post(path, url.Values{"csrf": {csrf}, "amount": {a}, "transferId": {uuid.NewString()}})
			check(fmt.Sprintf("%s amount %q", path, a))
		}
		b.post("/assets/"+assetID+"/fee", url.Values{"csrf": {csrf}, "type": {"SENDING"}, "fixed": {a}, "basisPoints": {a}})
		check(fmt.Sprintf("fee %q", a))
		b.post("/assets/new", url.Values{"csrf": {csrf}, "code": {"M" + a}, "scale": {a}, "liquidityThreshold": {a}})
		check(fmt.Sprintf("new asset scale %q", a))
	}
	for _, form := range []url.Values{
		{"code": {huge}, "scale": {"2"}},
		{"code": {"\xff\xfe\x00"}, "scale": {"2"}},
		{"code": {"BAD"}, "scale": {"2"}, "tenantId": {"' OR 1=1 --"}},
		{"code": {"BAD"}, "scale": {"2"}, "tenantId": {huge}},
	} {
		form.Set("csrf", csrf)
		b.post("/assets/new", form)
		check("new asset")
	}
	for _, form := range []url.Values{
		{"assetId": {assetID}, "staticIlpAddress": {"test.mal"}, "outgoingEndpoint": {"http://[::1"}, "outgoingAuthToken": {"t"}},
		{"assetId": {"not-an-id"}, "staticIlpAddress": {"test.mal"}, "outgoingEndpoint": {"http://x.test/"}, "outgoingAuthToken": {"t"}},
		{"assetId": {assetID}, "staticIlpAddress": {huge}, "outgoingEndpoint": {huge}, "outgoingAuthToken": {huge}},
		{"assetId": {assetID}, "staticIlpAddress": {"test.mal2"}, "outgoingEndpoint": {"http://x.test/"}, "outgoingAuthToken": {"t"},
			"routes": {strings.Repeat("test.r\n", 20000)}, "incomingAuthTokens": {strings.Repeat("tok\n", 20000)}},
	} {
		form.Set("csrf", csrf)
		b.post("/peers/new", form)
		check("new peer")
	}
	for _, form := range []url.Values{
		{"assetId": {assetID}, "address": {"javascript:alert(1)"}},
		{"assetId": {assetID}, "address": {huge}, "publicName": {huge}},
		{"assetId": {assetID}, "address": {"http://wallet.test/\x00"}},
	} {
		form.Set("csrf", csrf)
		b.post("/wallet-addresses/new", form)
		check("new wallet address")
	}
	b.post("/wallet-addresses/new", url.Values{"csrf": {csrf}, "assetId": {assetID}, "address": {"mallory"}})
	wa := "/wallet-addresses/" + b.idFrom()
	for _, form := range []url.Values{
		{"receiver": {"javascript:alert(1)"}, "idempotencyKey": {uuid.NewString()}},
		{"receiver": {"http://[::1"}, "idempotencyKey": {uuid.NewString()}, "debitAmount": {"-1"}},
		{"receiver": {huge}, "idempotencyKey": {huge}},
		{"receiver": {"http://wallet.test/x"}, "idempotencyKey": {"not-a-uuid"}},
	} {
		form.Set("csrf", csrf)
		b.post(wa+"/send", form)
		check("send")
		b.post(wa+"/request", form)
		check("request")
	}
	b.post(wa+"/update", url.Values{"csrf": {csrf}, "publicName": {huge}, "status": {"ACTIVE"}})
	check("update wallet address")
	b.post("/payments/outgoing/"+uuid.NewString()+"/withdraw", url.Values{"csrf": {csrf}, "transferId": {uuid.NewString()}, "timeoutSeconds": {"-1"}})
	check("withdraw a payment that is not there")
	b.post("/payments/outgoing/"+uuid.NewString()+"/withdraw", url.Values{"csrf": {csrf}, "transferId": {uuid.NewString()}, "timeoutSeconds": {"99999999999999999999999"}})
	check("withdraw with a timeout past 64 bits")
	b.post("/tenants/new", url.Values{"csrf": {csrf}, "apiSecret": {huge}, "id": {"../../etc/passwd"}, "setting_WEBHOOK_TIMEOUT": {"-99999999999999999999"}})
	check("new tenant")

	for _, path := range []string{"/assets/%00", "/assets/..%2f..%2fetc%2fpasswd", "/assets/" + strings.Repeat("9", 5000), "/peers/%ff%fe",
		"/wallet-addresses/'%20OR%201=1--", "/payments/incoming/%0d%0aSet-Cookie:%20x=1", "/payments/outgoing/" + uuid.NewString(),
		"/history/" + assetID + "?at=9999-99-99T99:99:99Z", "/history/" + assetID + "?at=" + strings.Repeat("2", 100000),
		"/assets?after=%ff%fe&before=%00", "/payments?type=%00&walletAddressId=%ff", "/webhook-events?type=" + strings.Repeat("x", 100000),
		"/history?id=%00", "/grants/%ff"} {
		b.get(path)
		check("GET " + path)
	}

	// Bodies no browser sends: past the size limit, a broken encoding,
	// too many fields, a broken multipart body. Each is refused.
	raw := func(what, contentType, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.uiURL+"/assets/new", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		b.do(req)
		check(what)
		if want != 0 && b.status != want {
			t.Errorf("%s: status %d, want %d", what, b.status, want)
		}
	}
	raw("a body past 1 MB", "application/x-www-form-urlencoded", "csrf="+csrf+"&code="+strings.Repeat("A", 2<<20), http.StatusForbidden)
	raw("a broken percent encoding", "application/x-www-form-urlencoded", "csrf="+csrf+"&code=%zz&scale=2", http.StatusForbidden)
	raw("a broken multipart body", "multipart/form-data; boundary=x", "--x\r\nbroken", http.StatusForbidden)
	raw("no content type", "", "csrf="+csrf+"&code=X&scale=2", http.StatusForbidden)
	raw("many fields", "application/x-www-form-urlencoded", "csrf="+csrf+strings.Repeat("&a=1", 200_000), 0)

	b.get("/").sees(http.StatusOK, "<h1>Overview</h1>")
}

// TestEveryFormRefusesForgedRequests posts to every route that changes
// something as a hostile site would: without the token, with a made-up
// one, another session's, in the URL rather than the body, from another
// origin or a sibling site with the right one, with a method override, or
// with GET, PUT and DELETE. None reaches the API; the session stays
// signed in. The same forms with the right token do reach it.
func TestEveryFormRefusesForgedRequests(t *testing.T) {
	api := newFakeAPI()
	base := serveFakeUI(t, api)
	b := newBrowser(t, base).login(api.tenantID, "secret")
	b.sees(http.StatusOK, "<h1>Overview</h1>")
	token := tokenOf(t, b)
	other := newBrowser(t, base).login(api.tenantID, "secret")
	otherToken := tokenOf(t, other)
	anonymous := newBrowser(t, base).get("/login")
	anonymousToken := tokenOf(t, anonymous)

	id := uuid.NewString()
	routes := []string{"/logout",
		"/assets/new", "/assets/%s/thresholds", "/assets/%s/fee", "/assets/%s/deposit", "/assets/%s/withdraw", "/assets/%s/delete",
		"/peers/new", "/peers/%s/update", "/peers/%s/delete", "/peers/%s/deposit", "/peers/%s/withdraw",
		"/wallet-addresses/new", "/wallet-addresses/%s/update", "/wallet-addresses/%s/withdraw", "/wallet-addresses/%s/send", "/wallet-addresses/%s/request",
		"/payments/incoming/%s/withdraw", "/payments/incoming/%s/approve", "/payments/incoming/%s/cancel",
		"/payments/outgoing/%s/deposit", "/payments/outgoing/%s/withdraw", "/payments/outgoing/%s/cancel",
		"/grants/%s/revoke", "/tenants/new", "/tenants/%s/update", "/tenants/%s/settings", "/tenants/%s/delete"}
	fields := func() url.Values {
		return url.Values{"confirm": {"yes"}, "amount": {"1"}, "transferId": {uuid.NewString()}, "idempotencyKey": {uuid.NewString()},
			"code": {"CSRF"}, "scale": {"2"}, "type": {"SENDING"}, "fixed": {"1"}, "basisPoints": {"1"}, "status": {"ACTIVE"},
			"assetId": {id}, "address": {"http://wallet.test/csrf"}, "receiver": {"http://wallet.test/x"}, "staticIlpAddress": {"test.csrf"},
			"outgoingEndpoint": {"http://x.test/"}, "outgoingAuthToken": {"t"}, "apiSecret": {"pwned"}, "publicName": {"pwned"},
			"setting_WEBHOOK_URL": {"http://evil.test/"}}
	}
	send := func(method, path string, form url.Values, query url.Values, header ...string) {
		t.Helper()
		target := base + path
		if query != nil {
			target += "?" + query.Encode()
		}
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, target, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		b.do(req)
	}
	with := func(token string) url.Values {
		f := fields()
		if token != "" {
			f.Set("csrf", token)
		}
		return f
	}
	attacks := []struct {
		name   string
		method string
		form   url.Values
		query  url.Values
		header []string
		status int // 0: any
	}{
		{"no token", http.MethodPost, with(""), nil, nil, http.StatusForbidden},
		{"a made-up token", http.MethodPost, with(strings.Repeat("A", 43)), nil, nil, http.StatusForbidden},
		{"another session's token", http.MethodPost, with(otherToken), nil, nil, http.StatusForbidden},
		{"a signed-out visitor's token", http.MethodPost, with(anonymousToken), nil, nil, http.StatusForbidden},
		{"the token in the URL", http.MethodPost, with(""), url.Values{"csrf": {token}}, nil, http.StatusForbidden},
		{"the token twice, a made-up one first", http.MethodPost, func() url.Values {
			f := with("forged")
			f.Add("csrf", token)
			return f
		}(), nil, nil, http.StatusForbidden},
		{"another site, with the token", http.MethodPost, with(token), nil, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"a sibling site, with the token", http.MethodPost, with(token), nil, []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"another origin, with the token", http.MethodPost, with(token), nil, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"a method override", http.MethodPost, func() url.Values { f := with(""); f.Set("_method", "GET"); return f }(), nil,
			[]string{"X-HTTP-Method-Override", "GET", "X-Method-Override", "GET"}, http.StatusForbidden},
		{"GET with the form in the URL", http.MethodGet, nil, with(token), nil, 0},
		{"GET with a method override to POST", http.MethodGet, nil, func() url.Values { f := with(token); f.Set("_method", "POST"); return f }(),
			[]string{"X-HTTP-Method-Override", "POST"}, 0},
		{"PUT with the token", http.MethodPut, with(token), nil, nil, 0},
		{"DELETE with the token", http.MethodDelete, with(token), nil, nil, 0},
		{"PATCH with the token", http.MethodPatch, with(token), nil, nil, 0},
	}
	for _, a := range attacks {
		for _, r := range routes {
			path := strings.ReplaceAll(r, "%s", id)
			before := api.callCount()
			send(a.method, path, a.form, a.query, a.header...)
			if a.status != 0 && b.status != a.status {
				t.Errorf("%s %s, %s: status %d, want %d", a.method, path, a.name, b.status, a.status)
			}
			// A GET of a form's page may read (the assets a form offers);
			// nothing may write.
			for _, call := range api.callsSince(before) {
				if strings.HasPrefix(strings.TrimSpace(call), "mutation") || a.method == http.MethodPost {
					t.Errorf("%s %s, %s: reached the API: %.200q", a.method, path, a.name, call)
				}
			}
		}
	}
	b.get("/").sees(http.StatusOK, "<h1>Overview</h1>")

	// The right token, from this site: every form reaches the API (the
	// attacks above were refused for what they lacked, not for a route
	// that does nothing).
	for _, r := range routes[1:] {
		path := strings.ReplaceAll(r, "%s", id)
		before := api.callCount()
		send(http.MethodPost, path, with(token), nil, "Sec-Fetch-Site", "same-origin", "Origin", base)
		if len(api.callsSince(before)) == 0 {
			t.Errorf("POST %s with the right token: status %d, no call of the API", path, b.status)
		}
	}

	// Login CSRF: a hostile site signs the visitor in as its own tenant.
	victim := newBrowser(t, base).get("/login")
	victimToken := tokenOf(t, victim)
	for _, c := range []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no token", url.Values{"tenantId": {api.tenantID}, "apiSecret": {"secret"}}, nil},
		{"the attacker's own token", url.Values{"tenantId": {api.tenantID}, "apiSecret": {"secret"}, "csrf": {anonymousToken}}, nil},
		{"another site", url.Values{"tenantId": {api.tenantID}, "apiSecret": {"secret"}, "csrf": {victimToken}}, []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		victim.post("/login", c.form, c.header...)
		if victim.status != http.StatusForbidden {
			t.Errorf("sign-in, %s: status %d", c.name, victim.status)
		}
		victim.get("/").sees(http.StatusOK, `name="apiSecret"`)
	}
}

// TestSignInReplacesTheSession plants a session cookie before sign-in, as
// an attacker fixing a session would: the cookie and its CSRF token are
// replaced on sign-in, and the planted ones stay signed out.
func TestSignInReplacesTheSession(t *testing.T) {
	api := newFakeAPI()
	base := serveFakeUI(t, api)
	attacker := newBrowser(t, base).get("/login")
	planted := sessionCookie(t, attacker)
	plantedToken := tokenOf(t, attacker)

	victim := withCookie(t, base, planted).get("/login")
	if got := tokenOf(t, victim); got != plantedToken {
		t.Fatalf("the planted session was not used: token %q", got)
	}
	victim.submit("/login", map[string]string{"tenantId": api.tenantID, "apiSecret": "secret"}).sees(http.StatusOK, "<h1>Overview</h1>")
	signedIn := sessionCookie(t, victim)
	if signedIn.Value == planted.Value {
		t.Fatal("sign-in kept the planted cookie")
	}
	if tokenOf(t, victim) == plantedToken {
		t.Error("sign-in kept the planted CSRF token")
	}
	attacker.get("/assets").sees(http.StatusOK, `name="apiSecret"`)
	before := api.callCount()
	attacker.post("/assets/new", url.Values{"csrf": {plantedToken}, "code": {"FIX"}, "scale": {"2"}})
	if api.callCount() != before {
		t.Error("the planted session made a call of the API")
	}
	// The planted token does not serve the victim's new session either.
	victim.post("/assets/new", url.Values{"csrf": {plantedToken}, "code": {"FIX"}, "scale": {"2"}})
	if victim.status != http.StatusForbidden {
		t.Errorf("the planted token in the signed-in session: status %d", victim.status)
	}
}

// TestSignOutEndsTheSession copies a signed-in session's cookie, as one
// left in a shared browser's profile, a proxy's log or a backup would be,
// signs out, and replays the copy: signing out must end the session, not
// only replace the cookie of the browser that signed out.
func TestSignOutEndsTheSession(t *testing.T) {
	api := newFakeAPI()
	base := serveFakeUI(t, api)
	b := newBrowser(t, base).login(api.tenantID, "secret").sees(http.StatusOK, "<h1>Overview</h1>")
	copied := sessionCookie(t, b)
	b.get("/").submit("/logout", nil).sees(http.StatusOK, `name="apiSecret"`)
	b.get("/").sees(http.StatusOK, `name="apiSecret"`)

	thief := withCookie(t, base, copied).get("/")
	if strings.Contains(thief.page, "<h1>Overview</h1>") {
		t.Errorf("the cookie of a signed-out session still signs in (status %d): signing out only replaced the browser's cookie", thief.status)
	}
	before := api.callCount()
	thief.get("/assets")
	if api.callCount() != before {
		t.Errorf("the cookie of a signed-out session still signs the admin API's requests (%d calls)", api.callCount()-before)
	}
}

// TestSessionCookieFlags reads the session cookie as the browser gets it:
// HttpOnly, SameSite=Strict, for the whole site and only this host,
// lasting the 8 hours of a sign-in, and Secure over TLS or when the UI is
// told it is behind TLS.
func TestSessionCookieFlags(t *testing.T) {
	api := newFakeAPI()
	check := func(name string, srv *httptest.Server, secure bool) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + "/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("%s: cookies %v", name, cookies)
		}
		c := cookies[0]
		set := resp.Header.Get("Set-Cookie")
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
			t.Errorf("%s: cookie %s", name, set)
		}
		if c.Secure != secure {
			t.Errorf("%s: Secure %v, want %v: %s", name, c.Secure, secure, set)
		}
		if life := time.Until(c.Expires); life > 8*time.Hour+time.Minute || life < 7*time.Hour {
			t.Errorf("%s: the cookie lasts %s", name, life)
		}
	}
	plain := httptest.NewServer(newFakeUI(t, api, adminui.Config{}))
	defer plain.Close()
	check("plain HTTP", plain, false)
	behindTLS := httptest.NewServer(newFakeUI(t, api, adminui.Config{SecureCookies: true}))
	defer behindTLS.Close()
	check("behind a TLS proxy", behindTLS, true)
	overTLS := httptest.NewUnstartedServer(newFakeUI(t, api, adminui.Config{}))
	overTLS.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	overTLS.StartTLS()
	defer overTLS.Close()
	check("TLS", overTLS, true)
}

// TestRedirectsStayOnThisSite signs in with return paths a browser would
// take to another site, in forms safeNext's own test does not try (dot
// segments, encoded slashes and backslashes, that http.Redirect cleans),
// and looks the history of ids that are URLs up: every Location resolves,
// as a browser resolves it, to this site.
func TestRedirectsStayOnThisSite(t *testing.T) {
	api := newFakeAPI()
	base := serveFakeUI(t, api)
	site, _ := url.Parse(base)
	b := newBrowser(t, base)
	b.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	stays := func(what, location string) {
		t.Helper()
		// Browsers read a backslash as a slash and drop tabs and new lines.
		browserish := strings.NewReplacer(`\`, "/", "\t", "", "\n", "", "\r", "").Replace(location)
		to, err := site.Parse(browserish)
		if err != nil {
			t.Errorf("%s: Location %q: %v", what, location, err)
			return
		}
		if to.Host != site.Host || (to.Scheme != "http" && to.Scheme != "https") {
			t.Errorf("%s: Location %q leaves the site (to %s)", what, location, to)
		}
	}
	for _, next := range []string{"/.//evil.example/", "/..//evil.example/", "/./..//evil.example", "/%2F%2Fevil.example/", "/%2F/evil.example/",
		"/%5C%5Cevil.example/", "/%5cevil.example", "/.%2F%2Fevil.example", "/assets/../..//evil.example", "/%09/evil.example", "/ /evil.example",
		"/?//evil.example", "/#//evil.example", "https:evil.example", "/\u3000/evil.example", "/\ufeff/evil.example"} {
		b.get("/login?next=" + url.QueryEscape(next))
		if b.status != http.StatusOK {
			t.Fatalf("login page: status %d", b.status)
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"csrf": {tokenOf(t, b)},
			"tenantId": {api.tenantID}, "apiSecret": {"secret"}, "next": {next}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in with next %q: status %d", next, resp.StatusCode)
		}
		stays(fmt.Sprintf("next %q", next), resp.Header.Get("Location"))
		// Signed in: sign out again for the next try.
		b.get("/")
		req, _ = http.NewRequest(http.MethodPost, base+"/logout", strings.NewReader(url.Values{"csrf": {tokenOf(t, b)}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err = b.client.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	b.get("/login")
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"csrf": {tokenOf(t, b)},
		"tenantId": {api.tenantID}, "apiSecret": {"secret"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, id := range []string{"//evil.example", `/\evil.example`, "https://evil.example/", "/../../evil.example", "..", `\\evil.example`, "http:evil.example"} {
		req, _ := http.NewRequest(http.MethodGet, base+"/history?id="+url.QueryEscape(id), nil)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "" {
			stays(fmt.Sprintf("history of %q", id), loc)
		}
	}
	// Not signed in: the return path the login page is sent with.
	anon := newBrowser(t, base)
	anon.client.CheckRedirect = b.client.CheckRedirect
	for _, path := range []string{"/assets?x=//evil.example", "//evil.example/assets", `/\evil.example`} {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		resp, err := anon.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "" {
			stays("GET "+path, loc)
		}
	}
}

// signInAt posts a sign-in to the UI as if from the address, with its
// headers, and answers the status.
func signInAt(ui http.Handler, cookie *http.Cookie, csrf, tenantID, remoteAddr string, header ...string) int {
	form := url.Values{"csrf": {csrf}, "tenantId": {tenantID}, "apiSecret": {"guess-" + uuid.NewString()}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req.AddCookie(cookie)
	req.RemoteAddr = remoteAddr
	rec := httptest.NewRecorder()
	ui.ServeHTTP(rec, req)
	return rec.Code
}

// anonymousSession is a signed-out visitor's cookie and CSRF token.
func anonymousSession(t *testing.T, ui http.Handler) (*http.Cookie, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/login", nil)
	req.RemoteAddr = "192.0.2.1:1000"
	rec := httptest.NewRecorder()
	ui.ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	for _, m := range hiddenRE.FindAllStringSubmatch(rec.Body.String(), -1) {
		if m[1] == "csrf" {
			return cookies[0], m[2]
		}
	}
	t.Fatal("no CSRF token")
	return nil, ""
}

// signInFailuresMax is how many failed sign-ins an address may make in a
// row (adminui's signInFailuresMax).
const signInFailuresMax = 10

// TestSignInThrottleIgnoresForwardedFor guesses from one address while
// naming a new one in every header a proxy would set: the throttle counts
// the address the request came from.
func TestSignInThrottleIgnoresForwardedFor(t *testing.T) {
	api := newFakeAPI()
	ui := newFakeUI(t, api, adminui.Config{})
	cookie, csrf := anonymousSession(t, ui)
	for i := range 3 * signInFailuresMax {
		forged := fmt.Sprintf("198.51.100.%d", i+1)
		signInAt(ui, cookie, csrf, "victim", "203.0.113.7:40000",
			"X-Forwarded-For", forged, "X-Real-IP", forged, "Forwarded", "for="+forged, "True-Client-IP", forged, "CF-Connecting-IP", forged)
	}
	if n := api.requests.Load(); n > signInFailuresMax {
		t.Errorf("%d guesses reached the API from one address naming others in its headers", n)
	}
	if code := signInAt(ui, cookie, csrf, "victim", "203.0.113.7:40001"); code != http.StatusTooManyRequests {
		t.Errorf("after the guesses: status %d", code)
	}
}

// TestSignInThrottleHoldsUnderConcurrentGuesses sends a burst of guesses
// at once from one address, while the API takes its time to answer: the
// throttle must count a guess when it lets it through, not when the API
// has refused it, or a burst gets every guess through.
func TestSignInThrottleHoldsUnderConcurrentGuesses(t *testing.T) {
	api := newFakeAPI()
	api.delay = 300 * time.Millisecond
	ui := newFakeUI(t, api, adminui.Config{})
	cookie, csrf := anonymousSession(t, ui)
	const burst = 5 * signInFailuresMax
	var wg sync.WaitGroup
	var throttled atomic.Int64
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if signInAt(ui, cookie, csrf, "victim", fmt.Sprintf("203.0.113.9:%d", 1024+i)) == http.StatusTooManyRequests {
				throttled.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := api.requests.Load(); n > signInFailuresMax {
		t.Errorf("%d of %d guesses sent at once from one address reached the API (%d throttled); at most %d may",
			n, burst, throttled.Load(), signInFailuresMax)
	}
}

// TestSignInThrottleCountsAnIPv6NetworkAsOneClient guesses from the
// addresses of one /64, which a single host holds (SLAAC, privacy
// addresses): counted by address, each new one is 10 more guesses.
func TestSignInThrottleCountsAnIPv6NetworkAsOneClient(t *testing.T) {
	api := newFakeAPI()
	ui := newFakeUI(t, api, adminui.Config{})
	cookie, csrf := anonymousSession(t, ui)
	const guesses = 5 * signInFailuresMax
	for i := range guesses {
		signInAt(ui, cookie, csrf, "victim", fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1))
	}
	if n := api.requests.Load(); n > signInFailuresMax {
		t.Errorf("%d of %d guesses from one IPv6 /64 reached the API; at most %d may", n, guesses, signInFailuresMax)
	}
}

// TestSignInThrottleRemembersAnAddressWhenManyOthersFail has an address
// use up its failures, then fails once from each of 10,000 other addresses
// (one IPv6 /112): the throttle's table is bounded by forgetting every
// address at once, the throttled one included, which lets it guess again.
func TestSignInThrottleRemembersAnAddressWhenManyOthersFail(t *testing.T) {
	api := newFakeAPI()
	ui := newFakeUI(t, api, adminui.Config{})
	cookie, csrf := anonymousSession(t, ui)
	const attacker = "203.0.113.50:1000"
	for range signInFailuresMax + 1 {
		signInAt(ui, cookie, csrf, "victim", attacker)
	}
	if code := signInAt(ui, cookie, csrf, "victim", attacker); code != http.StatusTooManyRequests {
		t.Fatalf("the address is not throttled: status %d", code)
	}
	for i := range 10_000 {
		signInAt(ui, cookie, csrf, "victim", fmt.Sprintf("[2001:db8:ffff::%x]:443", i+1))
	}
	if code := signInAt(ui, cookie, csrf, "victim", attacker); code != http.StatusTooManyRequests {
		t.Errorf("after 10,000 other addresses failed, the throttled address may guess again: status %d", code)
	}
}

// TestSecurityHeadersOnEveryResponse reads the headers of every kind of
// answer: pages, the login page, error pages, refusals, redirects and the
// style sheet. Each forbids scripts, framing and sniffing and keeps the
// referrer on the site; pages are not stored by caches.
func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	api := newFakeAPI()
	base := serveFakeUI(t, api)
	b := newBrowser(t, base).login(api.tenantID, "secret")
	b.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, c := range []struct {
		method, path string
		header       []string
		page         bool
	}{
		{"GET", "/", nil, true},
		{"GET", "/login", nil, true},
		{"GET", "/assets", nil, true},
		{"GET", "/tenants/" + api.tenantID, nil, true},
		{"GET", "/no-such-page", nil, true},
		{"POST", "/assets/new", nil, true},
		{"POST", "/assets/new", []string{"Sec-Fetch-Site", "cross-site"}, false},
		{"GET", "/history?id=x", nil, false},
		{"GET", "/static/style.css", nil, false},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader("code=X"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(c.header); i += 2 {
			req.Header.Set(c.header[i], c.header[i+1])
		}
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		where := fmt.Sprintf("%s %s (%d)", c.method, c.path, resp.StatusCode)
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", where, csp, want)
			}
		}
		if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-") {
			t.Errorf("%s: Content-Security-Policy %q allows scripts", where, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", where, h.Get("X-Content-Type-Options"))
		}
		if rp := h.Get("Referrer-Policy"); rp != "same-origin" && rp != "no-referrer" && rp != "strict-origin" {
			t.Errorf("%s: Referrer-Policy %q", where, rp)
		}
		if c.page {
			if !strings.Contains(h.Get("Cache-Control"), "no-store") {
				t.Errorf("%s: Cache-Control %q", where, h.Get("Cache-Control"))
			}
			if h.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Errorf("%s: Content-Type %q", where, h.Get("Content-Type"))
			}
		}
	}
}

// TestStaticFilesStayInTheirDirectory asks the style sheet's handler for
// files outside its directory, by every spelling of "..": only the style
// sheet is served, never a template, a source file or a system file.
func TestStaticFilesStayInTheirDirectory(t *testing.T) {
	api := newFakeAPI()
	base := serveFakeUI(t, api)
	resp, err := http.Get(base + "/static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("style sheet: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/static/../templates/login.html", "/static/%2e%2e/templates/login.html", "/static/..%2ftemplates%2flogin.html",
		"/static/%2e%2e%2ftemplates%2flayout.html", "/static/..%5ctemplates%5clogin.html", "/static/....//templates/login.html",
		"/static/%252e%252e/templates/login.html", "/static/../../../../../../etc/passwd", "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"/static//etc/passwd", "/static/..%00/templates/login.html", "/static/ui.go", "/static/../ui.go", "/static/%2e%2e/ui.go",
		"/static/templates/login.html", "/static/.%2e/hostile_test.go"} {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Sent as written, not cleaned by the client.
		req.URL.Opaque = path
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, leak := range []string{"{{define", "package adminui", "root:x:0:0"} {
			if bytes.Contains(body, []byte(leak)) {
				t.Errorf("%s: status %d serves a file outside static/ (%q)", path, resp.StatusCode, leak)
			}
		}
	}
}

// TestAPIWordsAreEscaped has the API (fakeAPI) answer with markup: the
// error messages that repeat what a visitor typed in a URL or a form, and
// a refusal's body. Every page shows them as text.
func TestAPIWordsAreEscaped(t *testing.T) {
	api := newFakeAPI()
	base := serveFakeUI(t, api)
	payload := hostile("reflected")
	anon := newBrowser(t, base)
	anon.get("/login?next=" + url.QueryEscape("/"+payload))
	noInjectedMarkup(t, "login next", anon.page)
	anon.submit("/login", map[string]string{"tenantId": payload, "apiSecret": "x"}).sees(http.StatusUnauthorized, "reflected")
	noInjectedMarkup(t, "refused sign-in", anon.page)

	b := newBrowser(t, base).login(api.tenantID, "secret")
	q := url.QueryEscape(payload)
	p := url.PathEscape(payload)
	for _, path := range []string{"/assets?after=" + q, "/peers?before=" + q, "/wallet-addresses?after=" + q, "/tenants?after=" + q,
		"/payments?walletAddressId=" + q + "&type=" + q, "/webhook-events?type=" + q, "/grants?state=" + q,
		"/assets/" + p, "/peers/" + p, "/wallet-addresses/" + p, "/payments/incoming/" + p, "/payments/outgoing/" + p,
		"/grants/" + p, "/tenants/" + p, "/history/" + p, "/?done=" + q} {
		b.get(path)
		if b.status == http.StatusInternalServerError {
			t.Errorf("%s: status 500", path)
		}
		noInjectedMarkup(t, path, b.page)
	}
	if !strings.Contains(b.get("/assets?after="+q).page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the API's message is not on the page:\n%s", b.page)
	}
	token := tokenOf(t, b)
	for _, path := range []string{"/assets/new", "/peers/new", "/wallet-addresses/new", "/tenants/new", "/assets/" + p + "/fee",
		"/wallet-addresses/" + p + "/send", "/payments/outgoing/" + p + "/deposit", "/tenants/" + p + "/update"} {
		b.post(path, url.Values{"csrf": {token}, "code": {payload}, "scale": {"2"}, "name": {payload}, "publicName": {payload}, "email": {payload},
			"address": {payload}, "receiver": {payload}, "debitAmount": {payload}, "dataToTransmit": {payload}, "type": {"SENDING"}, "basisPoints": {"1"},
			"transferId": {uuid.NewString()}, "idempotencyKey": {uuid.NewString()}, "apiSecret": {"x"}, "tenantId": {payload}, "id": {payload}})
		noInjectedMarkup(t, "POST "+path, b.page)
	}
}

// TestSignInErrorsDoNotDescribeTheBackend fails sign-ins while the admin
// API cannot be reached, and while it answers an internal error: the page
// a visitor who has not signed in gets says that the sign-in failed, not
// where the API is nor what its error said (its hosts, database, paths).
func TestSignInErrorsDoNotDescribeTheBackend(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	apiURL := closed.URL + "/graphql"
	closed.Close()
	unreachable, err := adminui.New(adminui.Config{GraphQLURL: apiURL, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(unreachable)
	defer srv.Close()
	b := newBrowser(t, srv.URL).get("/login").submit("/login", map[string]string{"tenantId": uuid.NewString(), "apiSecret": "guess"})
	b.sees(http.StatusUnauthorized, "could not be reached")
	if host := strings.TrimPrefix(closed.URL, "http://"); strings.Contains(b.page, host) {
		t.Errorf("the sign-in page tells a visitor where the admin API is (%s):\n%s", host, excerpt(b.page, host))
	}

	api := newFakeAPI()
	api.failStatus = http.StatusInternalServerError
	api.failBody = `pq: password authentication failed for user "rafiki" at 10.5.0.3:5432 (/srv/rafiki/readmodel/tenants.go:88)`
	b = newBrowser(t, serveFakeUI(t, api)).get("/login").submit("/login", map[string]string{"tenantId": uuid.NewString(), "apiSecret": "guess"})
	if b.status < 400 {
		t.Fatalf("status %d", b.status)
	}
	for _, leak := range []string{"10.5.0.3", "pq: password", "/srv/rafiki", "tenants.go"} {
		if strings.Contains(b.page, leak) {
			t.Errorf("the sign-in page shows a visitor the admin API's internal error (%q):\n%s", leak, excerpt(b.page, leak))
		}
	}
}
