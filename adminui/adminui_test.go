package adminui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/testkit"
)

// TestAdminUI drives every page of the UI against a running backend, as a
// browser without JavaScript would.
func TestAdminUI(t *testing.T) {
	s := startSystem(t)
	t.Run("login", func(t *testing.T) { testLogin(t, s) })
	t.Run("csrf", func(t *testing.T) { testCSRF(t, s) })
	t.Run("assets", func(t *testing.T) { testAssets(t, s) })
	t.Run("peers", func(t *testing.T) { testPeers(t, s) })
	t.Run("wallet addresses and payments", func(t *testing.T) { testWalletAddressesAndPayments(t, s) })
	t.Run("tenants", func(t *testing.T) { testTenants(t, s) })
	t.Run("pagination", func(t *testing.T) { testPagination(t, s) })
	t.Run("history", func(t *testing.T) { testHistory(t, s) })
	t.Run("outgoing payments", func(t *testing.T) { testOutgoingPayments(t, s) })
	t.Run("outgoing payment pages", func(t *testing.T) { testOutgoingPages(t, s) })
	// Last: it leaves the test's address unable to sign in for a while.
	t.Run("failed sign-ins throttled", func(t *testing.T) { testSignInThrottle(t, s) })
}

// testSignInThrottle guesses secrets through the form: past the failures
// an address is allowed, the form refuses even the right secret, so that
// it tells a guesser nothing.
func testSignInThrottle(t *testing.T, s *system) {
	b := s.browser(t)
	b.get("/login")
	refusals := 0
	for range 30 {
		b.submit("/login", map[string]string{"tenantId": s.cfg.OperatorTenantID, "apiSecret": "guess"})
		if b.status == http.StatusTooManyRequests {
			break
		}
		b.sees(http.StatusUnauthorized, "The admin API refused the signature")
		refusals++
	}
	if refusals > 10 {
		t.Fatalf("%d wrong secrets refused before the form stopped taking guesses", refusals)
	}
	b.sees(http.StatusTooManyRequests, "Too many failed sign-ins from your address")
	b.submit("/login", map[string]string{"tenantId": s.cfg.OperatorTenantID, "apiSecret": s.cfg.AdminAPISecret}).
		sees(http.StatusTooManyRequests, "Too many failed sign-ins from your address")
}

func testLogin(t *testing.T, s *system) {
	b := s.browser(t)
	b.get("/assets").sees(http.StatusOK, "Sign in", `name="apiSecret"`)
	if !strings.HasPrefix(b.path, "/login?next=%2Fassets") {
		t.Fatalf("not sent to the login page: %s", b.path)
	}
	b.submit("/login", map[string]string{"tenantId": s.cfg.OperatorTenantID, "apiSecret": "wrong"}).
		sees(http.StatusUnauthorized, "The admin API refused the signature")
	b.submit("/login", map[string]string{"tenantId": "", "apiSecret": ""}).
		sees(http.StatusUnprocessableEntity, "Enter the tenant id and its API secret.")
	b.get("/login?next=%2Fassets").submit("/login", map[string]string{"tenantId": s.cfg.OperatorTenantID, "apiSecret": s.cfg.AdminAPISecret}).
		sees(http.StatusOK, "<h1>Assets</h1>", "(operator)", `href="/tenants"`)

	// The cookie is sealed: it holds neither the secret nor the tenant id
	// in a readable form, and scripts cannot read it.
	u, _ := url.Parse(s.uiURL)
	cookies := b.client.Jar.Cookies(u)
	if len(cookies) != 1 || strings.Contains(cookies[0].Value, s.cfg.AdminAPISecret) || strings.Contains(cookies[0].Value, s.cfg.OperatorTenantID) {
		t.Fatalf("cookies: %+v", cookies)
	}
	resp, err := http.Get(s.uiURL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	set := resp.Header.Get("Set-Cookie")
	if !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Strict") {
		t.Fatalf("session cookie: %s", set)
	}
	// A tampered cookie is no session.
	tampered := *cookies[0]
	first := "x"
	if strings.HasPrefix(tampered.Value, first) {
		first = "y" // a change, whatever the sealed value starts with
	}
	tampered.Value = first + tampered.Value[1:]
	other := s.browser(t)
	other.client.Jar.SetCookies(u, []*http.Cookie{&tampered})
	other.get("/").sees(http.StatusOK, `name="apiSecret"`)

	// Only local paths are followed after signing in.
	other.get("/login?next=https%3A%2F%2Fevil.example%2F").submit("/login",
		map[string]string{"tenantId": s.cfg.OperatorTenantID, "apiSecret": s.cfg.AdminAPISecret}).sees(http.StatusOK, "<h1>Overview</h1>")

	b.get("/").submit("/logout", nil).sees(http.StatusOK, `name="apiSecret"`)
	b.get("/assets").sees(http.StatusOK, `name="apiSecret"`)
}

