package app_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
)

// nonInteractiveGrant is a non-interactive grant as the auth service answers it.
type nonInteractiveGrant struct {
	Token, Manage, ContinueURI, ContinueToken string
}

func requestNonInteractiveGrant(t *testing.T, s *system, c *opClient, tenantID string, access ...map[string]any) nonInteractiveGrant {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"access_token": map[string]any{"access": access}, "client": c.walletAddress})
	listener, err := s.running.URL(app.AuthListener)
	if err != nil {
		t.Fatal(err)
	}
	status, _, answer, _ := send(t, c, listener, http.MethodPost, "http://auth.test/"+tenantID, "", body)
	var out struct {
		AccessToken struct{ Value, Manage string } `json:"access_token"`
		Continue    struct {
			URI         string
			AccessToken struct{ Value string } `json:"access_token"`
		} `json:"continue"`
	}
	if status != http.StatusOK || json.Unmarshal(answer, &out) != nil || out.AccessToken.Value == "" {
		t.Fatalf("grant of %v: %d %s", access, status, answer)
	}
	return nonInteractiveGrant{out.AccessToken.Value, out.AccessToken.Manage, out.Continue.URI, out.Continue.AccessToken.Value}
}

// signByHand signs req by hand: components covered, created, and the
// Content-Digest given (computed from body when empty).
func signByHand(req *http.Request, body []byte, key ed25519.PrivateKey, keyID string, components []string, created time.Time, digest string) {
	if len(body) > 0 {
		if digest == "" {
			sum := sha512.Sum512(body)
			digest = "sha-512=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
		}
		req.Header.Set("Content-Digest", digest)
		req.Header.Set("Content-Length", strconv.Itoa(len(body)))
		if req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	quoted := make([]string, len(components))
	for i, c := range components {
		quoted[i] = `"` + c + `"`
	}
	params := "(" + strings.Join(quoted, " ") + `);keyid="` + keyID + `";created=` + strconv.FormatInt(created.Unix(), 10)
	var b strings.Builder
	for _, c := range components {
		var v string
		switch c {
		case "@method":
			v = req.Method
		case "@target-uri":
			v = req.URL.String()
		default:
			v = req.Header.Get(c)
		}
		b.WriteString(`"` + c + `": ` + v + "\n")
	}
	b.WriteString(`"@signature-params": ` + params)
	sig := ed25519.Sign(key, []byte(b.String()))
	req.Header.Set("Signature-Input", "sig1="+params)
	req.Header.Set("Signature", "sig1=:"+base64.StdEncoding.EncodeToString(sig)+":")
}

// sendToListener sends req (addressed to its public URL) to the listener.
func sendToListener(t *testing.T, listenerURL string, req *http.Request, body []byte) (int, []byte) {
	t.Helper()
	l, _ := url.Parse(listenerURL)
	req.URL.Scheme, req.URL.Host = l.Scheme, l.Host
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, answer
}

func newOPRequest(t *testing.T, method, publicURL, token string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, publicURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "GNAP "+token)
	}
	return req
}

// alicePaysBob makes a USD asset, the wallet addresses pr-alice and pr-bob,
// and an incoming payment into bob with no amount.
func alicePaysBob(t *testing.T, s *system) (alice, bob string, into incomingPaymentOut) {
	t.Helper()
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, a := range []string{"pr-alice", "pr-bob"} {
		wa, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": a})
		if err != nil {
			t.Fatal(err)
		}
		ids[a] = wa.ID
	}
	if into, err = createIncomingPayment(ctx, s.operator, map[string]any{"walletAddressId": ids["pr-bob"]}); err != nil {
		t.Fatal(err)
	}
	return "http://wallet.test/pr-alice", "http://wallet.test/pr-bob", into
}

func quoteBody(walletAddress, receiver, value string) []byte {
	return fmt.Appendf(nil, `{"walletAddress":%q,"receiver":%q,"method":"ilp","debitAmount":{"value":%q,"assetCode":"USD","assetScale":2}}`,
		walletAddress, receiver, value)
}

