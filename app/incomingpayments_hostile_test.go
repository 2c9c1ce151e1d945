package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/testkit"
)

// ipxEvery is every action a client may hold on incoming payments without
// the -all forms.
var ipxEvery = []string{"create", "read", "list", "complete"}

// ipxAccess is an incoming payment access item; no identifier when
// identifier is empty (such a grant names every wallet address of its tenant).
func ipxAccess(identifier string, actions ...string) map[string]any {
	a := map[string]any{"type": "incoming-payment", "actions": actions}
	if identifier != "" {
		a["identifier"] = identifier
	}
	return a
}

// ipxRequest sends a request to the resource server at its public URL:
// its token, a JSON Content-Type when it has a body, then prepare's
// headers, signed by c (unless nil) over all of them. Every answer must be
// a refusal or a success, never a 5xx.
func ipxRequest(t *testing.T, s *system, c *opClient, method, publicURL, token string, body []byte, prepare func(*http.Request)) (int, []byte) {
	t.Helper()
	req := opRequest(t, method, publicURL, token, body)
	if prepare != nil {
		prepare(req)
	}
	if c != nil {
		if err := c.sign(req, body); err != nil {
			t.Fatal(err)
		}
	}
	status, answer := sendToListener(t, s.opURL, req, body)
	if status >= 500 {
		t.Errorf("%s %s: %d %s; a hostile request must be refused, not fail the server", method, publicURL, status, answer)
	}
	return status, answer
}

// ipxIDs are the payment ids (last path segment) of a list answer.
func ipxIDs(t *testing.T, answer []byte) []string {
	t.Helper()
	var page struct {
		Result []struct{ ID string } `json:"result"`
	}
	if err := json.Unmarshal(answer, &page); err != nil {
		t.Fatalf("list answer %s: %v", answer, err)
	}
	ids := []string{}
	for _, p := range page.Result {
		ids = append(ids, p.ID[strings.LastIndex(p.ID, "/")+1:])
	}
	return ids
}

// ipxCreated is the id and URL of the payment a create answered.
func ipxCreated(t *testing.T, status int, answer []byte) (id, paymentURL string) {
	t.Helper()
	var out struct{ ID string }
	if status != http.StatusCreated || json.Unmarshal(answer, &out) != nil || out.ID == "" {
		t.Fatalf("create: %d %s", status, answer)
	}
	return out.ID[strings.LastIndex(out.ID, "/")+1:], out.ID
}

// ipxCreate creates a payment and answers its id and URL.
func ipxCreate(t *testing.T, s *system, c *opClient, target, token string, body []byte) (id, paymentURL string) {
	t.Helper()
	status, answer := ipxRequest(t, s, c, http.MethodPost, target, token, body, nil)
	return ipxCreated(t, status, answer)
}

// ipxWalletAddresses makes a USD asset of the operator and its wallet
// addresses named, and answers their URLs and ids by name.
func ipxWalletAddresses(t *testing.T, s *system, names ...string) (urls, ids map[string]string) {
	t.Helper()
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	urls, ids = map[string]string{}, map[string]string{}
	for _, n := range names {
		wa, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": n})
		if err != nil {
			t.Fatal(err)
		}
		urls[n], ids[n] = wa.Address, wa.ID
	}
	return urls, ids
}