func testCSRF(t *testing.T, s *system) {
	b := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	for _, c := range []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no token", url.Values{"code": {"CSRF"}, "scale": {"2"}}, nil},
		{"a wrong token", url.Values{"code": {"CSRF"}, "scale": {"2"}, "csrf": {"forged"}}, nil},
		{"another site", url.Values{"code": {"CSRF"}, "scale": {"2"}, "csrf": {csrfOf(t, b)}}, []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b.get("/assets/new")
			b.post("/assets/new", c.form, c.header...)
			if b.status != http.StatusForbidden {
				t.Fatalf("status %d, want 403:\n%s", b.status, b.page)
			}
		})
	}
	b.get("/assets").lacks(">CSRF<")
	// A session's token does not serve another session.
	token := csrfOf(t, b)
	other := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	other.post("/assets/new", url.Values{"code": {"CSRF"}, "scale": {"2"}, "csrf": {token}})
	if other.status != http.StatusForbidden {
		t.Fatalf("another session's token: status %d", other.status)
	}
}

func csrfOf(t *testing.T, b *browser) string {
	t.Helper()
	m := hiddenRE.FindStringSubmatch(b.page)
	if m == nil || m[1] != "csrf" {
		t.Fatalf("no CSRF token on %s", b.path)
	}
	return m[2]
}

func testAssets(t *testing.T, s *system) {
	b := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	b.get("/assets/new").submit("/assets/new", map[string]string{"code": "USD", "scale": "2", "liquidityThreshold": "10"}).
		sees(http.StatusOK, "Asset created.", "<h1>Asset USD</h1>", "0.00 USD")
	id := b.idFrom()
	page := "/assets/" + id

	// Amounts are typed at the asset's scale and shown at it.
	b.submit(page+"/deposit", map[string]string{"amount": "100.50"}).sees(http.StatusOK, "Liquidity deposited.", "100.50 USD")
	b.submit(page+"/deposit", map[string]string{"amount": "1.234"}).
		sees(http.StatusUnprocessableEntity, "more decimal places than the asset&#39;s scale (2)", "100.50 USD")
	// The API's own error, shown as it says it.
	b.submit(page+"/withdraw", map[string]string{"amount": "1000"}).sees(http.StatusUnprocessableEntity, "role=\"alert\"").
		sees(http.StatusUnprocessableEntity, "100.50 USD")
	if !strings.Contains(strings.ToLower(b.page), "insufficient") {
		t.Fatalf("no insufficient balance message:\n%s", b.page)
	}
	// Below the liquidity threshold of 10: asset.liquidity_low.
	b.submit(page+"/withdraw", map[string]string{"amount": "95"}).sees(http.StatusOK, "Liquidity withdrawn.", "5.50 USD")

	// A form posted twice (a resubmission) moves the money once.
	b.get(page)
	form := url.Values{"csrf": {csrfOf(t, b)}, "amount": {"1"}}
	for _, m := range hiddenRE.FindAllStringSubmatch(b.page, -1) {
		if m[1] == "transferId" {
			form.Set("transferId", m[2])
		}
	}
	b.post(page+"/deposit", form).sees(http.StatusOK, "6.50 USD")
	b.post(page+"/deposit", form).sees(http.StatusOK, "6.50 USD")

	b.submit(page+"/thresholds", map[string]string{"liquidityThreshold": "2.5", "withdrawalThreshold": "100"}).
		sees(http.StatusOK, "Thresholds saved.", `value="2.50"`, `value="100.00"`)
	b.submit(page+"/fee", map[string]string{"type": "SENDING", "fixed": "0.05", "basisPoints": "100"}).
		sees(http.StatusOK, "Fee set.", "0.05 + 100 basis points")
	b.submit(page+"/fee", map[string]string{"type": "SENDING", "fixed": "0", "basisPoints": "20000"}).
		sees(http.StatusUnprocessableEntity, `role="alert"`)

	b.get("/assets").sees(http.StatusOK, "USD", "6.50")
	testkit.Eventually(t, 15*time.Second, func() bool {
		b.get("/webhook-events?type=asset.liquidity_low")
		return strings.Contains(b.page, "asset.liquidity_low")
	}, "asset.liquidity_low listed")
	b.sees(http.StatusOK, `&#34;code&#34;: &#34;USD&#34;`)
	b.get("/webhook-events?type=peer.liquidity_low").sees(http.StatusOK, "No webhook events of this type.")

	b.get("/assets/new").submit("/assets/new", map[string]string{"code": "USD", "scale": "2"}).
		sees(http.StatusUnprocessableEntity, "DUPLICATE", `value="USD"`)
	b.get("/assets/new").submit("/assets/new", map[string]string{"code": "EUR", "scale": "two"}).
		sees(http.StatusUnprocessableEntity, "scale: &#34;two&#34; is not a whole number")

	b.get("/assets/new").submit("/assets/new", map[string]string{"code": "GONE", "scale": "0"}).sees(http.StatusOK, "Asset created.")
	gone := b.idFrom()
	b.submit("/assets/"+gone+"/delete", nil).sees(http.StatusUnprocessableEntity, "Tick the box to confirm the deletion.")
	b.submit("/assets/"+gone+"/delete", map[string]string{"confirm": "yes"}).sees(http.StatusOK, "Asset deleted.").lacks("GONE")
	b.get("/assets/"+gone).sees(http.StatusNotFound, "NOT_FOUND")
}