// Rafiki's answers on the quote and outgoing payment routes for what its
// request validation refuses: GET /quotes/{id} and GET
// /outgoing-payment-grant require Signature and Signature-Input (400
// without them, as every other signed route here answers), and a quoteId
// with a trailing slash names its quote (routes.ts: `quoteUrlParts.pop()
// || quoteUrlParts.pop()`).
func TestQuoteAndGrantRoutesAsRafikiAnswers(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	alice, _, into := alicePaysBob(t, s)
	client := newOPClient(t)
	base := "http://wallet.test/" + tenant
	quoteToken := s.grant(t, client, tenant, map[string]any{"type": "quote", "actions": []string{"create", "read"}, "identifier": alice})
	_, opToken := interactiveGrant(t, s, client, tenant, events.GrantAccess{Type: grant.TypeOutgoingPayment,
		Actions: []string{grant.ActionCreate, grant.ActionRead}, Identifier: alice})
	status, _, body, _ := send(t, client, s.opURL, http.MethodPost, base+"/quotes", quoteToken, quoteBody(alice, into.URL, "5"))
	var q struct{ ID string }
	if status != http.StatusCreated || json.Unmarshal(body, &q) != nil {
		t.Fatalf("quote: %d %s", status, body)
	}
	var failures []string
	if status, _, body, _ := send(t, nil, s.opURL, http.MethodGet, q.ID, quoteToken, nil); status != http.StatusBadRequest {
		failures = append(failures, fmt.Sprintf("GET /quotes/{id} unsigned: %d %s, want 400", status, body))
	}
	if status, _, body, _ := send(t, nil, s.opURL, http.MethodGet, base+"/outgoing-payment-grant", opToken, nil); status != http.StatusBadRequest {
		failures = append(failures, fmt.Sprintf("GET /outgoing-payment-grant unsigned: %d %s, want 400", status, body))
	}
	create := fmt.Appendf(nil, `{"walletAddress":%q,"quoteId":%q}`, alice, q.ID+"/")
	if status, _, body, _ := send(t, client, s.opURL, http.MethodPost, base+"/outgoing-payments", opToken, create); status != http.StatusCreated {
		failures = append(failures, fmt.Sprintf("POST /outgoing-payments with quoteId %s/: %d %s, want 201", q.ID, status, body))
	}
	if len(failures) > 0 {
		t.Fatal(strings.Join(failures, "\n"))
	}
}