// A client holding incoming payment grants reaches only the wallet
// address, the tenant and, for reads and lists, the payments its grant
// names: a token for bob opens nothing of alice's; a read or list grant
// sees its own client's payments only (Rafiki's client filter); a tenant
// in the path other than the payment's finds nothing; cursors of other
// wallet addresses' payments show none of them; malformed pages,
// signatures covering too little or made with another client's key are
// refused; parallel completions complete once; the public view shows
// receivedAmount and authServer only.
func TestIncomingPaymentsAgainstAHostileClient(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	urls, _ := ipxWalletAddresses(t, s, "ipx-alice", "ipx-bob")
	alice, bob := urls["ipx-alice"], urls["ipx-bob"]
	client, stranger := newOPClient(t), newOPClient(t)
	onAlice := s.grant(t, client, tenant, ipxAccess(alice, ipxEvery...))
	onBob := s.grant(t, client, tenant, ipxAccess(bob, ipxEvery...))
	strangerOnAlice := s.grant(t, stranger, tenant, ipxAccess(alice, ipxEvery...))
	anyList := s.grant(t, client, tenant, ipxAccess("", "list"))
	base := "http://wallet.test/" + tenant
	payments := base + "/incoming-payments"
	listOf := func(walletAddress string) string {
		return payments + "?wallet-address=" + url.QueryEscape(walletAddress)
	}
	check := func(name string, c *opClient, method, target, token string, body []byte, want int) []byte {
		t.Helper()
		status, answer := ipxRequest(t, s, c, method, target, token, body, nil)
		if status != want {
			t.Errorf("%s: %d %s, want %d", name, status, answer, want)
		}
		return answer
	}
	create := func(c *opClient, token, body string) (string, string) {
		t.Helper()
		return ipxCreate(t, s, c, payments, token, []byte(body))
	}
	own, ownURL := create(client, onAlice, `{"walletAddress":"`+alice+`","incomingAmount":{"value":"500","assetCode":"USD","assetScale":2},"metadata":{"secret":"client-only"}}`)
	bobs, bobsURL := create(client, onBob, `{"walletAddress":"`+bob+`","metadata":{"secret":"bob-only"}}`)
	strangers, strangersURL := create(stranger, strangerOnAlice, `{"walletAddress":"`+alice+`","metadata":{"secret":"stranger-only"}}`)

	// A token for bob opens nothing of alice's.
	check("read alice's payment with bob's token", client, http.MethodGet, ownURL, onBob, nil, http.StatusForbidden)
	check("complete alice's payment with bob's token", client, http.MethodPost, ownURL+"/complete", onBob, nil, http.StatusForbidden)
	check("list alice with bob's token", client, http.MethodGet, listOf(alice), onBob, nil, http.StatusForbidden)
	check("create on alice with bob's token", client, http.MethodPost, payments, onBob, []byte(`{"walletAddress":"`+alice+`"}`), http.StatusForbidden)

	quotes := s.grant(t, client, tenant, map[string]any{"type": "quote", "actions": []string{"create", "read"}, "identifier": alice})
	check("read alice's payment with a quote token", client, http.MethodGet, ownURL, quotes, nil, http.StatusForbidden)
	check("create on alice with a quote token", client, http.MethodPost, payments, quotes, []byte(`{"walletAddress":"`+alice+`"}`), http.StatusForbidden)

	// A read or list grant sees its own client's payments only.
	if answer := check("the stranger reads the client's payment", stranger, http.MethodGet, ownURL, strangerOnAlice, nil, http.StatusNotFound); strings.Contains(string(answer), "client-only") {
		t.Errorf("the stranger's read shows the client's metadata: %s", answer)
	}
	check("the client reads the stranger's payment", client, http.MethodGet, strangersURL, onAlice, nil, http.StatusNotFound)
	if got := ipxIDs(t, check("the stranger lists alice", stranger, http.MethodGet, listOf(alice), strangerOnAlice, nil, http.StatusOK)); fmt.Sprint(got) != fmt.Sprint([]string{strangers}) {
		t.Errorf("the stranger lists %v, want only its own %s", got, strangers)
	}
	if got := ipxIDs(t, check("the client lists alice", client, http.MethodGet, listOf(alice), onAlice, nil, http.StatusOK)); fmt.Sprint(got) != fmt.Sprint([]string{own}) {
		t.Errorf("the client lists %v, want only its own %s", got, own)
	}

	// Another tenant in the path finds nothing, with or without a token.
	elsewhere := "http://wallet.test/" + uuid.NewString() + "/incoming-payments"
	check("read under another tenant's path", client, http.MethodGet, elsewhere+"/"+own, onAlice, nil, http.StatusNotFound)
	check("public view under another tenant's path", nil, http.MethodGet, elsewhere+"/"+own, "", nil, http.StatusNotFound)
	check("complete under another tenant's path", client, http.MethodPost, elsewhere+"/"+own+"/complete", onAlice, nil, http.StatusNotFound)
	check("list under another tenant's path", client, http.MethodGet, elsewhere+"?wallet-address="+url.QueryEscape(alice), onAlice, nil, http.StatusForbidden)
	check("create under another tenant's path", client, http.MethodPost, elsewhere, onAlice, []byte(`{"walletAddress":"`+alice+`"}`), http.StatusForbidden)

	// Cursors name a place in the list, never a row of another list.
	for _, q := range []string{"&cursor=" + bobs, "&first=5&cursor=" + bobs, "&last=5&cursor=" + bobs, "&last=5&cursor=" + strangers,
		"&start=" + bobs + "&end=" + strangers, "&cursor=" + strings.ToUpper(bobs)} {
		answer := check("list alice from "+q, client, http.MethodGet, listOf(alice)+q, onAlice, nil, http.StatusOK)
		for _, id := range ipxIDs(t, answer) {
			if id != own {
				t.Errorf("list alice from %s shows %s, not the client's payment on alice", q, id)
			}
		}
		if strings.Contains(string(answer), "bob-only") || strings.Contains(string(answer), "stranger-only") {
			t.Errorf("list alice from %s shows another's metadata: %s", q, answer)
		}
	}
	for _, q := range []string{"&first=101", "&first=-1", "&first=1e2", "&first=99999999999999999999", "&first=0x10", "&first=%205",
		"&last=0&cursor=" + own, "&cursor=%27%20OR%20%271%27%3D%271", "&cursor=" + strings.Repeat("f", 36), "&cursor=" + own + "x", "&last=1"} {
		check("list alice with "+q, client, http.MethodGet, listOf(alice)+q, onAlice, nil, http.StatusBadRequest)
	}

	// wallet-address names a wallet address exactly: another host, a
	// trailing slash or a path outside it is no wallet address.
	for _, wa := range []string{alice + "/", "http://evil.test/ipx-alice", alice + "/../ipx-bob", alice + "?x=1", "http://wallet.test//ipx-alice", strings.Repeat("a", 5000)} {
		check("list "+wa, client, http.MethodGet, listOf(wa), anyList, nil, http.StatusNotFound)
	}
	if got := ipxIDs(t, check("list alice in upper case", client, http.MethodGet, listOf(strings.ToUpper(alice)), anyList, nil, http.StatusOK)); fmt.Sprint(got) != fmt.Sprint([]string{own}) {
		t.Errorf("list alice in upper case: %v, want only the client's %s", got, own)
	}

	// Signatures must cover method, target and token (and the body with
	// its digest), with the key of the token's client.
	signed := func(name, method, target string, body []byte, comps []string, key ed25519.PrivateKey, digest string, want int) {
		t.Helper()
		req := newOPRequest(t, method, target, onAlice, body)
		signByHand(req, body, key, client.keyID, comps, time.Now(), digest)
		if status, answer := sendToListener(t, s.opURL, req, body); status != want {
			t.Errorf("%s: %d %s, want %d", name, status, answer, want)
		}
	}
	getComps := []string{"@method", "@target-uri", "authorization"}
	bodyComps := append(append([]string{}, getComps...), "content-digest", "content-length", "content-type")
	createBody := []byte(`{"walletAddress":"` + alice + `"}`)
	otherSum := sha512.Sum512([]byte(`{"walletAddress":"` + bob + `"}`))
	signed("list signed without @target-uri", http.MethodGet, listOf(alice), nil, []string{"@method", "authorization"}, client.key, "", http.StatusUnauthorized)
	signed("read signed without authorization", http.MethodGet, ownURL, nil, []string{"@method", "@target-uri"}, client.key, "", http.StatusUnauthorized)
	signed("complete signed without @method", http.MethodPost, ownURL+"/complete", nil, []string{"@target-uri", "authorization"}, client.key, "", http.StatusUnauthorized)
	signed("create signed without content-digest", http.MethodPost, payments, createBody, []string{"@method", "@target-uri", "authorization", "content-length", "content-type"}, client.key, "", http.StatusUnauthorized)
	signed("create with the digest of another body", http.MethodPost, payments, createBody, bodyComps, client.key, "sha-512=:"+base64.StdEncoding.EncodeToString(otherSum[:])+":", http.StatusUnauthorized)
	signed("create signed with the stranger's key under the client's key id", http.MethodPost, payments, createBody, bodyComps, stranger.key, "", http.StatusUnauthorized)
	signed("read signed with the stranger's key under the client's key id", http.MethodGet, ownURL, nil, getComps, stranger.key, "", http.StatusUnauthorized)
	check("the client's token signed by the stranger", stranger, http.MethodGet, ownURL, onAlice, nil, http.StatusUnauthorized)
	{
		// Two Authorization headers: which one the guard reads and which
		// one the signature covers must not differ.
		req := newOPRequest(t, http.MethodGet, ownURL, onAlice, nil)
		signByHand(req, nil, client.key, client.keyID, getComps, time.Now(), "")
		req.Header.Add("Authorization", "GNAP "+strangerOnAlice)
		if status, answer := sendToListener(t, s.opURL, req, nil); status != http.StatusUnauthorized && status != http.StatusBadRequest {
			t.Errorf("two Authorization headers: %d %s, want 401 or 400", status, answer)
		}
	}

	// Malformed Authorization never falls back to the public view.
	for _, h := range []string{"GNAP", "Bearer " + onAlice, "GNAP  " + onAlice, "gnap " + onAlice} {
		status, answer := ipxRequest(t, s, nil, http.MethodGet, ownURL, "", nil, func(r *http.Request) { r.Header.Set("Authorization", h) })
		if status != http.StatusUnauthorized || strings.Contains(string(answer), "receivedAmount") {
			t.Errorf("read with Authorization %q: %d %s, want 401", h, status, answer)
		}
	}
	// The public view: receivedAmount and authServer, nothing else.
	for _, target := range []string{ownURL, bobsURL, payments + "/" + strings.ToUpper(own)} {
		status, answer := ipxRequest(t, s, nil, http.MethodGet, target, "", nil, nil)
		var public map[string]any
		if status != http.StatusOK || json.Unmarshal(answer, &public) != nil || len(public) != 2 || public["authServer"] != "http://auth.test/"+tenant || public["receivedAmount"] == nil {
			t.Errorf("public view of %s: %d %s, want receivedAmount and authServer only", target, status, answer)
		}
	}

	// The Host a client sends names nothing in the answers: ids are under
	// OPEN_PAYMENTS_URL, the authorization server is AUTH_SERVER_GRANT_URL's.
	evilHost := func(r *http.Request) { r.Host = "evil.test" }
	{
		// Signed for the public URL, then sent with the attacker's Host.
		body := []byte(`{"walletAddress":"` + alice + `","metadata":{"n":1}}`)
		req := newOPRequest(t, http.MethodPost, payments, onAlice, body)
		req.Header.Set("Content-Type", "application/json")
		if err := client.sign(req, body); err != nil {
			t.Fatal(err)
		}
		req.Host = "evil.test"
		if status, answer := sendToListener(t, s.opURL, req, body); status != http.StatusCreated ||
			strings.Contains(string(answer), "evil") || !strings.Contains(string(answer), `"id":"`+payments+"/") {
			t.Errorf("create sent with Host evil.test: %d %s", status, answer)
		}
	}
	if status, answer := ipxRequest(t, s, nil, http.MethodGet, ownURL, "", nil, evilHost); status != http.StatusOK || strings.Contains(string(answer), "evil") {
		t.Errorf("public view sent with Host evil.test: %d %s", status, answer)
	}
	// Methods the routes do not have change nothing.
	for _, m := range []string{http.MethodDelete, http.MethodPut, http.MethodPatch, http.MethodOptions, "PROPFIND"} {
		if status, answer := ipxRequest(t, s, client, m, ownURL, onAlice, nil, nil); status != http.StatusMethodNotAllowed && status != http.StatusNotFound {
			t.Errorf("%s %s: %d %s, want 405", m, ownURL, status, answer)
		}
	}
	check("GET of the completion", client, http.MethodGet, ownURL+"/complete", onAlice, nil, http.StatusNotFound)
	// A grant's continuation token and management URL are no access token.
	g := requestNonInteractiveGrant(t, s, client, tenant, ipxAccess(alice, ipxEvery...))
	check("read with the continuation token", client, http.MethodGet, ownURL, g.ContinueToken, nil, http.StatusForbidden)
	check("read with the token's management id", client, http.MethodGet, ownURL, g.Manage[strings.LastIndex(g.Manage, "/")+1:], nil, http.StatusForbidden)
	check("read with the grant's own token", client, http.MethodGet, ownURL, g.Token, nil, http.StatusOK)
	if status, answer := ipxRequest(t, s, client, http.MethodGet, ownURL, onAlice, nil, nil); status != http.StatusOK || !strings.Contains(string(answer), `"completed":false`) {
		t.Errorf("the payment after the other methods: %d %s, want it unchanged", status, answer)
	}

	// Parallel completions: one completes, the others find it completed.
	target, targetURL := create(client, onAlice, `{"walletAddress":"`+alice+`"}`)
	req := newOPRequest(t, http.MethodPost, targetURL+"/complete", onAlice, nil)
	signByHand(req, nil, client.key, client.keyID, getComps, time.Now(), "")
	l, _ := url.Parse(s.opURL)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 8 {
		r := req.Clone(context.Background())
		r.URL.Scheme, r.URL.Host = l.Scheme, l.Host
		r.Host = "wallet.test"
		wg.Go(func() {
			status := 0
			if resp, err := http.DefaultClient.Do(r); err == nil {
				status = resp.StatusCode
				resp.Body.Close()
			}
			mu.Lock()
			codes[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusOK] != 1 || codes[http.StatusConflict] != 7 {
		t.Errorf("eight parallel completions of %s: %v, want one 200 and seven 409", target, codes)
	}
	check("complete bob's payment once more, with alice's token", client, http.MethodPost, bobsURL+"/complete", onAlice, nil, http.StatusForbidden)
}

// Payments that expired: one that received money is EXPIRED and can no
// longer be completed nor hand out credentials; one that received nothing
// is gone, to every view.
func TestIncomingPaymentsThatExpiredAgainstAHostileClient(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	urls, _ := ipxWalletAddresses(t, s, "ipx-erin")
	erin := urls["ipx-erin"]
	client := newOPClient(t)
	token := s.grant(t, client, tenant, ipxAccess(erin, ipxEvery...))
	payments := "http://wallet.test/" + tenant + "/incoming-payments"
	soon := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	body := []byte(`{"walletAddress":"` + erin + `","expiresAt":"` + soon + `"}`)
	kept, keptURL := ipxCreate(t, s, client, payments, token, body)
	gone, goneURL := ipxCreate(t, s, client, payments, token, body)
	credit(t, s, kept, 5)
	ctx := context.Background()
	testkit.Eventually(t, 10*time.Second, func() bool {
		p, err := getIncomingPayment(ctx, s.operator, kept)
		_, errGone := getIncomingPayment(ctx, s.operator, gone)
		return err == nil && p.State == "EXPIRED" && code(t, errGone) == "NOT_FOUND"
	}, "payments %s and %s not expired", kept, gone)

	if status, answer := ipxRequest(t, s, client, http.MethodPost, keptURL+"/complete", token, nil, nil); status != http.StatusConflict {
		t.Errorf("complete an expired payment: %d %s, want 409", status, answer)
	}
	status, answer := ipxRequest(t, s, client, http.MethodGet, keptURL, token, nil, nil)
	var read struct {
		Completed bool
		Methods   []any
	}
	if status != http.StatusOK || json.Unmarshal(answer, &read) != nil || read.Completed || len(read.Methods) != 0 {
		t.Errorf("read an expired payment: %d %s, want it without methods", status, answer)
	}
	for name, c := range map[string]struct {
		c      *opClient
		method string
		url    string
	}{
		"complete":    {client, http.MethodPost, goneURL + "/complete"},
		"read":        {client, http.MethodGet, goneURL},
		"public view": {nil, http.MethodGet, goneURL},
	} {
		tok := token
		if c.c == nil {
			tok = ""
		}
		if status, answer := ipxRequest(t, s, c.c, c.method, c.url, tok, nil, nil); status != http.StatusNotFound {
			t.Errorf("%s of a payment deleted at its expiry: %d %s, want 404", name, status, answer)
		}
	}
	if got := ipxIDs(t, func() []byte {
		_, a := ipxRequest(t, s, client, http.MethodGet, payments+"?wallet-address="+url.QueryEscape(erin), token, nil, nil)
		return a
	}()); fmt.Sprint(got) != fmt.Sprint([]string{kept}) {
		t.Errorf("erin's list after the expiries: %v, want only %s", got, kept)
	}
}

// A second tenant, its clients and its grants reach nothing of the
// operator's incoming payments, whichever tenant the path names; the
// operator's grants reach nothing of the tenant's.
func TestIncomingPaymentsAgainstAHostileTenant(t *testing.T) {
	s := startResourceServer(t)
	ctx := context.Background()
	op := s.operator.TenantID
	urls, _ := ipxWalletAddresses(t, s, "ipt-alice")
	alice := urls["ipt-alice"]
	zTenant := newTenant(t, s.operator, "ipt-z-secret", map[string]string{"WALLET_ADDRESS_URL": "http://wallet.test/bank-ipt"})
	z := s.client(zTenant, "ipt-z-secret")
	eur, err := createAsset(ctx, z, "EUR", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	zedWA, err := createWalletAddress(ctx, z, map[string]any{"assetId": eur.ID, "address": "zed"})
	if err != nil {
		t.Fatal(err)
	}
	zed := zedWA.Address
	client, mallory := newOPClient(t), newOPClient(t)
	all := append([]string{"read-all", "list-all"}, ipxEvery...)
	opOnAlice := s.grant(t, client, op, ipxAccess(alice, all...))
	opAnywhere := s.grant(t, client, op, ipxAccess("", all...))
	zOnAlice := s.grant(t, mallory, zTenant, ipxAccess(alice, all...))
	zAnywhere := s.grant(t, mallory, zTenant, ipxAccess("", all...))
	zOnZed := s.grant(t, mallory, zTenant, ipxAccess(zed, ipxEvery...))
	opPayments, zPayments := "http://wallet.test/"+op+"/incoming-payments", "http://wallet.test/"+zTenant+"/incoming-payments"

	created := func(c *opClient, target, token, body string) (string, string) {
		t.Helper()
		return ipxCreate(t, s, c, target, token, []byte(body))
	}
	alices, alicesURL := created(client, opPayments, opOnAlice, `{"walletAddress":"`+alice+`","metadata":{"secret":"operator-only"}}`)
	zeds, zedsURL := created(mallory, zPayments, zOnZed, `{"walletAddress":"`+zed+`","metadata":{"secret":"z-only"}}`)

	refused := func(name string, c *opClient, method, target, token string, body []byte, want ...int) {
		t.Helper()
		status, answer := ipxRequest(t, s, c, method, target, token, body, nil)
		for _, w := range want {
			if status == w {
				if strings.Contains(string(answer), "operator-only") || strings.Contains(string(answer), "z-only") {
					t.Errorf("%s: the refusal shows another tenant's data: %s", name, answer)
				}
				return
			}
		}
		t.Errorf("%s: %d %s, want %v", name, status, answer, want)
	}
	aliceBody := []byte(`{"walletAddress":"` + alice + `"}`)
	zedBody := []byte(`{"walletAddress":"` + zed + `"}`)
	listAlice, listZed := "?wallet-address="+url.QueryEscape(alice), "?wallet-address="+url.QueryEscape(zed)
	for _, token := range []string{zOnAlice, zAnywhere} {
		refused("z's grant creates on alice under the operator's path", mallory, http.MethodPost, opPayments, token, aliceBody, http.StatusForbidden)
		refused("z's grant creates on alice under z's path", mallory, http.MethodPost, zPayments, token, aliceBody, http.StatusBadRequest, http.StatusNotFound)
		refused("z's grant reads alice's payment under the operator's path", mallory, http.MethodGet, alicesURL, token, nil, http.StatusForbidden)
		refused("z's grant reads alice's payment under z's path", mallory, http.MethodGet, zPayments+"/"+alices, token, nil, http.StatusNotFound)
		refused("z's grant completes alice's payment under the operator's path", mallory, http.MethodPost, alicesURL+"/complete", token, nil, http.StatusForbidden)
		refused("z's grant completes alice's payment under z's path", mallory, http.MethodPost, zPayments+"/"+alices+"/complete", token, nil, http.StatusNotFound)
		refused("z's grant lists alice under the operator's path", mallory, http.MethodGet, opPayments+listAlice, token, nil, http.StatusForbidden)
		refused("z's grant lists alice under z's path", mallory, http.MethodGet, zPayments+listAlice, token, nil, http.StatusNotFound)
	}
	refused("public view of alice's payment under z's path", nil, http.MethodGet, zPayments+"/"+alices, "", nil, http.StatusNotFound)
	refused("public view of zed's payment under the operator's path", nil, http.MethodGet, opPayments+"/"+zeds, "", nil, http.StatusNotFound)
	for _, token := range []string{opAnywhere} {
		refused("the operator's grant creates on zed under the operator's path", client, http.MethodPost, opPayments, token, zedBody, http.StatusBadRequest, http.StatusNotFound)
		refused("the operator's grant creates on zed under z's path", client, http.MethodPost, zPayments, token, zedBody, http.StatusForbidden)
		refused("the operator's grant reads zed's payment under the operator's path", client, http.MethodGet, opPayments+"/"+zeds, token, nil, http.StatusNotFound)
		refused("the operator's grant reads zed's payment under z's path", client, http.MethodGet, zedsURL, token, nil, http.StatusForbidden)
		refused("the operator's grant completes zed's payment under z's path", client, http.MethodPost, zedsURL+"/complete", token, nil, http.StatusForbidden)
		refused("the operator's grant lists zed under the operator's path", client, http.MethodGet, opPayments+listZed, token, nil, http.StatusNotFound)
	}

	// Cursors of the other tenant's payments show none of them.
	for _, c := range []struct {
		c      *opClient
		target string
		token  string
		mine   string
	}{
		{mallory, zPayments + listZed + "&cursor=" + alices, zOnZed, zeds},
		{mallory, zPayments + listZed + "&last=10&cursor=" + alices, zOnZed, zeds},
		{client, opPayments + listAlice + "&cursor=" + zeds, opOnAlice, alices},
		{client, opPayments + listAlice + "&last=10&cursor=" + zeds, opOnAlice, alices},
	} {
		status, answer := ipxRequest(t, s, c.c, http.MethodGet, c.target, c.token, nil, nil)
		if status != http.StatusOK {
			t.Errorf("%s: %d %s", c.target, status, answer)
			continue
		}
		for _, id := range ipxIDs(t, answer) {
			if id != c.mine {
				t.Errorf("%s shows %s, of another tenant", c.target, id)
			}
		}
	}

	// Nothing was made, completed or changed by the refused requests.
	for _, c := range []struct {
		c            *opClient
		target, want string
		token        string
	}{
		{client, opPayments + listAlice, alices, opOnAlice},
		{mallory, zPayments + listZed, zeds, zOnZed},
	} {
		status, answer := ipxRequest(t, s, c.c, http.MethodGet, c.target, c.token, nil, nil)
		if got := ipxIDs(t, answer); status != http.StatusOK || fmt.Sprint(got) != fmt.Sprint([]string{c.want}) || strings.Contains(string(answer), `"completed":true`) {
			t.Errorf("%s after the other tenant's attempts: %d %s, want %s alone, not completed", c.target, status, answer, c.want)
		}
	}
}

// Hostile bodies of a create are refused with 400, never stored, never a
// 500; what is taken is stored as given and shown by the read model, which
// keeps following afterwards.
func TestIncomingPaymentCreationAgainstHostileBodies(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	urls, _ := ipxWalletAddresses(t, s, "ipb-alice", "ipb-bob")
	alice, bob := urls["ipb-alice"], urls["ipb-bob"]
	client := newOPClient(t)
	token := s.grant(t, client, tenant, ipxAccess(alice, ipxEvery...))
	payments := "http://wallet.test/" + tenant + "/incoming-payments"
	post := func(body string) (int, []byte) {
		t.Helper()
		return ipxRequest(t, s, client, http.MethodPost, payments, token, []byte(body), nil)
	}
	amount := func(v string) string {
		return `{"walletAddress":"` + alice + `","incomingAmount":{"value":` + v + `,"assetCode":"USD","assetScale":2}}`
	}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for name, body := range map[string]string{
		"amount 0":                   amount(`"0"`),
		"amount -1":                  amount(`"-1"`),
		"amount 2^64":                amount(`"18446744073709551616"`),
		"amount 10^30":               amount(`"1000000000000000000000000000000"`),
		"amount 1e3":                 amount(`"1e3"`),
		"amount 0x10":                amount(`"0x10"`),
		"amount with a space":        amount(`" 5"`),
		"amount empty":               amount(`""`),
		"amount in Arabic digits":    amount(`"٥"`),
		"amount a number":            amount(`5`),
		"amount null":                amount(`null`),
		"assetScale 256":             `{"walletAddress":"` + alice + `","incomingAmount":{"value":"5","assetCode":"USD","assetScale":256}}`,
		"assetScale -1":              `{"walletAddress":"` + alice + `","incomingAmount":{"value":"5","assetCode":"USD","assetScale":-1}}`,
		"assetScale 3":               `{"walletAddress":"` + alice + `","incomingAmount":{"value":"5","assetCode":"USD","assetScale":3}}`,
		"assetCode usd":              `{"walletAddress":"` + alice + `","incomingAmount":{"value":"5","assetCode":"usd","assetScale":2}}`,
		"expiry past":                `{"walletAddress":"` + alice + `","expiresAt":"2001-01-01T00:00:00Z"}`,
		"expiry now":                 `{"walletAddress":"` + alice + `","expiresAt":"` + time.Now().UTC().Format(time.RFC3339) + `"}`,
		"expiry beyond 30 days":      `{"walletAddress":"` + alice + `","expiresAt":"` + time.Now().Add(31*24*time.Hour).UTC().Format(time.RFC3339) + `"}`,
		"expiry in year 9999":        `{"walletAddress":"` + alice + `","expiresAt":"9999-12-31T23:59:59Z"}`,
		"expiry not a date":          `{"walletAddress":"` + alice + `","expiresAt":"tomorrow"}`,
		"expiry a number":            `{"walletAddress":"` + alice + `","expiresAt":1893456000}`,
		"metadata null":              `{"walletAddress":"` + alice + `","metadata":null}`,
		"metadata a string":          `{"walletAddress":"` + alice + `","metadata":"x"}`,
		"metadata over 16 KiB":       `{"walletAddress":"` + alice + `","metadata":{"x":"` + strings.Repeat("x", 17<<10) + `"}}`,
		"metadata nested too deep":   `{"walletAddress":"` + alice + `","metadata":{"x":` + deep(20000) + `}}`,
		"metadata with a NUL":        `{"walletAddress":"` + alice + `","metadata":{"x":"a\u0000b"}}`,
		"walletAddress a number":     `{"walletAddress":5}`,
		"walletAddress an object":    `{"walletAddress":{"id":"` + alice + `"}}`,
		"an array":                   `[{"walletAddress":"` + alice + `"}]`,
		"two objects":                `{"walletAddress":"` + alice + `"} {"walletAddress":"` + alice + `"}`,
		"no JSON":                    `walletAddress=` + alice,
		"over 64 KiB":                `{"walletAddress":"` + alice + `","metadata":{"x":"` + strings.Repeat("x", 70<<10) + `"}}`,
		"incomingAmount not a value": `{"walletAddress":"` + alice + `","incomingAmount":"5"}`,
	} {
		if status, answer := post(body); status != http.StatusBadRequest {
			t.Errorf("create with %s: %d %s, want 400", name, status, answer)
		}
	}

	// A duplicated key is read as JSON.parse reads it (the last one), and
	// the token is checked for the wallet address the payment is made on.
	if status, answer := post(`{"walletAddress":"` + bob + `","walletAddress":"` + alice + `"}`); status == http.StatusCreated {
		var out struct{ WalletAddress string }
		if json.Unmarshal(answer, &out) != nil || out.WalletAddress != alice {
			t.Errorf("bob then alice: made on %s with a token for alice", answer)
		}
	} else {
		t.Errorf("bob then alice: %d %s, want 201 on alice", status, answer)
	}
	if status, answer := post(`{"walletAddress":"` + alice + `","walletAddress":"` + bob + `"}`); status != http.StatusForbidden {
		t.Errorf("alice then bob with a token for alice: %d %s, want 403", status, answer)
	}

	// What is taken is stored, and the read model (the list) shows it and
	// whatever comes after it.
	maxID, _ := ipxCreate(t, s, client, payments, token, []byte(amount(`"18446744073709551615"`)))
	deepID, _ := ipxCreate(t, s, client, payments, token, []byte(`{"walletAddress":"`+alice+`","metadata":{"x":`+deep(7000)+`,"u":"\ud800 \u2028 <script>"}}`))
	afterID, _ := ipxCreate(t, s, client, payments, token, []byte(`{"walletAddress":"`+alice+`"}`))
	status, answer := ipxRequest(t, s, client, http.MethodGet, payments+"?wallet-address="+url.QueryEscape(alice)+"&first=100", token, nil, nil)
	var page struct {
		Result []struct {
			ID             string
			IncomingAmount *struct{ Value string }
			Metadata       map[string]any
		}
	}
	if status != http.StatusOK || json.Unmarshal(answer, &page) != nil {
		t.Fatalf("list: %d %.300s", status, answer)
	}
	seen := map[string]bool{}
	for _, p := range page.Result {
		id := p.ID[strings.LastIndex(p.ID, "/")+1:]
		seen[id] = true
		switch id {
		case maxID:
			if p.IncomingAmount == nil || p.IncomingAmount.Value != "18446744073709551615" {
				t.Errorf("the largest amount is listed as %+v", p.IncomingAmount)
			}
		case deepID:
			if p.Metadata["u"] != "\ufffd \u2028 <script>" {
				t.Errorf("the deep metadata's text is listed as %q", p.Metadata["u"])
			}
		}
	}
	for _, id := range []string{maxID, deepID, afterID} {
		if !seen[id] {
			t.Errorf("payment %s answered 201 and not listed: %v", id, seen)
		}
	}
}

// A create body is read as the spec and JSON.parse read it: keys are
// case-sensitive, so `WalletAddress` or `VALUE` are other properties (the
// request body closes its properties, so one is refused; the amount does
// not, so one is ignored), and a body that is not application/json is
// not taken, as Rafiki's validator and body parser refuse it. Go's
// encoding/json matches keys case-insensitively, and the server reads the
// body whatever its Content-Type.
func TestIncomingPaymentBodiesAreReadAsTheSpecReadsThem(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	urls, _ := ipxWalletAddresses(t, s, "ips-alice")
	alice := urls["ips-alice"]
	client := newOPClient(t)
	token := s.grant(t, client, tenant, ipxAccess(alice, ipxEvery...))
	payments := "http://wallet.test/" + tenant + "/incoming-payments"
	spec := openPaymentsSpec(t, "resource-server.yaml")
	var failures []string
	for _, c := range []struct {
		name, body, contentType string
		want                    int
	}{
		{"walletAddress spelt WalletAddress", `{"WalletAddress":"` + alice + `"}`, "application/json", http.StatusBadRequest},
		{"walletAddress spelt WALLETADDRESS", `{"WALLETADDRESS":"` + alice + `"}`, "application/json", http.StatusBadRequest},
		{"expiresAt spelt EXPIRESAT", `{"walletAddress":"` + alice + `","EXPIRESAT":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`, "application/json", http.StatusBadRequest},
		{"a text/plain body", `{"walletAddress":"` + alice + `"}`, "text/plain", http.StatusBadRequest},
		{"a form body", `{"walletAddress":"` + alice + `"}`, "application/x-www-form-urlencoded", http.StatusBadRequest},
	} {
		body := []byte(c.body)
		status, answer := ipxRequest(t, s, client, http.MethodPost, payments, token, body, func(r *http.Request) { r.Header.Set("Content-Type", c.contentType) })
		if status != c.want {
			specSays := "the spec admits it"
			if err := checkRequest(spec, http.MethodPost, "/incoming-payments", payments, http.Header{"Content-Type": {c.contentType},
				"Signature": {"sig1=:x:"}, "Signature-Input": {"sig1=()"}, "Authorization": {"GNAP x"}}, body); err != nil {
				specSays = "the spec refuses it: " + strings.SplitN(err.Error(), "\n", 2)[0]
			}
			failures = append(failures, fmt.Sprintf("create with %s: %d %.200s, want %d (%s)", c.name, status, answer, c.want, specSays))
		}
	}
	// The spec's amount admits other properties: `VALUE` is one of them,
	// and value stays 5.
	status, answer := ipxRequest(t, s, client, http.MethodPost, payments, token,
		[]byte(`{"walletAddress":"`+alice+`","incomingAmount":{"value":"5","assetCode":"USD","assetScale":2,"VALUE":"50000"}}`), nil)
	var out struct{ IncomingAmount struct{ Value string } }
	if status != http.StatusCreated || json.Unmarshal(answer, &out) != nil || out.IncomingAmount.Value != "5" {
		failures = append(failures, fmt.Sprintf("create with value 5 and VALUE 50000: %d %.200s, want 201 expecting 5", status, answer))
	}
	if len(failures) > 0 {
		t.Error(strings.Join(failures, "\n"))
	}
}

// A wallet address named in a request that no database could hold (a NUL,
// bytes that are not UTF-8) is no wallet address: 400 or 404, as the
// wallet address server answers for it, never the 500 of a query the
// database refused. A grant without identifier lets such a request past
// the token check.
func TestIncomingPaymentsOnAWalletAddressNoDatabaseHolds(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	client := newOPClient(t)
	token := s.grant(t, client, tenant, ipxAccess("", ipxEvery...))
	payments := "http://wallet.test/" + tenant + "/incoming-payments"
	for name, wa := range map[string]string{
		"a NUL":        "http://wallet.test/a\x00b",
		"byte 0xff":    "http://wallet.test/a\xffb",
		"a lone 0xc3":  "http://wallet.test/\xc3",
		"a tab":        "http://wallet.test/a\tb",
		"50,000 bytes": "http://wallet.test/" + strings.Repeat("a", 50000),
	} {
		status, answer := ipxRequest(t, s, client, http.MethodGet, payments+"?wallet-address="+url.QueryEscape(wa), token, nil, nil)
		if status != http.StatusNotFound && status != http.StatusBadRequest {
			t.Errorf("list on a wallet address with %s: %d %.200s, want 404 or 400", name, status, answer)
		}
		// JSON carries the bytes as escapes (a NUL) or as they are.
		body, _ := json.Marshal(map[string]string{"walletAddress": wa})
		if strings.Contains(name, "0x") {
			body = []byte(`{"walletAddress":"` + wa + `"}`)
		}
		if status, answer := ipxRequest(t, s, client, http.MethodPost, payments, token, body, nil); status != http.StatusBadRequest && status != http.StatusNotFound {
			t.Errorf("create on a wallet address with %s: %d %.200s, want 400 or 404", name, status, answer)
		}
	}
}

// A deactivated wallet address serves nothing over Open Payments: no
// document, keys or did.json, and, as in Rafiki (whose
// getWalletAddressForSubresource runs before every incoming payment route
// and answers 400 "Could not get wallet address" for an inactive wallet
// address), no payment made on it, no list, no read, private or public
// (which would still hand out STREAM credentials), no completion.
func TestIncomingPaymentsOfADeactivatedWalletAddress(t *testing.T) {
	s := startResourceServer(t)
	ctx := context.Background()
	tenant := s.operator.TenantID
	urls, ids := ipxWalletAddresses(t, s, "ipd-dora")
	dora := urls["ipd-dora"]
	client := newOPClient(t)
	token := s.grant(t, client, tenant, ipxAccess(dora, ipxEvery...))
	payments := "http://wallet.test/" + tenant + "/incoming-payments"
	body := []byte(`{"walletAddress":"` + dora + `"}`)
	_, paymentURL := ipxCreate(t, s, client, payments, token, body)
	if err := s.operator.Do(ctx, `mutation($id: ID!) { updateWalletAddress(input: {id: $id, status: INACTIVE}) { walletAddress { id } } }`,
		map[string]any{"id": ids["ipd-dora"]}, nil); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, func() bool {
		status, _ := s.getOP(t, "/ipd-dora")
		return status == http.StatusNotFound
	}, "the document of the deactivated wallet address is still served")
	for _, path := range []string{"/ipd-dora/jwks.json", "/ipd-dora/did.json", "/IPD-DORA", "/ipd-dora/"} {
		if status, answer := s.getOP(t, path); status != http.StatusNotFound {
			t.Errorf("GET %s of a deactivated wallet address: %d %s, want 404", path, status, answer)
		}
	}
	if status, answer := ipxRequest(t, s, nil, http.MethodGet, dora, "", nil, func(r *http.Request) { r.Header.Set("Accept", "application/spsp4+json") }); status != http.StatusNotFound {
		t.Errorf("SPSP of a deactivated wallet address: %d %s, want 404", status, answer)
	}

	var failures []string
	if status, answer := ipxRequest(t, s, client, http.MethodPost, payments, token, body, nil); status != http.StatusBadRequest && status != http.StatusForbidden {
		failures = append(failures, fmt.Sprintf("create: %d %.200s, want 400 (Rafiki) or 403", status, answer))
	}
	for _, c := range []struct {
		name   string
		c      *opClient
		method string
		target string
		token  string
	}{
		{"list", client, http.MethodGet, payments + "?wallet-address=" + url.QueryEscape(dora), token},
		{"read", client, http.MethodGet, paymentURL, token},
		{"public view", nil, http.MethodGet, paymentURL, ""},
		{"complete", client, http.MethodPost, paymentURL + "/complete", token},
	} {
		if status, answer := ipxRequest(t, s, c.c, c.method, c.target, c.token, nil, nil); status != http.StatusBadRequest {
			failures = append(failures, fmt.Sprintf("%s: %d %.200s, want 400 Could not get wallet address", c.name, status, answer))
		}
	}
	if len(failures) > 0 {
		t.Errorf("incoming payments of a deactivated wallet address:\n%s", strings.Join(failures, "\n"))
	}
}

// The wallet address server answers for the wallet address the request
// names, never one made from the Host the client sent: a Host, a forwarded
// host or scheme, or a path spelt otherwise finds either the one wallet
// address, under its own id, or nothing.
func TestWalletAddressDocumentsAgainstAHostileHost(t *testing.T) {
	s := startResourceServer(t)
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": "iph-alice"}); err != nil {
		t.Fatal(err)
	}
	// Requests are written by hand, so that the request line and Host are
	// exactly the attacker's.
	listener, _ := url.Parse(s.opURL)
	get := func(host, path string, header map[string]string) (int, []byte) {
		t.Helper()
		conn, err := net.DialTimeout("tcp", listener.Host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		var b strings.Builder
		b.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAccept: application/json\r\nConnection: close\r\n")
		for k, v := range header {
			b.WriteString(k + ": " + v + "\r\n")
		}
		b.WriteString("\r\n")
		if _, err := conn.Write([]byte(b.String())); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("GET %s at %s: %v", path, host, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Errorf("GET %s at %s: %d %s", path, host, resp.StatusCode, body)
		}
		return resp.StatusCode, body
	}
	const id = "http://wallet.test/iph-alice"
	for _, c := range []struct {
		name, host, path string
		header           map[string]string
		found            bool
	}{
		{"the wallet address", "wallet.test", "/iph-alice", nil, true},
		{"the host in upper case", "WALLET.TEST", "/iph-alice", nil, true},
		{"the path in upper case", "wallet.test", "/IPH-ALICE", nil, true},
		{"a trailing slash", "wallet.test", "/iph-alice/", nil, true},
		{"an attacker's host", "evil.test", "/iph-alice", nil, false},
		{"the host with a port", "wallet.test:8080", "/iph-alice", nil, false},
		{"the host with a user", "x@wallet.test", "/iph-alice", nil, false},
		{"a forwarded host", "wallet.test", "/iph-alice", map[string]string{"X-Forwarded-Host": "evil.test", "Forwarded": "host=evil.test"}, true},
		{"a forwarded scheme, read only with TRUST_PROXY", "wallet.test", "/iph-alice", map[string]string{"X-Forwarded-Proto": "https"}, true},
		{"a forwarded scheme of another protocol", "wallet.test", "/iph-alice", map[string]string{"X-Forwarded-Proto": "javascript"}, true},
		{"dot segments", "wallet.test", "/x/../iph-alice", nil, false},
		{"a double slash", "wallet.test", "//iph-alice", nil, false},
		{"an encoded slash", "wallet.test", "/x%2F..%2Fiph-alice", nil, false},
		{"a NUL", "wallet.test", "/iph-alice%00", nil, false},
		{"bytes that are not UTF-8", "wallet.test", "/iph-%FF", nil, false},
		{"a Unicode look-alike", "wallet.test", "/%D1%96ph-alice", nil, false},
		{"a long path", "wallet.test", "/" + strings.Repeat("a", 6000), nil, false},
		{"did.json", "wallet.test", "/iph-alice/did.json", nil, false},
		{"another's did.json at the attacker's host", "evil.test", "/iph-alice/did.json", nil, false},
		{"keys at the attacker's host", "evil.test", "/iph-alice/jwks.json", nil, false},
	} {
		status, body := get(c.host, c.path, c.header)
		var doc struct {
			ID, AuthServer, ResourceServer string
		}
		switch {
		case c.found && (status != http.StatusOK || json.Unmarshal(body, &doc) != nil || doc.ID != id ||
			!strings.HasPrefix(doc.AuthServer, "http://auth.test/") || !strings.HasPrefix(doc.ResourceServer, "http://wallet.test/")):
			t.Errorf("%s: %d %s, want the document of %s", c.name, status, body, id)
		case !c.found && status == http.StatusOK:
			t.Errorf("%s: %d %s, want no wallet address", c.name, status, body)
		}
		if strings.Contains(string(body), "evil.test") {
			t.Errorf("%s: the answer repeats the attacker's host: %s", c.name, body)
		}
	}
	// A refused Host never leaves a document cached for it: the real host
	// still finds the wallet address, and the attacker's still does not.
	if status, body := get("evil.test", "/iph-alice", nil); status == http.StatusOK {
		t.Errorf("the attacker's host after the real one: %d %s", status, body)
	}
	if status, body := get("wallet.test", "/iph-alice/jwks.json", nil); status != http.StatusOK || !strings.Contains(string(body), `"keys"`) {
		t.Errorf("the keys: %d %s", status, body)
	}
}

// ipxSwitchingClient is an Open Payments client whose jwks.json answers
// what serve says, or its key while serve is nil.
func ipxSwitchingClient(t *testing.T) (*opClient, *atomic.Pointer[http.HandlerFunc], map[string]any) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &opClient{key: priv, keyID: "client-key", signed: map[string]int64{}}
	jwk := map[string]any{"kid": c.keyID, "alg": "EdDSA", "kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub)}
	var serve atomic.Pointer[http.HandlerFunc]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := serve.Load(); h != nil {
			(*h)(w, r)
			return
		}
		if r.URL.Path != "/client/jwks.json" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwk}})
	}))
	t.Cleanup(srv.Close)
	c.walletAddress = srv.URL + "/client"
	return c, &serve, jwk
}