// createAsset makes an asset through the API and answers its id.
func createAsset(t *testing.T, c *adminclient.Client, code string, scale int) string {
	t.Helper()
	var out struct {
		CreateAsset struct{ Asset struct{ ID string } }
	}
	if err := c.Do(context.Background(), `mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id } } }`,
		map[string]any{"input": map[string]any{"code": code, "scale": scale}}, &out); err != nil {
		t.Fatal(err)
	}
	return out.CreateAsset.Asset.ID
}

func testPeers(t *testing.T, s *system) {
	assetID := createAsset(t, s.operator, "XRP", 6)
	b := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	b.get("/peers/new").sees(http.StatusOK, "XRP (scale 6)")
	b.submit("/peers/new", map[string]string{"assetId": assetID, "name": "Other bank", "staticIlpAddress": "test.other",
		"outgoingEndpoint": "http://other.test/ilp", "outgoingAuthToken": "out-token", "incomingAuthTokens": "in-token",
		"routes": "test.other-two", "initialLiquidity": "1.5", "maxPacketAmount": "0.001"}).
		sees(http.StatusOK, "Peer created.", "Other bank", "1.500000 XRP", "0.001000", "test.other-two").lacks("out-token", "in-token")
	id := b.idFrom()
	page := "/peers/" + id
	b.submit(page+"/deposit", map[string]string{"amount": "2"}).sees(http.StatusOK, "Liquidity deposited.", "3.500000 XRP")
	b.submit(page+"/withdraw", map[string]string{"amount": "0.5"}).sees(http.StatusOK, "Liquidity withdrawn.", "3.000000 XRP")
	b.submit(page+"/update", map[string]string{"name": "Renamed", "staticIlpAddress": "test.other", "outgoingEndpoint": "http://other.test/ilp2",
		"routes": "", "maxPacketAmount": "", "liquidityThreshold": "1"}).
		sees(http.StatusOK, "Peer saved.", "Renamed", "http://other.test/ilp2").lacks("test.other-two")
	b.submit(page+"/update", map[string]string{"name": "Renamed", "staticIlpAddress": "not an address", "outgoingEndpoint": "http://other.test/ilp2"}).
		sees(http.StatusUnprocessableEntity, `role="alert"`)
	b.get("/peers/new").submit("/peers/new", map[string]string{"assetId": assetID, "staticIlpAddress": "test.other",
		"outgoingEndpoint": "http://other.test/ilp", "outgoingAuthToken": "t2"}).sees(http.StatusUnprocessableEntity, "DUPLICATE")
	b.get("/peers").sees(http.StatusOK, "Renamed", "test.other", "3.000000")
	b.get(page).submit(page+"/delete", nil).sees(http.StatusUnprocessableEntity, "Tick the box to confirm the deletion.")
	b.submit(page+"/delete", map[string]string{"confirm": "yes"}).sees(http.StatusOK, "Peer deleted.").lacks("Renamed")
}