// The quote and outgoing payment routes against a hostile client: tokens
// reach only their type,
// wallet address, tenant and client key; signatures must cover the
// method, target, token and body; a grant's limit is never overspent,
// even by parallel requests; read narrows to the client's own payments;
// a rotated or revoked token is refused.
func TestQuotesAndOutgoingPaymentsAgainstAHostileClient(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	alice, bob, into := alicePaysBob(t, s)
	client, stranger := newOPClient(t), newOPClient(t)
	base := "http://wallet.test/" + tenant
	incomingToken := s.grant(t, client, tenant, map[string]any{"type": "incoming-payment", "actions": []string{"create", "read"}, "identifier": alice})
	quoteGrant := requestNonInteractiveGrant(t, s, client, tenant, map[string]any{"type": "quote", "actions": []string{"create", "read"}, "identifier": alice})
	bobQuotes := s.grant(t, client, tenant, map[string]any{"type": "quote", "actions": []string{"create"}, "identifier": bob})
	limits := &events.GrantLimits{DebitAmount: &events.GrantAmount{Value: "1000", AssetCode: "USD", AssetScale: 2}}
	_, opToken := interactiveGrant(t, s, client, tenant, events.GrantAccess{Type: grant.TypeOutgoingPayment,
		Actions: []string{grant.ActionCreate, grant.ActionRead, grant.ActionList}, Identifier: alice, Limits: limits})
	_, strangerRead := interactiveGrant(t, s, stranger, tenant, events.GrantAccess{Type: grant.TypeOutgoingPayment,
		Actions: []string{grant.ActionRead, grant.ActionList}, Identifier: alice})

	idOf := func(body []byte) string {
		var out struct{ ID string }
		_ = json.Unmarshal(body, &out)
		return out.ID[strings.LastIndex(out.ID, "/")+1:]
	}
	quote := func(token, walletAddress, value string) string {
		t.Helper()
		status, _, body, _ := send(t, client, s.opURL, http.MethodPost, base+"/quotes", token, quoteBody(walletAddress, into.URL, value))
		if status != http.StatusCreated {
			t.Fatalf("quote: %d %s", status, body)
		}
		return idOf(body)
	}
	pay := func(walletAddress, quoteID string) []byte {
		return fmt.Appendf(nil, `{"walletAddress":%q,"quoteId":%q}`, walletAddress, base+"/quotes/"+quoteID)
	}
	check := func(name string, c *opClient, method, url, token string, body []byte, want int) []byte {
		t.Helper()
		status, _, answer, _ := send(t, c, s.opURL, method, url, token, body)
		if status != want {
			t.Errorf("%s: %d %s, want %d", name, status, answer, want)
		}
		return answer
	}
	aliceQuote, bobQuote := quote(quoteGrant.Token, alice, "100"), quote(bobQuotes, bob, "10")

	// Token scope.
	check("quote with an incoming payment token", client, http.MethodPost, base+"/quotes", incomingToken, quoteBody(alice, into.URL, "1"), http.StatusForbidden)
	check("quote on bob with alice's quote token", client, http.MethodPost, base+"/quotes", quoteGrant.Token, quoteBody(bob, into.URL, "1"), http.StatusForbidden)
	check("payment with a quote token", client, http.MethodPost, base+"/outgoing-payments", quoteGrant.Token, pay(alice, aliceQuote), http.StatusForbidden)
	check("payment from bob with alice's grant", client, http.MethodPost, base+"/outgoing-payments", opToken, pay(bob, bobQuote), http.StatusForbidden)
	check("payment from alice of bob's quote", client, http.MethodPost, base+"/outgoing-payments", opToken, pay(alice, bobQuote), http.StatusBadRequest)
	check("quote under another tenant's path", client, http.MethodPost, "http://wallet.test/"+uuid.NewString()+"/quotes", quoteGrant.Token,
		quoteBody(alice, into.URL, "1"), http.StatusForbidden)
	check("quote with the client's token signed by another key", stranger, http.MethodPost, base+"/quotes", quoteGrant.Token,
		quoteBody(alice, into.URL, "1"), http.StatusUnauthorized)
	check("payment with the client's token signed by another key", stranger, http.MethodPost, base+"/outgoing-payments", opToken,
		pay(alice, aliceQuote), http.StatusUnauthorized)
	check("spent with the client's token signed by another key", stranger, http.MethodGet, base+"/outgoing-payment-grant", opToken, nil, http.StatusUnauthorized)

	// Signatures that leave out what they must cover, or do not match.
	full := []string{"@method", "@target-uri", "authorization", "content-digest", "content-length", "content-type"}
	signed := func(name string, comps []string, created time.Time, digest string, sent []byte, want int) {
		t.Helper()
		body := quoteBody(alice, into.URL, "3")
		req := newOPRequest(t, http.MethodPost, base+"/quotes", quoteGrant.Token, body)
		signByHand(req, body, client.key, client.keyID, comps, created, digest)
		if sent == nil {
			sent = body
		}
		req.Header.Set("Content-Length", strconv.Itoa(len(sent)))
		if status, answer := sendToListener(t, s.opURL, req, sent); status != want {
			t.Errorf("%s: %d %s, want %d", name, status, answer, want)
		}
	}
	other := quoteBody(alice, into.URL, "99999")
	otherSum := sha512.Sum512(other)
	signed("signature without authorization", []string{"@method", "@target-uri", "content-digest", "content-length", "content-type"}, time.Now(), "", nil, http.StatusUnauthorized)
	signed("signature without content-digest", []string{"@method", "@target-uri", "authorization", "content-length", "content-type"}, time.Now(), "", nil, http.StatusUnauthorized)
	signed("signature without @method", full[1:], time.Now(), "", nil, http.StatusUnauthorized)
	signed("signature without @target-uri", []string{"@method", "authorization", "content-digest", "content-length", "content-type"}, time.Now(), "", nil, http.StatusUnauthorized)
	signed("content-digest of another body", full, time.Now(), "sha-512=:"+base64.StdEncoding.EncodeToString(otherSum[:])+":", nil, http.StatusUnauthorized)
	signed("body replaced after signing", full, time.Now(), "", other, http.StatusUnauthorized)
	signed("created an hour ago", full, time.Now().Add(-time.Hour), "", nil, http.StatusUnauthorized)
	signed("created an hour ahead", full, time.Now().Add(time.Hour), "", nil, http.StatusUnauthorized)
	{
		body := quoteBody(alice, into.URL, "4")
		req := newOPRequest(t, http.MethodPost, base+"/quotes", incomingToken, body)
		signByHand(req, body, client.key, client.keyID, full, time.Now(), "")
		req.Header.Set("Authorization", "GNAP "+quoteGrant.Token)
		if status, answer := sendToListener(t, s.opURL, req, body); status != http.StatusUnauthorized {
			t.Errorf("token swapped after signing: %d %s, want 401", status, answer)
		}
	}

	// One payment per quote; bad amounts are 400, never 500.
	check("payment of a quote", client, http.MethodPost, base+"/outgoing-payments", opToken, pay(alice, aliceQuote), http.StatusCreated)
	check("second payment of the quote", client, http.MethodPost, base+"/outgoing-payments", opToken, pay(alice, aliceQuote), http.StatusBadRequest)
	for _, v := range []string{"-5", "0", "+5", "1e3", "5.5", "99999999999999999999", ""} {
		check("debit amount "+v, client, http.MethodPost, base+"/outgoing-payments", opToken,
			fmt.Appendf(nil, `{"walletAddress":%q,"incomingPayment":%q,"debitAmount":{"value":%q,"assetCode":"USD","assetScale":2}}`, alice, into.URL, v),
			http.StatusBadRequest)
	}
	check("metadata over 16 KiB", client, http.MethodPost, base+"/outgoing-payments", opToken,
		fmt.Appendf(nil, `{"walletAddress":%q,"quoteId":%q,"metadata":{"a":%q}}`, alice, base+"/quotes/"+quote(quoteGrant.Token, alice, "1"), strings.Repeat("x", 20000)),
		http.StatusBadRequest)
	check("unknown field", client, http.MethodPost, base+"/outgoing-payments", opToken,
		fmt.Appendf(nil, `{"walletAddress":%q,"quoteId":%q,"x":1}`, alice, base+"/quotes/"+quote(quoteGrant.Token, alice, "1")), http.StatusBadRequest)

	// Thirty parallel payments of 100 against what is left of 1000.
	l, _ := url.Parse(s.opURL)
	var requests []*http.Request
	for range 30 {
		body := pay(alice, quote(quoteGrant.Token, alice, "100"))
		req := newOPRequest(t, http.MethodPost, base+"/outgoing-payments", opToken, body)
		signByHand(req, body, client.key, client.keyID, full, time.Now(), "")
		req.URL.Scheme, req.URL.Host = l.Scheme, l.Host
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		requests = append(requests, req)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for _, req := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status := 0
			if resp, err := http.DefaultClient.Do(req); err == nil {
				status = resp.StatusCode
				resp.Body.Close()
			}
			mu.Lock()
			codes[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusCreated] != 9 || codes[http.StatusForbidden] != 21 {
		t.Errorf("parallel payments of 100 with 900 left: %v, want 9 created and 21 refused", codes)
	}
	spent := check("spent", client, http.MethodGet, base+"/outgoing-payment-grant", opToken, nil, http.StatusOK)
	if !strings.Contains(string(spent), `"spentDebitAmount":{"value":"1000"`) {
		t.Errorf("spent after the parallel payments: %s, want 1000", spent)
	}

	// Reads narrow to the client's own.
	check("another client's payment with read", stranger, http.MethodGet, base+"/outgoing-payments/"+aliceQuote, strangerRead, nil, http.StatusNotFound)
	if list := check("another client's list", stranger, http.MethodGet, base+"/outgoing-payments?wallet-address="+url.QueryEscape(alice), strangerRead, nil,
		http.StatusOK); strings.Contains(string(list), aliceQuote) || !strings.Contains(string(list), `"result":[]`) {
		t.Errorf("the stranger's list shows the client's payments: %s", list)
	}
	check("another client's quote with read", stranger, http.MethodGet, base+"/quotes/"+aliceQuote,
		s.grant(t, stranger, tenant, map[string]any{"type": "quote", "actions": []string{"read"}, "identifier": alice}), nil, http.StatusNotFound)
	check("spent with a token that cannot create", stranger, http.MethodGet, base+"/outgoing-payment-grant", strangerRead, nil, http.StatusForbidden)
	check("payment under another tenant's path", client, http.MethodGet, "http://wallet.test/"+uuid.NewString()+"/outgoing-payments/"+aliceQuote, opToken, nil, http.StatusNotFound)
	check("own payment", client, http.MethodGet, base+"/outgoing-payments/"+aliceQuote, opToken, nil, http.StatusOK)

	// Rotation and revocation.
	authURL, err := s.running.URL(app.AuthListener)
	if err != nil {
		t.Fatal(err)
	}
	status, _, rotated, _ := send(t, client, authURL, http.MethodPost, quoteGrant.Manage, quoteGrant.Token, nil)
	if status != http.StatusOK {
		t.Fatalf("rotate: %d %s", status, rotated)
	}
	var rot struct {
		AccessToken struct{ Value string } `json:"access_token"`
	}
	if err := json.Unmarshal(rotated, &rot); err != nil || rot.AccessToken.Value == "" {
		t.Fatalf("rotated: %s", rotated)
	}
	check("the token rotated away", client, http.MethodPost, base+"/quotes", quoteGrant.Token, quoteBody(alice, into.URL, "6"), http.StatusForbidden)
	check("its successor", client, http.MethodPost, base+"/quotes", rot.AccessToken.Value, quoteBody(alice, into.URL, "7"), http.StatusCreated)
	if status, _, body, _ := send(t, client, authURL, http.MethodDelete, quoteGrant.ContinueURI, quoteGrant.ContinueToken, nil); status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", status, body)
	}
	check("a token of a revoked grant", client, http.MethodPost, base+"/quotes", rot.AccessToken.Value, quoteBody(alice, into.URL, "8"), http.StatusForbidden)
}