// A client whose jwks.json turns hostile once it holds a token (huge,
// endless, thousands of keys, its private key, not JSON, a redirect loop,
// an error) has its requests refused 401, promptly, never answered 500.
func TestIncomingPaymentsWhenAClientsKeysTurnHostile(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	urls, _ := ipxWalletAddresses(t, s, "ipk-alice")
	alice := urls["ipk-alice"]
	payments := "http://wallet.test/" + tenant + "/incoming-payments"
	body := []byte(`{"walletAddress":"` + alice + `"}`)
	for name, hostile := range map[string]func(jwk map[string]any) http.HandlerFunc{
		"a body of 5 MB": func(jwk map[string]any) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"keys":[`))
				for range 5 << 10 {
					_, _ = w.Write(bytes.Repeat([]byte(" "), 1024))
				}
				k, _ := json.Marshal(jwk)
				_, _ = w.Write(append(k, []byte(`]}`)...))
			}
		},
		"5,000 keys": func(jwk map[string]any) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				keys := []any{}
				for i := range 5000 {
					k := map[string]any{}
					for n, v := range jwk {
						k[n] = v
					}
					k["kid"] = fmt.Sprint("k", i)
					keys = append(keys, k)
				}
				keys = append(keys, jwk)
				_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
			}
		},
		"its private key": func(jwk map[string]any) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				k := map[string]any{"d": base64.RawURLEncoding.EncodeToString(make([]byte, 32))}
				for n, v := range jwk {
					k[n] = v
				}
				_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{k}})
			}
		},
		"another algorithm": func(jwk map[string]any) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				k := map[string]any{}
				for n, v := range jwk {
					k[n] = v
				}
				k["kty"], k["crv"], k["alg"] = "EC", "P-256", "ES256"
				_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{k}})
			}
		},
		"not JSON": func(map[string]any) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>keys</html>")) }
		},
		"a redirect loop": func(map[string]any) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) }
		},
		"an error": func(map[string]any) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) }
		},
	} {
		client, serve, jwk := ipxSwitchingClient(t)
		token := s.grant(t, client, tenant, ipxAccess(alice, ipxEvery...))
		h := hostile(jwk)
		serve.Store(&h)
		started := time.Now()
		status, answer := ipxRequest(t, s, client, http.MethodPost, payments, token, body, nil)
		if status != http.StatusUnauthorized {
			t.Errorf("create by a client whose keys turned to %s: %d %.200s, want 401", name, status, answer)
		}
		if took := time.Since(started); took > 5*time.Second {
			t.Errorf("create by a client whose keys turned to %s took %s", name, took)
		}
	}
}

// One client's requests are not held hostage by other clients' key
// servers. 64 client wallet addresses on one attacker's site, each with a
// token (incoming payment grants need no interaction) and a jwks.json that
// never answers, would hold as many fetches for the outbound timeout
// (10 s), again whenever they ask; the resource server runs at most a few
// fetches of one site at once, so an honest client on another site, whose
// keys it has not fetched yet, is still verified and served.
func TestIncomingPaymentsWhileOtherClientsKeyServersHang(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	urls, _ := ipxWalletAddresses(t, s, "ipj-alice")
	alice := urls["ipj-alice"]
	payments := "http://wallet.test/" + tenant + "/incoming-payments"
	body := []byte(`{"walletAddress":"` + alice + `"}`)

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var hang atomic.Bool
	var hanging atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/jwks.json") {
			http.NotFound(w, r)
			return
		}
		if hang.Load() {
			hanging.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{"kid": "k", "alg": "EdDSA", "kty": "OKP", "crv": "Ed25519",
			"x": base64.RawURLEncoding.EncodeToString(pub)}}})
	}))
	t.Cleanup(srv.Close)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // runs before srv.Close, which waits for the handlers

	const attackers = 64
	var requests []*http.Request
	l, _ := url.Parse(s.opURL)
	for i := range attackers {
		// The honest client's wallet address is on 127.0.0.1: the
		// attacker's site is another.
		site := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
		c := &opClient{walletAddress: fmt.Sprintf("%s/c%d", site, i), key: priv, keyID: "k", signed: map[string]int64{}}
		token := s.grant(t, c, tenant, ipxAccess(alice, "create"))
		req := newOPRequest(t, http.MethodPost, payments, token, body)
		req.Header.Set("Content-Type", "application/json")
		if err := c.sign(req, body); err != nil {
			t.Fatal(err)
		}
		req.URL.Scheme, req.URL.Host = l.Scheme, l.Host
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		requests = append(requests, req)
	}
	victim := newOPClient(t)
	victimToken := s.grant(t, victim, tenant, ipxAccess(alice, "create"))

	hang.Store(true)
	var wg sync.WaitGroup
	for _, req := range requests {
		wg.Go(func() {
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	// The site's share of fetches is taken; the attackers' other requests
	// are refused at once.
	testkit.Eventually(t, 5*time.Second, func() bool { return hanging.Load() >= 4 }, "the attackers' key fetches did not start")
	status, answer := ipxRequest(t, s, victim, http.MethodPost, payments, victimToken, body, nil)
	free()
	wg.Wait()
	if status != http.StatusCreated {
		t.Errorf("an honest client's create while %d other clients' key servers hang: %d %s, want 201", attackers, status, answer)
	}
}

// Behind a proxy (TRUST_PROXY), the scheme it names in X-Forwarded-Proto
// is the wallet address's; without it the header is anyone's to send and
// OPEN_PAYMENTS_URL's scheme holds, as in Rafiki.
func TestWalletAddressSchemeFromATrustedProxy(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		t.Run(fmt.Sprintf("TRUST_PROXY=%t", trusted), func(t *testing.T) {
			s := startSystem(t, false, func(c *config.Config) { c.TrustProxy = trusted })
			ctx := context.Background()
			usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": "proxied"}); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				proto string
				found bool
			}{{"", true}, {"http", true}, {"https", !trusted}, {"ftp", true}} {
				req, _ := http.NewRequest(http.MethodGet, s.opURL+"/proxied", nil)
				req.Host = "wallet.test"
				req.Header.Set("Accept", "application/json")
				if tc.proto != "" {
					req.Header.Set("X-Forwarded-Proto", tc.proto)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if found := resp.StatusCode == http.StatusOK; found != tc.found {
					t.Errorf("X-Forwarded-Proto %q: %d, want found %t", tc.proto, resp.StatusCode, tc.found)
				}
			}
		})
	}
}

// keyedClient is an Open Payments client known by its key alone (directed
// identity, `client: {jwk}`), with a token for access, granted without
// interaction.
func keyedClient(t *testing.T, s *system, tenantID string, access ...map[string]any) (*opClient, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &opClient{key: priv, keyID: "keyed-" + uuid.NewString(), signed: map[string]int64{}}
	jwk := map[string]any{"kid": c.keyID, "alg": "EdDSA", "kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub)}
	return c, s.grantAs(t, c, map[string]any{"jwk": jwk}, tenantID, access...)
}

// A client known by its key alone reads and lists the incoming payments its
// key made, as a wallet address client reads and lists its own. Rafiki
// narrows nothing for it: its read and list, granted without interaction,
// read every client's payments of any wallet address with their metadata,
// as list-all, which LIST_ALL_ACCESS_INTERACTION keeps for grants a
// resource owner agreed to.
func TestKeyedClientReadsAndListsItsOwnIncomingPayments(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	urls, _ := ipxWalletAddresses(t, s, "ipk-bob")
	bob := urls["ipk-bob"]
	payments := "http://wallet.test/" + tenant + "/incoming-payments"
	listBob := payments + "?wallet-address=" + url.QueryEscape(bob)
	create := func(c *opClient, token, invoice string) (string, string) {
		t.Helper()
		return ipxCreate(t, s, c, payments, token, []byte(`{"walletAddress":"`+bob+`","metadata":{"invoice":"`+invoice+`"}}`))
	}

	wallet := newOPClient(t)
	walletsID, walletsURL := create(wallet, s.grant(t, wallet, tenant, ipxAccess(bob, "create")), "of-the-wallet")
	keyed, keyedToken := keyedClient(t, s, tenant, ipxAccess("", "create", "read", "list"))
	keyedID, keyedURL := create(keyed, keyedToken, "of-the-key")
	other, otherToken := keyedClient(t, s, tenant, ipxAccess("", "create", "read", "list"))
	otherID, otherURL := create(other, otherToken, "of-another-key")

	listed := func(c *opClient, token string) []string {
		t.Helper()
		status, answer := ipxRequest(t, s, c, http.MethodGet, listBob, token, nil, nil)
		var page struct{ Result []struct{ ID string } }
		if status != http.StatusOK || json.Unmarshal(answer, &page) != nil {
			t.Fatalf("list: %d %s", status, answer)
		}
		var ids []string
		for _, p := range page.Result {
			ids = append(ids, p.ID)
		}
		return ids
	}
	if got := listed(keyed, keyedToken); len(got) != 1 || got[0] != keyedURL {
		t.Errorf("the keyed client lists %v, want only its own %s (%s); the wallet's is %s, another key's %s", got, keyedURL, keyedID, walletsID, otherID)
	}
	if got := listed(other, otherToken); len(got) != 1 || got[0] != otherURL {
		t.Errorf("another keyed client lists %v, want only its own %s", got, otherURL)
	}
	for _, read := range []struct {
		name   string
		c      *opClient
		token  string
		target string
		want   int
	}{
		{"its own", keyed, keyedToken, keyedURL, http.StatusOK},
		{"the wallet's", keyed, keyedToken, walletsURL, http.StatusNotFound},
		{"another key's", keyed, keyedToken, otherURL, http.StatusNotFound},
		{"by the other key, the first's", other, otherToken, keyedURL, http.StatusNotFound},
	} {
		status, answer := ipxRequest(t, s, read.c, http.MethodGet, read.target, read.token, nil, nil)
		if status != read.want || (status == http.StatusOK) != strings.Contains(string(answer), `"sharedSecret"`) {
			t.Errorf("keyed client reading %s: %d %s, want %d", read.name, status, answer, read.want)
		}
	}
}

// Only the client that made an incoming payment completes it. A complete
// grant is given without interaction, for any wallet address of the
// tenant: in Rafiki any client may complete anyone's payment, cutting a
// stranger's invoice short.
func TestOnlyItsClientCompletesAnIncomingPayment(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	urls, _ := ipxWalletAddresses(t, s, "ipc-bob")
	bob := urls["ipc-bob"]
	payments := "http://wallet.test/" + tenant + "/incoming-payments"
	merchant := newOPClient(t)
	merchantToken := s.grant(t, merchant, tenant, ipxAccess(bob, "create", "complete", "read"))
	_, invoice := ipxCreate(t, s, merchant, payments, merchantToken, []byte(`{"walletAddress":"`+bob+`","incomingAmount":{"value":"500","assetCode":"USD","assetScale":2}}`))

	stranger := newOPClient(t)
	keyed, keyedToken := keyedClient(t, s, tenant, ipxAccess("", "complete"))
	for _, c := range []struct {
		name  string
		c     *opClient
		token string
	}{
		{"a client's grant on bob", stranger, s.grant(t, stranger, tenant, ipxAccess(bob, "complete"))},
		{"a client's grant on every wallet address", stranger, s.grant(t, stranger, tenant, ipxAccess("", "complete", "read-all"))},
		{"a keyed client's grant", keyed, keyedToken},
	} {
		if status, answer := ipxRequest(t, s, c.c, http.MethodPost, invoice+"/complete", c.token, nil, nil); status != http.StatusNotFound {
			t.Errorf("%s completes the merchant's payment: %d %s, want 404", c.name, status, answer)
		}
	}
	if status, answer := ipxRequest(t, s, merchant, http.MethodGet, invoice, merchantToken, nil, nil); status != http.StatusOK || !strings.Contains(string(answer), `"completed":false`) {
		t.Fatalf("the merchant's payment after the strangers: %d %s, want it open", status, answer)
	}
	if status, answer := ipxRequest(t, s, merchant, http.MethodPost, invoice+"/complete", merchantToken, nil, nil); status != http.StatusOK || !strings.Contains(string(answer), `"completed":true`) {
		t.Errorf("the merchant completes its payment: %d %s", status, answer)
	}
}