func testWalletAddressesAndPayments(t *testing.T, s *system) {
	assetID := createAsset(t, s.operator, "EUR", 2)
	b := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	b.get("/wallet-addresses/new").submit("/wallet-addresses/new", map[string]string{"assetId": assetID, "address": "alice", "publicName": "Alice"}).
		sees(http.StatusOK, "Wallet address created.", "http://wallet.test/alice", "Alice", "ACTIVE", "0.00 EUR")
	id := b.idFrom()
	page := "/wallet-addresses/" + id
	b.submit(page+"/update", map[string]string{"publicName": "Alice A.", "status": "INACTIVE"}).
		sees(http.StatusOK, "Wallet address saved.", "Alice A.", "INACTIVE")
	b.submit(page+"/update", map[string]string{"publicName": "Alice A.", "status": "ACTIVE"}).sees(http.StatusOK, "ACTIVE")
	// Nothing to withdraw: the API says so.
	b.submit(page+"/withdraw", nil).sees(http.StatusUnprocessableEntity, `role="alert"`)
	b.get("/wallet-addresses/new").submit("/wallet-addresses/new", map[string]string{"assetId": assetID, "address": "alice"}).
		sees(http.StatusUnprocessableEntity, "DUPLICATE", `value="alice"`)
	b.get("/wallet-addresses").sees(http.StatusOK, "http://wallet.test/alice", "Alice A.")

	var created struct {
		CreateIncomingPayment struct{ Payment struct{ ID string } }
	}
	if err := s.operator.Do(context.Background(), `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": id, "metadata": map[string]any{"description": "rent"},
			"incomingAmount": map[string]any{"value": "1234", "assetCode": "EUR", "assetScale": 2}}}, &created); err != nil {
		t.Fatal(err)
	}
	ip := created.CreateIncomingPayment.Payment.ID
	b.get("/payments").sees(http.StatusOK, ip, "INCOMING", "http://wallet.test/alice")
	b.get("/payments?type=OUTGOING").sees(http.StatusOK, "No payments match the filter.")
	b.get("/payments?walletAddressId="+id).sees(http.StatusOK, ip)
	b.get("/payments/incoming/"+ip).sees(http.StatusOK, "12.34 EUR", "PENDING", "&#34;description&#34;: &#34;rent&#34;")
	// A pending payment has nothing to withdraw: the API's refusal shows.
	b.submit("/payments/incoming/"+ip+"/withdraw", nil).sees(http.StatusUnprocessableEntity, `role="alert"`, "12.34 EUR")
	b.submit("/payments/incoming/"+ip+"/approve", nil).sees(http.StatusOK, "Payment approved.")
	// Approved: it can no longer be cancelled, and the API says why.
	b.submit("/payments/incoming/"+ip+"/cancel", map[string]string{"cancellationReason": "changed my mind"}).
		sees(http.StatusUnprocessableEntity, `role="alert"`)
	var second struct {
		CreateIncomingPayment struct{ Payment struct{ ID string } }
	}
	if err := s.operator.Do(context.Background(), `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": map[string]any{"walletAddressId": id}}, &second); err != nil {
		t.Fatal(err)
	}
	cancelled := "/payments/incoming/" + second.CreateIncomingPayment.Payment.ID
	b.get(cancelled).sees(http.StatusOK, "Amount asked</dt><dd>any").
		submit(cancelled+"/cancel", map[string]string{"cancellationReason": "changed my mind"}).
		sees(http.StatusOK, "Payment cancelled.", ": changed my mind").lacks("Approve payment")
	testkit.Eventually(t, 15*time.Second, func() bool {
		b.get("/webhook-events?type=incoming_payment.created")
		return strings.Contains(b.page, ip)
	}, "incoming_payment.created listed")
}