// A client known by its key alone reads the quotes its key made, not
// another client's (Rafiki reads them all for it, as read-all).
func TestKeyedClientReadsItsOwnQuotes(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	alice, _, into := alicePaysBob(t, s)
	base := "http://wallet.test/" + tenant
	access := map[string]any{"type": "quote", "actions": []string{"create", "read"}}
	wallet := newOPClient(t)
	walletToken := s.grant(t, wallet, tenant, access)
	keyed, keyedToken := keyedClient(t, s, tenant, access)
	other, otherToken := keyedClient(t, s, tenant, access)
	quote := func(c *opClient, token string) string {
		t.Helper()
		status, _, body, _ := send(t, c, s.opURL, http.MethodPost, base+"/quotes", token, quoteBody(alice, into.URL, "10"))
		var out struct{ ID string }
		if status != http.StatusCreated || json.Unmarshal(body, &out) != nil {
			t.Fatalf("quote: %d %s", status, body)
		}
		return out.ID
	}
	walletsQuote, keyedQuote, othersQuote := quote(wallet, walletToken), quote(keyed, keyedToken), quote(other, otherToken)
	for _, read := range []struct {
		name   string
		c      *opClient
		token  string
		target string
		want   int
	}{
		{"its own", keyed, keyedToken, keyedQuote, http.StatusOK},
		{"the wallet's", keyed, keyedToken, walletsQuote, http.StatusNotFound},
		{"another key's", keyed, keyedToken, othersQuote, http.StatusNotFound},
		{"by the other key, its own", other, otherToken, othersQuote, http.StatusOK},
		{"by the wallet, a keyed client's", wallet, walletToken, keyedQuote, http.StatusNotFound},
	} {
		if status, _, answer, _ := send(t, read.c, s.opURL, http.MethodGet, read.target, read.token, nil); status != read.want {
			t.Errorf("reading %s: %d %s, want %d", read.name, status, answer, read.want)
		}
	}
}