func testTenants(t *testing.T, s *system) {
	b := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	b.get("/tenants/new").submit("/tenants/new", map[string]string{"publicName": "Bank B", "email": "ops@bank-b.test",
		"apiSecret": "tenant-b-secret", "setting_WEBHOOK_URL": "http://hooks.bank-b.test/"}).
		sees(http.StatusOK, "Tenant created.", "Bank B", "ops@bank-b.test", `value="http://hooks.bank-b.test/"`).lacks("tenant-b-secret")
	id := b.idFrom()
	page := "/tenants/" + id
	b.submit(page+"/update", map[string]string{"publicName": "Bank B2"}).sees(http.StatusOK, "Tenant saved.", "Bank B2", "ops@bank-b.test")
	b.submit(page+"/settings", map[string]string{"setting_EXCHANGE_RATES_URL": "http://rates.bank-b.test/"}).
		sees(http.StatusOK, "Settings saved.", `value="http://rates.bank-b.test/"`, `value="http://hooks.bank-b.test/"`)
	b.submit(page+"/settings", map[string]string{"setting_WEBHOOK_TIMEOUT": "soon"}).sees(http.StatusUnprocessableEntity, `role="alert"`)
	b.get(page).submit(page+"/settings", map[string]string{"setting_WEBHOOK_URL": "http://hooks.bank-b.test/", "setting_EXCHANGE_RATES_URL": "http://rates.bank-b.test/"}).
		sees(http.StatusUnprocessableEntity, "No setting changed.")
	b.get("/tenants").sees(http.StatusOK, id, "Bank B2")

	// The operator makes an asset for the tenant.
	b.get("/assets/new").submit("/assets/new", map[string]string{"code": "BBB", "scale": "3", "tenantId": id}).
		sees(http.StatusOK, "Asset created.", id)

	// The tenant signs in with its own secret, sees its own objects and no
	// tenant pages, and cannot make objects for another tenant.
	tb := s.browser(t).login(id, "tenant-b-secret").sees(http.StatusOK, "<h1>Overview</h1>").lacks(`href="/tenants"`)
	tb.get("/tenants").sees(http.StatusForbidden, "Only the operator manages tenants.")
	tb.get("/assets").sees(http.StatusOK, "BBB").lacks("USD", "EUR")
	tb.get("/assets/new").lacks(`name="tenantId"`)
	// It keeps its own settings, and sees no other tenant's.
	tb.get("/tenants/"+id).sees(http.StatusOK, "Bank B2", `href="/tenants/`+id+`" aria-current="page"`).
		submit("/tenants/"+id+"/settings", map[string]string{"setting_WEBHOOK_MAX_RETRY": "3"}).sees(http.StatusOK, "Settings saved.", `value="3"`)
	tb.get("/tenants/"+s.cfg.OperatorTenantID).sees(http.StatusForbidden, "A tenant sees only its own settings.")
	tb.get("/tenants/"+id).submit("/tenants/"+id+"/update", map[string]string{"apiSecret": "tenant-b-secret-2"}).sees(http.StatusOK, "Tenant saved.")
	// The session signs with the new secret.
	tb.get("/assets").sees(http.StatusOK, "BBB")

	b.get(page).submit(page+"/delete", nil).sees(http.StatusUnprocessableEntity, "Tick the box to confirm the deletion.")
	b.submit(page+"/delete", map[string]string{"confirm": "yes"}).sees(http.StatusOK, "Tenant deleted.")
	// The deleted tenant's session is refused by the API: back to sign in.
	tb.get("/assets").sees(http.StatusOK, "sign in again")
}

func testPagination(t *testing.T, s *system) {
	b := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	b.get("/assets")
	for i := range 25 {
		createAsset(t, s.operator, fmt.Sprintf("PG%02d", i), 0)
	}
	b.get("/assets").sees(http.StatusOK, "PG24", "PG05", `rel="next"`).lacks("PG04", `rel="prev"`)
	next := linkOf(t, b, "next")
	b.get(next).sees(http.StatusOK, "PG04", "PG00", `rel="prev"`).lacks("PG05")
	b.get(linkOf(t, b, "prev")).sees(http.StatusOK, "PG24", "PG05").lacks("PG04")
}

func linkOf(t *testing.T, b *browser, rel string) string {
	t.Helper()
	i := strings.Index(b.page, `" rel="`+rel+`"`)
	if i < 0 {
		t.Fatalf("no %s link on %s", rel, b.path)
	}
	start := strings.LastIndex(b.page[:i], `href="`) + len(`href="`)
	return strings.ReplaceAll(b.page[start:i], "&amp;", "&")
}

var timeRE = regexp.MustCompile(`<time datetime="([^"]+)">`)

func testHistory(t *testing.T, s *system) {
	b := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	b.get("/assets/new").submit("/assets/new", map[string]string{"code": "HST", "scale": "2", "liquidityThreshold": "1"}).sees(http.StatusOK, "Asset created.")
	id := b.idFrom()
	b.submit("/assets/"+id+"/deposit", map[string]string{"amount": "3"}).sees(http.StatusOK, "3.00 HST")
	b.submit("/assets/"+id+"/thresholds", map[string]string{"liquidityThreshold": "2"}).sees(http.StatusOK, "Thresholds saved.")
	b.sees(http.StatusOK, `href="/history/`+id+`"`)

	b.get("/history/"+id).sees(http.StatusOK, "History of asset "+id, "asset.created", "liquidity.deposited", "asset.thresholds_set",
		s.cfg.OperatorTenantID)
	if strings.Index(b.page, "asset.created") > strings.Index(b.page, "asset.thresholds_set") {
		t.Fatal("events not oldest first")
	}
	// The state after the first event: created with the first threshold.
	times := timeRE.FindAllStringSubmatch(b.page, -1)
	if len(times) < 3 {
		t.Fatalf("event times: %v", times)
	}
	b.get("/history/"+id+"?at="+url.QueryEscape(times[0][1])).sees(http.StatusOK, `id="state"`, "&#34;Code&#34;: &#34;HST&#34;", "&#34;LiquidityThreshold&#34;: 100")
	b.get("/history/"+id+"?at="+url.QueryEscape(times[len(times)-1][1])).sees(http.StatusOK, "&#34;LiquidityThreshold&#34;: 200")
	b.get("/history/"+id+"?at=yesterday").sees(http.StatusUnprocessableEntity, "RFC 3339")

	// A peer's tokens never show.
	peerAsset := createAsset(t, s.operator, "HSP", 0)
	b.get("/peers/new").submit("/peers/new", map[string]string{"assetId": peerAsset, "staticIlpAddress": "test.history",
		"outgoingEndpoint": "http://history.test/ilp", "outgoingAuthToken": "very-secret-out", "incomingAuthTokens": "very-secret-in"}).
		sees(http.StatusOK, "Peer created.")
	peerID := b.idFrom()
	b.get("/history/"+peerID).sees(http.StatusOK, "peer.created", "[redacted]").lacks("very-secret-out", "very-secret-in")
	b.get("/history/"+peerID+"?at="+url.QueryEscape(time.Now().UTC().Format(time.RFC3339Nano))).
		sees(http.StatusOK, "test.history").lacks("very-secret-out", "very-secret-in")

	// Another tenant sees nothing of the operator's objects.
	var created struct {
		CreateTenant struct{ Tenant struct{ ID string } }
	}
	if err := s.operator.Do(context.Background(), `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"apiSecret": "history-tenant-secret"}}, &created); err != nil {
		t.Fatal(err)
	}
	other := s.browser(t).login(created.CreateTenant.Tenant.ID, "history-tenant-secret")
	other.get("/history/" + id).sees(http.StatusNotFound).lacks("asset.created")
	other.get("/history?id="+created.CreateTenant.Tenant.ID).sees(http.StatusOK, "History of tenant", "tenant.created")
}
