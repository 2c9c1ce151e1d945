package app_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/httpsig"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

// publicAuth is AUTH_SERVER_URL: clients sign the URLs they address there,
// and the requests are delivered to the listeners.
const publicAuth = "http://auth.test"

// interactiveAS is the backend (for tenants), the auth service and a worker
// in process, with every listener an interactive grant goes through.
type interactiveAS struct {
	sys                                    *system
	auth, idp, introspection, authAdminURL string
	operatorIDPSecret                      string
	stream                                 jetstream.Stream
}

func startInteractiveAS(t *testing.T, configure ...func(*config.Config)) *interactiveAS {
	t.Helper()
	opts := append([]func(*config.Config){func(c *config.Config) {
		c.UseHTTP, c.AuthServerURL, c.CookieKey = true, publicAuth, "cookie-key-of-the-tests"
		c.IdentityServerURL, c.IdentityServerSecret = "http://idp.test/operator", "operator-idp-secret"
		c.InteractionExpiry, c.AccessTokenExpiry = 10*time.Minute, 10*time.Minute
	}}, configure...)
	s := startServices(t, app.Set{Backend: true, Auth: true, Worker: true}, false, opts...)
	as := &interactiveAS{sys: s, operatorIDPSecret: "operator-idp-secret"}
	for name, dst := range map[string]*string{app.AuthListener: &as.auth, app.InteractionListener: &as.idp,
		app.IntrospectionListener: &as.introspection, app.AuthAdminListener: &as.authAdminURL} {
		u, err := s.running.URL(name)
		if err != nil {
			t.Fatal(err)
		}
		*dst = u
	}
	as.authAdminURL += "/graphql"
	stream, err := s.nats.JS.Stream(context.Background(), app.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	as.stream = stream
	return as
}

// ixTenant is a tenant with an identity provider of its own.
type ixTenant struct {
	id, apiSecret, idpSecret string
}

func (as *interactiveAS) newTenant(t *testing.T) ixTenant {
	t.Helper()
	tn := ixTenant{apiSecret: "api-" + uuid.NewString(), idpSecret: "idp-" + uuid.NewString()}
	var out struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	err := as.sys.operator.Do(context.Background(), `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"apiSecret": tn.apiSecret, "idpConsentUrl": "http://idp.test/consent?tenant=x", "idpSecret": tn.idpSecret}}, &out)
	if err != nil || out.CreateTenant.Tenant.ID == "" {
		t.Fatalf("create tenant: %+v %v", out, err)
	}
	tn.id = out.CreateTenant.Tenant.ID
	return tn
}

func (as *interactiveAS) authAdmin(tn ixTenant) *adminclient.Client {
	return &adminclient.Client{URL: as.authAdminURL, TenantID: tn.id, Secret: tn.apiSecret}
}

func (as *interactiveAS) lastSeq(t *testing.T) uint64 {
	t.Helper()
	return lastSequence(t, as.stream)
}

// settle waits until the grants read model holds every event stored so far.
func (as *interactiveAS) settle(t *testing.T) {
	t.Helper()
	if err := as.sys.running.Auth.Waiter.Wait(context.Background(), projections.Grants{}.Name(), as.lastSeq(t), 10*time.Second); err != nil {
		t.Fatalf("grants projection: %v", err)
	}
}

// gnapClient is an Open Payments client: a wallet address with a public
// name, served locally, publishing the key it signs with.
type gnapClient struct {
	walletAddress string
	key           ed25519.PrivateKey
	kid           string
}

func newGNAPClient(t *testing.T, publicName string) *gnapClient {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &gnapClient{key: priv, kid: "key-" + uuid.NewString()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/client":
			_ = json.NewEncoder(w).Encode(map[string]any{"id": c.walletAddress, "publicName": publicName, "assetCode": "USD", "assetScale": 2})
		case "/client/jwks.json":
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": []httpsig.JWK{{KID: c.kid, Alg: "EdDSA", Kty: "OKP", Crv: "Ed25519",
				X: base64.RawURLEncoding.EncodeToString(pub)}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c.walletAddress = srv.URL + "/client"
	return c
}

// request is a request to a public URL, signed by c unless c is nil; each
// signature carries a nonce of its own, so that equal requests in one
// second are not replays of each other.
func (c *gnapClient) request(t *testing.T, method, publicURL, token string, body []byte) *http.Request {
	t.Helper()
	req := opRequest(t, method, publicURL, token, body)
	if c != nil {
		if err := httpsig.SignNonce(req, body, c.key, c.kid, time.Now(), uuid.NewString()); err != nil {
			t.Fatal(err)
		}
	}
	return req
}

// gnapReply is an answer of one of the auth service's listeners.
type gnapReply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r gnapReply) code() string { return jsonStr(r.body, "error", "code") }

func (r gnapReply) location() *url.URL {
	u, _ := url.Parse(r.header.Get("Location"))
	if u == nil {
		return &url.URL{}
	}
	return u
}

func (r gnapReply) String() string {
	return fmt.Sprintf("%d %s (Location %q)", r.status, r.raw, r.header.Get("Location"))
}

func jsonStr(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	case bool:
		return fmt.Sprint(x)
	}
	return ""
}

var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       20 * time.Second,
}

// deliver sends req, addressed to its public URL, to the listener.
func deliver(t *testing.T, listener string, req *http.Request) gnapReply {
	t.Helper()
	l, err := url.Parse(listener)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Scheme, req.URL.Host = l.Scheme, l.Host
	resp, err := noRedirects.Do(req)
	if err != nil {
		// Errorf, not Fatalf: requests are sent from goroutines too.
		t.Errorf("%s %s: %v", req.Method, req.URL, err)
		return gnapReply{header: http.Header{}}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := gnapReply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		_ = json.Unmarshal(raw, &out.body)
	}
	return out
}

// rawRequest is a browser's or identity provider's request: unsigned, any
// headers.
func rawRequest(t *testing.T, method, publicURL string, header http.Header, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, publicURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return req
}

// pendingGrant is an interactive grant's handles as its client got them.
type pendingGrant struct {
	tenantID, continueURI, continueToken, redirect, interactID, nonce, finishURI, clientNonce string
	client                                                                                    *gnapClient
}

func (p pendingGrant) interactPath() string { return "/interact/" + p.interactID + "/" + p.nonce }
func (p pendingGrant) idpPath() string      { return "/grant/" + p.interactID + "/" + p.nonce }

// outgoingAccessItem is an access item that needs the resource owner's
// consent.
func outgoingAccessItem() map[string]any {
	return map[string]any{
		"type": "outgoing-payment", "actions": []string{"create", "read"}, "identifier": "http://wallet.test/alice",
		"limits": map[string]any{"debitAmount": map[string]any{"value": "500", "assetCode": "USD", "assetScale": 2}},
	}
}

// grantRequest sends a grant request body, signed by c, to tenantID.
func (as *interactiveAS) grantRequest(t *testing.T, c *gnapClient, tenantID string, body []byte) gnapReply {
	t.Helper()
	return deliver(t, as.auth, c.request(t, http.MethodPost, publicAuth+"/"+tenantID, "", body))
}

// interactive asks for an outgoing-payment grant that sends the browser
// back to finishURI ("" for none).
func (as *interactiveAS) interactive(t *testing.T, c *gnapClient, tenantID, finishURI string) pendingGrant {
	t.Helper()
	interact := map[string]any{"start": []string{"redirect"}}
	clientNonce := "client-nonce-" + uuid.NewString()
	if finishURI != "" {
		interact["finish"] = map[string]any{"method": "redirect", "uri": finishURI, "nonce": clientNonce}
	}
	body, _ := json.Marshal(map[string]any{"access_token": map[string]any{"access": []any{outgoingAccessItem()}},
		"client": c.walletAddress, "interact": interact})
	r := as.grantRequest(t, c, tenantID, body)
	if r.status != http.StatusOK {
		t.Fatalf("interactive grant request: %s", r)
	}
	p := pendingGrant{tenantID: tenantID, client: c, finishURI: finishURI, clientNonce: clientNonce,
		continueURI: jsonStr(r.body, "continue", "uri"), continueToken: jsonStr(r.body, "continue", "access_token", "value"),
		redirect: jsonStr(r.body, "interact", "redirect")}
	u, err := url.Parse(p.redirect)
	if err != nil || !strings.HasPrefix(p.redirect, publicAuth+"/interact/") {
		t.Fatalf("redirect %q", p.redirect)
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/interact/"), "/")
	if len(parts) != 2 || parts[1] != jsonStr(r.body, "interact", "finish") {
		t.Fatalf("pending grant %s", r.raw)
	}
	p.interactID, p.nonce = parts[0], parts[1]
	return p
}

// start is the browser following the client's redirect; it answers the
// session cookie ("" when none was set).
func (as *interactiveAS) start(t *testing.T, p pendingGrant) (gnapReply, string) {
	t.Helper()
	r := deliver(t, as.auth, rawRequest(t, http.MethodGet, p.redirect, nil, nil))
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "sessionId" {
			return r, c.Name + "=" + c.Value
		}
	}
	return r, ""
}

func (as *interactiveAS) finish(t *testing.T, p pendingGrant, cookie string) gnapReply {
	t.Helper()
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	return deliver(t, as.auth, rawRequest(t, http.MethodGet, publicAuth+p.interactPath()+"/finish", h, nil))
}

func (as *interactiveAS) choose(t *testing.T, p pendingGrant, choice, secret string) gnapReply {
	t.Helper()
	return deliver(t, as.idp, rawRequest(t, http.MethodPost, "http://idp.internal"+p.idpPath()+"/"+choice,
		http.Header{"X-Idp-Secret": {secret}}, nil))
}

func (as *interactiveAS) details(t *testing.T, p pendingGrant, secret string) gnapReply {
	t.Helper()
	return deliver(t, as.idp, rawRequest(t, http.MethodGet, "http://idp.internal"+p.idpPath(), http.Header{"X-Idp-Secret": {secret}}, nil))
}

// continueWith is the client's continuation with an interact_ref ("" for
// a poll), signed by signer with token.
func (as *interactiveAS) continueWith(t *testing.T, signer *gnapClient, uri, token, ref string) gnapReply {
	t.Helper()
	var body []byte
	if ref != "" {
		body, _ = json.Marshal(map[string]string{"interact_ref": ref})
	}
	return deliver(t, as.auth, signer.request(t, http.MethodPost, uri, token, body))
}

func (as *interactiveAS) introspect(t *testing.T, token string, access ...map[string]any) map[string]any {
	t.Helper()
	req := map[string]any{"access_token": token}
	if len(access) > 0 {
		req["access"] = access
	}
	body, _ := json.Marshal(req)
	r := deliver(t, as.introspection, rawRequest(t, http.MethodPost, "http://introspection.internal/", http.Header{"Content-Type": {"application/json"}}, body))
	if r.status != http.StatusOK {
		t.Fatalf("introspection: %s", r)
	}
	return r.body
}

// grantID is the grant an interaction belongs to, as its identity provider
// reads it.
func (as *interactiveAS) grantID(t *testing.T, p pendingGrant, idpSecret string) string {
	t.Helper()
	d := as.details(t, p, idpSecret)
	if d.status != http.StatusOK || jsonStr(d.body, "grantId") == "" {
		t.Fatalf("details: %s", d)
	}
	return jsonStr(d.body, "grantId")
}

// storedRef is the interact_ref the server holds for a grant, as an
// attacker who guessed it would present it: what it may do must not depend
// on it being secret alone.
func (as *interactiveAS) storedRef(t *testing.T, tenantID, grantID string) string {
	t.Helper()
	subject, err := handlers.Subject(tenantID, grant.AggregateType, grantID)
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := handlers.Load(context.Background(), as.sys.running.Deps.Store, subject, grant.Evolve)
	if err != nil || st.Interaction == nil || st.Interaction.Ref == "" {
		t.Fatalf("grant %s: %+v %v", grantID, st, err)
	}
	return st.Interaction.Ref
}

// consent takes a pending grant through its interaction: the browser
// starts, the identity provider accepts, the browser comes back. It
// answers the interact_ref the client is sent back with.
func (as *interactiveAS) consent(t *testing.T, p pendingGrant, idpSecret string) string {
	t.Helper()
	back, _ := as.consentReply(t, p, idpSecret)
	return back.location().Query().Get("interact_ref")
}

// consentReply is consent's finish answer and the browser's session.
func (as *interactiveAS) consentReply(t *testing.T, p pendingGrant, idpSecret string) (gnapReply, string) {
	t.Helper()
	r, cookie := as.start(t, p)
	if r.status != http.StatusFound || cookie == "" {
		t.Fatalf("start: %s", r)
	}
	if a := as.choose(t, p, "accept", idpSecret); a.status != http.StatusAccepted {
		t.Fatalf("accept: %s", a)
	}
	back := as.finish(t, p, cookie)
	if p.finishURI != "" && (back.status != http.StatusFound || back.location().Query().Get("interact_ref") == "") ||
		p.finishURI == "" && back.status != http.StatusAccepted {
		t.Fatalf("finish: %s", back)
	}
	return back, cookie
}

// issued is an access token as the client got it.
type issued struct {
	value, manage string
	access        []any
}

func tokenOf(t *testing.T, r gnapReply) issued {
	t.Helper()
	at, _ := r.body["access_token"].(map[string]any)
	tok := issued{value: jsonStr(r.body, "access_token", "value"), manage: jsonStr(r.body, "access_token", "manage")}
	tok.access, _ = at["access"].([]any)
	if r.status != http.StatusOK || tok.value == "" || !strings.HasPrefix(tok.manage, publicAuth+"/token/") {
		t.Fatalf("no access token: %s", r)
	}
	return tok
}

// noServerError fails when a hostile request made the server fail.
func noServerError(t *testing.T, what string, r gnapReply) {
	t.Helper()
	if r.status >= 500 {
		t.Errorf("%s: %s, want a refusal (4xx), not a server error", what, r)
	}
}

// The continuation is the client's alone: another grant's interact_ref,
// a made-up one, another grant's continuation token, another client's
// signature, an interact_ref used twice, the continuation token presented
// as an access token and the reverse all get nothing; a revoked grant
// continues no more and its token rotates no more; many continuations at
// once issue one token, many rotations at once rotate it once.
func TestInteractionAgainstAHostileClient(t *testing.T) {
	as := startInteractiveAS(t)
	tn := as.newTenant(t)
	alice := newGNAPClient(t, "Alice's Shop")
	mallory := newGNAPClient(t, "Mallory's Shop")
	forger := &gnapClient{walletAddress: alice.walletAddress, kid: alice.kid, key: mallory.key}
	const finishURI = "https://client.test/done?order=1"

	a := as.interactive(t, alice, tn.id, finishURI)
	b := as.interactive(t, alice, tn.id, finishURI)
	refA := as.consent(t, a, tn.idpSecret)
	refB := as.consent(t, b, tn.idpSecret)
	grantA := as.grantID(t, a, tn.idpSecret)

	t.Run("refused continuations", func(t *testing.T) {
		for _, c := range []struct {
			name       string
			signer     *gnapClient
			uri, token string
			ref        string
			status     int
			code       string
		}{
			{"another grant's interact_ref", alice, a.continueURI, a.continueToken, refB, 404, "invalid_continuation"},
			{"a made-up interact_ref", alice, a.continueURI, a.continueToken, strings.ToUpper(strings.ReplaceAll(uuid.NewString()+uuid.NewString(), "-", ""))[:40], 404, "invalid_continuation"},
			{"the interaction nonce as interact_ref", alice, a.continueURI, a.continueToken, a.nonce, 404, "invalid_continuation"},
			{"the interact_ref in lower case", alice, a.continueURI, a.continueToken, strings.ToLower(refA), 404, "invalid_continuation"},
			{"another grant's continuation token", alice, a.continueURI, b.continueToken, refA, 401, "invalid_continuation"},
			{"its token at another grant's continuation", alice, b.continueURI, a.continueToken, refA, 401, "invalid_continuation"},
			{"another client's signature", mallory, a.continueURI, a.continueToken, refA, 400, "invalid_client"},
			{"a signature by another key of the client's key id", forger, a.continueURI, a.continueToken, refA, 401, "invalid_client"},
			{"the interact_ref as continuation token", alice, a.continueURI, refA, refA, 401, "invalid_continuation"},
			{"a poll of a grant that sends the browser back", alice, a.continueURI, a.continueToken, "", 401, "request_denied"},
		} {
			before := as.lastSeq(t)
			r := as.continueWith(t, c.signer, c.uri, c.token, c.ref)
			if r.status != c.status || r.code() != c.code || r.body["access_token"] != nil {
				t.Errorf("%s: %s, want %d %s", c.name, r, c.status, c.code)
			}
			if after := as.lastSeq(t); after != before {
				t.Errorf("%s appended events %d to %d", c.name, before+1, after)
			}
		}
	})

	t.Run("refused revocations", func(t *testing.T) {
		before := as.lastSeq(t)
		for _, c := range []struct {
			name       string
			signer     *gnapClient
			uri, token string
		}{
			{"another grant's continuation token", alice, a.continueURI, b.continueToken},
			{"another client's signature", mallory, a.continueURI, a.continueToken},
			{"a signature by another key of the client's key id", forger, a.continueURI, a.continueToken},
			{"the interact_ref as continuation token", alice, a.continueURI, refA},
		} {
			if r := deliver(t, as.auth, c.signer.request(t, http.MethodDelete, c.uri, c.token, nil)); r.status < 400 || r.status >= 500 {
				t.Errorf("revoking with %s: %s, want a refusal", c.name, r)
			}
		}
		if after := as.lastSeq(t); after != before {
			t.Errorf("refused revocations appended events %d to %d", before+1, after)
		}
	})

	var tokA issued
	t.Run("the interact_ref gives one token, once", func(t *testing.T) {
		// Access asked for at continuation is not the client's to add:
		// the token carries what the resource owner consented to.
		body, _ := json.Marshal(map[string]any{"interact_ref": refA, "access_token": map[string]any{"access": []any{
			map[string]any{"type": "outgoing-payment", "actions": []string{"create", "read", "list-all", "read-all"}, "identifier": "http://wallet.test/alice"},
			map[string]any{"type": "incoming-payment", "actions": []string{"create", "read-all"}}}}})
		r := deliver(t, as.auth, alice.request(t, http.MethodPost, a.continueURI, a.continueToken, body))
		tokA = tokenOf(t, r)
		if len(tokA.access) != 1 || jsonStr(tokA.access[0].(map[string]any), "type") != "outgoing-payment" ||
			fmt.Sprint(tokA.access[0].(map[string]any)["actions"]) != "[create read]" {
			t.Errorf("issued access %v, want the consented outgoing-payment create/read only", tokA.access)
		}
		info := as.introspect(t, tokA.value, map[string]any{"type": "outgoing-payment", "actions": []string{"create"}, "identifier": "http://wallet.test/alice"})
		if info["active"] != true || fmt.Sprint(info["access"]) != fmt.Sprint(tokA.access) {
			t.Errorf("introspection of the issued token: %v", info)
		}
		again := as.continueWith(t, alice, a.continueURI, a.continueToken, refA)
		if again.status != http.StatusUnauthorized || again.code() != "request_denied" || again.body["access_token"] != nil {
			t.Errorf("the interact_ref a second time: %s, want 401 request_denied", again)
		}
		as.settle(t)
		var tokens int
		if err := as.sys.running.Deps.AuthPool.QueryRow(context.Background(),
			`SELECT count(*) FROM rm_grants.access_tokens WHERE grant_id = $1`, grantA).Scan(&tokens); err != nil || tokens != 1 {
			t.Errorf("grant %s holds %d tokens (%v), want 1", grantA, tokens, err)
		}
	})

	t.Run("continuation and access tokens are not each other", func(t *testing.T) {
		for _, tok := range []string{a.continueToken, refA, a.nonce} {
			if info := as.introspect(t, tok); info["active"] != false {
				t.Errorf("introspection of a continuation value %q: %v, want inactive", tok, info)
			}
		}
		if r := deliver(t, as.auth, alice.request(t, http.MethodDelete, a.continueURI, tokA.value, nil)); r.status != http.StatusUnauthorized {
			t.Errorf("revoking the grant with its access token: %s, want 401", r)
		}
		// Rotation and revocation of the access token need its value, not
		// the continuation token nor another grant's token.
		for name, value := range map[string]string{"the continuation token": a.continueToken, "a made-up value": "FORGED"} {
			for _, method := range []string{http.MethodPost, http.MethodDelete} {
				r := deliver(t, as.auth, alice.request(t, method, tokA.manage, value, nil))
				noServerError(t, method+" token with "+name, r)
				if r.status < 400 {
					t.Errorf("%s token with %s: %s, want a refusal", method, name, r)
				}
			}
		}
		// Another client's key is not among the grant's client's keys.
		if r := deliver(t, as.auth, mallory.request(t, http.MethodPost, tokA.manage, tokA.value, nil)); r.status != http.StatusBadRequest || r.code() != "invalid_client" {
			t.Errorf("rotation signed by another client: %s, want 400 invalid_client", r)
		}
		if info := as.introspect(t, tokA.value); info["active"] != true {
			t.Errorf("the token after refused rotations and revocations: %v, want active", info)
		}
	})

	t.Run("many continuations at once issue one token", func(t *testing.T) {
		c := as.interactive(t, alice, tn.id, finishURI)
		ref := as.consent(t, c, tn.idpSecret)
		const n = 16
		var wg sync.WaitGroup
		replies := make([]gnapReply, n)
		reqs := make([]*http.Request, n)
		for i := range reqs {
			body, _ := json.Marshal(map[string]string{"interact_ref": ref})
			reqs[i] = alice.request(t, http.MethodPost, c.continueURI, c.continueToken, body)
		}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replies[i] = deliver(t, as.auth, reqs[i])
			}()
		}
		wg.Wait()
		var tokens []string
		for _, r := range replies {
			noServerError(t, "a concurrent continuation", r)
			if v := jsonStr(r.body, "access_token", "value"); v != "" {
				tokens = append(tokens, v)
			} else if r.status != http.StatusUnauthorized || r.code() != "request_denied" {
				t.Errorf("a concurrent continuation that lost: %s, want 401 request_denied", r)
			}
		}
		if len(tokens) != 1 {
			t.Fatalf("%d concurrent continuations issued %d tokens, want 1", n, len(tokens))
		}

		// The one token, rotated by many at once, is rotated once.
		tok := tokenOf(t, replies[func() int {
			for i, r := range replies {
				if r.status == http.StatusOK {
					return i
				}
			}
			return 0
		}()])
		for i := range reqs {
			reqs[i] = alice.request(t, http.MethodPost, tok.manage, tok.value, nil)
		}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replies[i] = deliver(t, as.auth, reqs[i])
			}()
		}
		wg.Wait()
		var rotated []string
		for _, r := range replies {
			noServerError(t, "a concurrent rotation", r)
			if v := jsonStr(r.body, "access_token", "value"); r.status == http.StatusOK && v != "" {
				rotated = append(rotated, v)
			}
		}
		if len(rotated) != 1 {
			t.Fatalf("%d concurrent rotations of one token made %d tokens, want 1", n, len(rotated))
		}
		if as.introspect(t, tok.value)["active"] != false || as.introspect(t, rotated[0])["active"] != true {
			t.Errorf("after the rotation: the old token %v, the new one %v", as.introspect(t, tok.value), as.introspect(t, rotated[0]))
		}
	})

	t.Run("a revoked grant continues and rotates no more", func(t *testing.T) {
		if r := deliver(t, as.auth, alice.request(t, http.MethodDelete, a.continueURI, a.continueToken, nil)); r.status != http.StatusNoContent {
			t.Fatalf("revoke: %s", r)
		}
		if info := as.introspect(t, tokA.value); info["active"] != false {
			t.Errorf("the token of a revoked grant: %v, want inactive", info)
		}
		before := as.lastSeq(t)
		if r := as.continueWith(t, alice, a.continueURI, a.continueToken, refA); r.status != http.StatusNotFound || r.code() != "invalid_continuation" {
			t.Errorf("continuing a revoked grant: %s, want 404 invalid_continuation", r)
		}
		if r := as.continueWith(t, alice, a.continueURI, a.continueToken, ""); r.status < 400 || r.body["access_token"] != nil {
			t.Errorf("polling a revoked grant: %s, want a refusal", r)
		}
		for _, method := range []string{http.MethodPost, http.MethodDelete} {
			if r := deliver(t, as.auth, alice.request(t, method, tokA.manage, tokA.value, nil)); r.status != http.StatusUnauthorized || r.code() != "invalid_client" {
				t.Errorf("%s the token of a revoked grant: %s, want 401 invalid_client", method, r)
			}
		}
		if r := as.finish(t, a, ""); r.status < 400 {
			t.Errorf("finishing the interaction of a revoked grant without a session: %s", r)
		}
		if r := as.choose(t, a, "accept", tn.idpSecret); r.status != http.StatusUnauthorized || r.code() != "user_denied" {
			t.Errorf("accepting for a revoked grant: %s, want 401 user_denied", r)
		}
		if after := as.lastSeq(t); after != before {
			t.Errorf("refusals after the revocation appended events %d to %d", before+1, after)
		}
	})

	t.Run("a grant is pending until its interaction finished", func(t *testing.T) {
		p := as.interactive(t, alice, tn.id, "")
		f := as.interactive(t, alice, tn.id, finishURI)
		pRef, fRef := as.storedRef(t, tn.id, as.grantID(t, p, tn.idpSecret)), as.storedRef(t, tn.id, as.grantID(t, f, tn.idpSecret))
		var pCookie string
		for _, step := range []string{"before the consent", "after the identity provider accepted"} {
			r := as.continueWith(t, alice, p.continueURI, p.continueToken, "")
			if r.status != http.StatusOK || r.body["access_token"] != nil || jsonStr(r.body, "continue", "uri") != p.continueURI {
				t.Errorf("a poll %s: %s, want the continuation without a token", step, r)
			}
			// Even the right interact_ref, had the client guessed it, is
			// not a consent: the grant is approved by the browser's finish.
			for name, g := range map[string]struct {
				p   pendingGrant
				ref string
			}{"polled": {p, pRef}, "finishing": {f, fRef}} {
				if r := as.continueWith(t, alice, g.p.continueURI, g.p.continueToken, g.ref); r.status != http.StatusUnauthorized || r.code() != "request_denied" {
					t.Errorf("a %s grant continued with its interact_ref %s: %s, want 401 request_denied", name, step, r)
				}
			}
			if step == "before the consent" {
				var r gnapReply
				if r, pCookie = as.start(t, p); pCookie == "" {
					t.Fatalf("start: %s", r)
				}
				if r, _ := as.start(t, f); r.status != http.StatusFound {
					t.Fatalf("start: %s", r)
				}
				for _, g := range []pendingGrant{p, f} {
					if r := as.choose(t, g, "accept", tn.idpSecret); r.status != http.StatusAccepted {
						t.Fatalf("accept: %s", r)
					}
				}
			}
		}
		// The browser's finish approves it, and the next poll gets the token.
		if r := as.finish(t, p, pCookie); r.status != http.StatusAccepted {
			t.Errorf("finish without a finish uri: %s, want 202", r)
		}
		tokenOf(t, as.continueWith(t, alice, p.continueURI, p.continueToken, ""))
	})

	t.Run("finish uris that are not http(s) URLs are refused", func(t *testing.T) {
		for _, uri := range []string{
			"javascript:alert(document.cookie)", "JavaScript://client.test/%0aalert(1)", "data:text/html,<script>alert(1)</script>",
			"ftp://client.test/done", "file:///etc/passwd", "//client.test/done", "/done", "client.test/done", "https://",
			"https:///done", "https://client.test/done\r\nSet-Cookie: x=1", "https://client.test/done\nx", "https://client.test/\x00",
			"https://client.test/%zz", "https://client..test/done", "https://client.test/" + strings.Repeat("a", 2100), "",
		} {
			before := as.lastSeq(t)
			body, _ := json.Marshal(map[string]any{"access_token": map[string]any{"access": []any{outgoingAccessItem()}}, "client": alice.walletAddress,
				"interact": map[string]any{"start": []string{"redirect"}, "finish": map[string]any{"method": "redirect", "uri": uri, "nonce": "n"}}})
			r := as.grantRequest(t, alice, tn.id, body)
			if r.status != http.StatusBadRequest || r.code() != "invalid_request" {
				t.Errorf("finish uri %q: %s, want 400 invalid_request", uri, r)
			}
			if after := as.lastSeq(t); after != before {
				t.Errorf("finish uri %q appended events", uri)
			}
		}
	})

	t.Run("the browser goes back with the hash in the query", func(t *testing.T) {
		// A fragment, and the client's own hash and interact_ref in the
		// query, do not let anything but the server's values reach the
		// client's query.
		p := as.interactive(t, alice, tn.id, "https://client.test/done?hash=FORGED&interact_ref=FORGED&keep=1#interact_ref=FORGED")
		back, _ := as.consentReply(t, p, tn.idpSecret)
		q := back.location()
		ref := q.Query().Get("interact_ref")
		want := grant.FinishHash(p.clientNonce, p.nonce, ref, grant.GrantEndpoint(publicAuth, tn.id))
		if ref == "FORGED" || q.Query().Get("hash") != want || len(q.Query()["hash"]) != 1 || len(q.Query()["interact_ref"]) != 1 ||
			q.Query().Get("keep") != "1" || q.Host != "client.test" || q.Scheme != "https" {
			t.Errorf("finish redirect %s, want hash %s and interact_ref %s once", q, want, ref)
		}
		tokenOf(t, as.continueWith(t, alice, p.continueURI, p.continueToken, ref))
	})

	t.Run("a finish uri the grant request accepts can be finished", func(t *testing.T) {
		// What the grant request accepted as the client's URL must be
		// where the browser can be sent back to: refused at the request,
		// or followed at the finish, never a server error.
		for _, uri := range []string{" https://client.test/done", "https://client.test/done ", "\u00a0https://client.test/done", "https://client.test/a b"} {
			body, _ := json.Marshal(map[string]any{"access_token": map[string]any{"access": []any{outgoingAccessItem()}}, "client": alice.walletAddress,
				"interact": map[string]any{"start": []string{"redirect"}, "finish": map[string]any{"method": "redirect", "uri": uri, "nonce": "client-nonce"}}})
			r := as.grantRequest(t, alice, tn.id, body)
			noServerError(t, fmt.Sprintf("grant request with finish uri %q", uri), r)
			if r.status != http.StatusOK {
				continue
			}
			u, _ := url.Parse(jsonStr(r.body, "interact", "redirect"))
			parts := strings.Split(strings.TrimPrefix(u.Path, "/interact/"), "/")
			p := pendingGrant{tenantID: tn.id, client: alice, redirect: u.String(), interactID: parts[0], nonce: parts[1]}
			start, cookie := as.start(t, p)
			if start.status != http.StatusFound || cookie == "" {
				t.Errorf("finish uri %q: start %s", uri, start)
				continue
			}
			if a := as.choose(t, p, "accept", tn.idpSecret); a.status != http.StatusAccepted {
				t.Errorf("finish uri %q: accept %s", uri, a)
				continue
			}
			back := as.finish(t, p, cookie)
			noServerError(t, fmt.Sprintf("finish of a grant whose finish uri is %q", uri), back)
			if back.status == http.StatusFound && (back.location().Host != "client.test" || back.location().Query().Get("interact_ref") == "") {
				t.Errorf("finish uri %q: the browser is sent to %s", uri, back.header.Get("Location"))
			}
		}
	})
}

// The finish is the browser's that started the interaction: without its
// session, with another interaction's, with one tampered with, or naming
// another interaction's nonce, it is refused and changes nothing; a finish
// before the identity provider answered sends the client grant_invalid and
// leaves the grant to be answered; a second finish answers the first one's
// redirect and stores nothing.
func TestInteractionAgainstAHostileBrowser(t *testing.T) {
	as := startInteractiveAS(t)
	tn := as.newTenant(t)
	alice := newGNAPClient(t, "Alice's Shop")
	p1 := as.interactive(t, alice, tn.id, "https://client.test/one")
	p2 := as.interactive(t, alice, tn.id, "https://client.test/two")
	start1, cookie1 := as.start(t, p1)
	_, cookie2 := as.start(t, p2)
	if start1.status != http.StatusFound || cookie1 == "" || cookie2 == "" {
		t.Fatalf("start: %s", start1)
	}
	consent := start1.location()
	if consent.Host != "idp.test" || consent.Query().Get("tenant") != "x" || consent.Query().Get("interactId") != p1.interactID ||
		consent.Query().Get("nonce") != p1.nonce || consent.Query().Get("clientName") != "Alice's Shop" {
		t.Fatalf("consent redirect %s", consent)
	}

	value := strings.TrimPrefix(cookie1, "sessionId=")
	parts := strings.Split(value, ".")
	if len(parts) != 3 {
		t.Fatalf("session %q", value)
	}
	nonce, expires, mac := parts[0], parts[1], parts[2]
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	cookie2Parts := strings.Split(strings.TrimPrefix(cookie2, "sessionId="), ".")

	t.Run("finish without its own session", func(t *testing.T) {
		for name, cookie := range map[string]string{
			"no session":                        "",
			"another interaction's session":     cookie2,
			"a session with its MAC altered":    "sessionId=" + nonce + "." + expires + "." + flip(mac),
			"a session with a later expiry":     "sessionId=" + nonce + ".99999999999." + mac,
			"a session with an earlier expiry":  "sessionId=" + nonce + ".1." + mac,
			"the nonce with another's MAC":      "sessionId=" + nonce + "." + cookie2Parts[1] + "." + cookie2Parts[2],
			"a session without a MAC":           "sessionId=" + nonce + "." + expires + ".",
			"a session of the nonce alone":      "sessionId=" + nonce,
			"a session with more parts":         "sessionId=" + nonce + "." + expires + "." + mac + ".x",
			"a session with an expiry overflow": "sessionId=" + nonce + ".99999999999999999999999." + mac,
			"a session with a negative expiry":  "sessionId=" + nonce + ".-1." + mac,
			"a session under another name":      "session=" + value,
			"a session in lower case":           "sessionId=" + strings.ToLower(nonce) + "." + expires + "." + mac,
			"a very long session":               "sessionId=" + strings.Repeat("A", 6000) + "." + expires + "." + mac,
			"two sessions, another's first":     cookie2 + "; " + cookie1 + "x",
			"a session of invalid UTF-8 bytes":  "sessionId=\xff\xfe." + expires + "." + mac,
			"a session with a MAC of zeros":     "sessionId=" + nonce + "." + expires + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		} {
			before := as.lastSeq(t)
			r := as.finish(t, p1, cookie)
			if r.status != http.StatusUnauthorized || r.code() != "invalid_request" || r.header.Get("Location") != "" {
				t.Errorf("%s: %s, want 401 invalid_request", name, r)
			}
			if after := as.lastSeq(t); after != before {
				t.Errorf("%s appended events", name)
			}
		}
	})

	t.Run("another interaction's nonce", func(t *testing.T) {
		mixed := pendingGrant{interactID: p1.interactID, nonce: p2.nonce, redirect: publicAuth + "/interact/" + p1.interactID + "/" + p2.nonce}
		before := as.lastSeq(t)
		if r, cookie := as.start(t, mixed); r.status != http.StatusBadRequest || r.code() != "unknown_interaction" || cookie != "" {
			t.Errorf("start with another interaction's nonce: %s, want 400 unknown_interaction", r)
		}
		for _, cookie := range []string{cookie1, cookie2} {
			if r := as.finish(t, mixed, cookie); r.status != http.StatusNotFound || r.code() != "unknown_interaction" {
				t.Errorf("finish with another interaction's nonce: %s, want 404 unknown_interaction", r)
			}
		}
		if r := as.choose(t, mixed, "accept", tn.idpSecret); r.status != http.StatusNotFound || r.code() != "unknown_interaction" {
			t.Errorf("accept with another interaction's nonce: %s, want 404", r)
		}
		if r := as.details(t, mixed, tn.idpSecret); r.status != http.StatusNotFound || r.code() != "unknown_interaction" {
			t.Errorf("details with another interaction's nonce: %s, want 404", r)
		}
		if after := as.lastSeq(t); after != before {
			t.Errorf("another interaction's nonce appended events")
		}
	})

	t.Run("finish before the identity provider answered", func(t *testing.T) {
		before := as.lastSeq(t)
		r := as.finish(t, p1, cookie1)
		to := r.location()
		if r.status != http.StatusFound || to.Host != "client.test" || to.Query().Get("result") != "grant_invalid" ||
			to.Query().Get("interact_ref") != "" || to.Query().Get("hash") != "" {
			t.Errorf("finish of a pending interaction: %s, want a redirect with grant_invalid", r)
		}
		if after := as.lastSeq(t); after != before {
			t.Errorf("a finish of a pending interaction appended events")
		}
		if d := as.details(t, p1, tn.idpSecret); jsonStr(d.body, "state") != "PENDING" {
			t.Errorf("interaction after an early finish: %s", d)
		}
	})

	t.Run("finish twice", func(t *testing.T) {
		if r := as.choose(t, p1, "accept", tn.idpSecret); r.status != http.StatusAccepted {
			t.Fatalf("accept: %s", r)
		}
		first := as.finish(t, p1, cookie1)
		ref := first.location().Query().Get("interact_ref")
		want := grant.FinishHash(p1.clientNonce, p1.nonce, ref, grant.GrantEndpoint(publicAuth, tn.id))
		if first.status != http.StatusFound || ref == "" || first.location().Query().Get("hash") != want {
			t.Fatalf("finish: %s, want hash %s", first, want)
		}
		before := as.lastSeq(t)
		second := as.finish(t, p1, cookie1)
		if second.header.Get("Location") != first.header.Get("Location") {
			t.Errorf("second finish %s, first %s", second, first)
		}
		if after := as.lastSeq(t); after != before {
			t.Errorf("a second finish appended events")
		}
		// The answered interaction starts no more: the browser is sent
		// back to the client, with no new session.
		r, cookie := as.start(t, p1)
		if r.status != http.StatusFound || r.location().Host != "client.test" || r.location().Query().Get("result") != "invalid_interaction" || cookie != "" {
			t.Errorf("starting an answered interaction: %s (session %q)", r, cookie)
		}
		tokenOf(t, as.continueWith(t, alice, p1.continueURI, p1.continueToken, ref))
		// After the token is issued, the old finish changes nothing.
		third := as.finish(t, p1, cookie1)
		noServerError(t, "a finish after the token was issued", third)
		if r := as.continueWith(t, alice, p1.continueURI, p1.continueToken, ref); r.body["access_token"] != nil {
			t.Errorf("a continuation after a third finish issued a token: %s", r)
		}
	})

	t.Run("odd paths", func(t *testing.T) {
		long := strings.Repeat("A", 8000)
		paths := []string{
			"/interact/" + long + "/" + p2.nonce, "/interact/" + p2.interactID + "/" + long, "/interact/%00/%00", "/interact/%ff%fe/x",
			"/interact/" + strings.ToUpper(p2.interactID) + "/" + p2.nonce, "/interact/urn:uuid:" + p2.interactID + "/" + p2.nonce,
			"/interact/{" + p2.interactID + "}/" + p2.nonce, "/interact/" + strings.ReplaceAll(p2.interactID, "-", "") + "/" + p2.nonce,
			"/interact/" + p2.interactID + "/" + strings.ToLower(p2.nonce), "/interact/" + p2.interactID + "/%2e%2e", "/interact/../" + p2.nonce,
			"/interact/" + p2.interactID + "/" + p2.nonce + "%00", "/interact/" + p2.interactID + "/%E2%80%AE" + p2.nonce,
			"/interact/" + p2.interactID + "/" + p2.nonce + "?clientName=" + long,
		}
		before := as.lastSeq(t)
		for _, path := range paths {
			for _, suffix := range []string{"", "/finish"} {
				if strings.Contains(path, "?") && suffix != "" {
					continue
				}
				r := deliver(t, as.auth, rawRequest(t, http.MethodGet, publicAuth+path+suffix, http.Header{"Cookie": {cookie2}}, nil))
				noServerError(t, "GET "+path[:min(len(path), 80)]+suffix, r)
				if (r.status == http.StatusFound && suffix == "/finish") || (r.status == http.StatusFound && !strings.HasPrefix(path, "/interact/"+p2.interactID+"/"+p2.nonce)) {
					t.Errorf("GET %s%s: %s, want a refusal", path[:min(len(path), 80)], suffix, r)
				}
			}
			for _, choice := range []string{"", "/accept", "/reject"} {
				method := http.MethodPost
				if choice == "" {
					method = http.MethodGet
				}
				idpPath := strings.Replace(path, "/interact/", "/grant/", 1)
				r := deliver(t, as.idp, rawRequest(t, method, "http://idp.internal"+idpPath+choice, http.Header{"X-Idp-Secret": {tn.idpSecret}}, nil))
				noServerError(t, method+" "+idpPath[:min(len(idpPath), 80)]+choice, r)
				if r.status < 400 && !strings.HasPrefix(idpPath, "/grant/"+p2.interactID+"/"+p2.nonce+"?") {
					t.Errorf("%s %s%s: %s, want a refusal", method, idpPath[:min(len(idpPath), 80)], choice, r)
				}
			}
		}
		if after := as.lastSeq(t); after != before {
			t.Errorf("odd paths appended events %d to %d", before+1, after)
		}
		if d := as.details(t, p2, tn.idpSecret); jsonStr(d.body, "state") != "PENDING" {
			t.Errorf("interaction after odd paths: %s", d)
		}
	})
}

// The identity provider answers for its own tenant's resource owners only,
// once per interaction: another tenant's secret or the operator's is
// refused, an accept carries no access of its own, a second answer (the
// same or the other) is refused, and of accepts and rejects racing exactly
// one is recorded and decides the finish.
func TestInteractionAgainstAHostileIdentityProvider(t *testing.T) {
	as := startInteractiveAS(t)
	tn, other := as.newTenant(t), as.newTenant(t)
	alice := newGNAPClient(t, "Alice's Shop")

	t.Run("secrets that are not the tenant's", func(t *testing.T) {
		p := as.interactive(t, alice, tn.id, "https://client.test/done")
		before := as.lastSeq(t)
		for name, secret := range map[string]string{
			"another tenant's": other.idpSecret, "the operator's": as.operatorIDPSecret, "none": "",
			"its prefix": tn.idpSecret[:len(tn.idpSecret)-1], "it in upper case": strings.ToUpper(tn.idpSecret),
			"it with a character more": tn.idpSecret + "x", "a long one": strings.Repeat(tn.idpSecret, 2000), "non-ASCII": "sécret\xff",
			"the tenant's API secret": tn.apiSecret, "the interaction nonce": p.nonce,
		} {
			for _, choice := range []string{"accept", "reject"} {
				if r := as.choose(t, p, choice, secret); r.status != http.StatusUnauthorized || r.code() != "invalid_interaction" {
					t.Errorf("%s with %s secret: %s, want 401 invalid_interaction", choice, name, r)
				}
			}
			if r := as.details(t, p, secret); r.status != http.StatusUnauthorized || r.body["access"] != nil {
				t.Errorf("details with %s secret: %s, want 401", name, r)
			}
		}
		if after := as.lastSeq(t); after != before {
			t.Errorf("refused answers appended events %d to %d", before+1, after)
		}
		// Of the operator's grant, another tenant's identity provider
		// decides nothing either.
		op := as.interactive(t, alice, as.sys.operator.TenantID, "https://client.test/done")
		if r := as.choose(t, op, "accept", tn.idpSecret); r.status != http.StatusUnauthorized {
			t.Errorf("a tenant's identity provider accepting for the operator's grant: %s, want 401", r)
		}
		if r := as.choose(t, op, "accept", as.operatorIDPSecret); r.status != http.StatusAccepted {
			t.Errorf("the operator's identity provider: %s, want 202", r)
		}
	})

	t.Run("an accept carries no access of its own", func(t *testing.T) {
		p := as.interactive(t, alice, tn.id, "https://client.test/done")
		_, cookie := as.start(t, p)
		wider, _ := json.Marshal(map[string]any{"access": []any{
			map[string]any{"type": "outgoing-payment", "actions": []string{"create", "read", "list-all", "read-all"}, "identifier": "http://wallet.test/alice",
				"limits": map[string]any{"debitAmount": map[string]any{"value": "99999999", "assetCode": "USD", "assetScale": 2}}},
			map[string]any{"type": "incoming-payment", "actions": []string{"create", "read-all", "list-all"}}},
			"grantId": uuid.NewString(), "state": "APPROVED"})
		r := deliver(t, as.idp, rawRequest(t, http.MethodPost, "http://idp.internal"+p.idpPath()+"/accept?access=all&actions=list-all",
			http.Header{"X-Idp-Secret": {tn.idpSecret}, "Content-Type": {"application/json"}}, wider))
		if r.status != http.StatusAccepted {
			t.Fatalf("accept: %s", r)
		}
		d := as.details(t, p, tn.idpSecret)
		access, _ := d.body["access"].([]any)
		if jsonStr(d.body, "state") != "APPROVED" || len(access) != 1 || jsonStr(access[0].(map[string]any), "limits", "debitAmount", "value") != "500" {
			t.Errorf("details after an accept with a body: %s", d)
		}
		ref := as.finish(t, p, cookie).location().Query().Get("interact_ref")
		tok := tokenOf(t, as.continueWith(t, alice, p.continueURI, p.continueToken, ref))
		if len(tok.access) != 1 || fmt.Sprint(tok.access[0].(map[string]any)["actions"]) != "[create read]" ||
			jsonStr(tok.access[0].(map[string]any), "limits", "debitAmount", "value") != "500" {
			t.Errorf("issued access %v, want what was asked", tok.access)
		}
		for _, asked := range []map[string]any{
			{"type": "outgoing-payment", "actions": []string{"list-all"}, "identifier": "http://wallet.test/alice"},
			{"type": "incoming-payment", "actions": []string{"create"}},
		} {
			if info := as.introspect(t, tok.value, asked); info["active"] != true || len(info["access"].([]any)) != 0 {
				t.Errorf("introspection for %v: %v, want no access matched", asked, info)
			}
		}
	})

	t.Run("one answer per interaction", func(t *testing.T) {
		for _, c := range []struct{ first, second, state string }{
			{"accept", "reject", "APPROVED"}, {"reject", "accept", "DENIED"}, {"accept", "accept", "APPROVED"}, {"reject", "reject", "DENIED"},
		} {
			p := as.interactive(t, alice, tn.id, "https://client.test/done")
			_, cookie := as.start(t, p)
			if r := as.choose(t, p, c.first, tn.idpSecret); r.status != http.StatusAccepted {
				t.Fatalf("%s: %s", c.first, r)
			}
			before := as.lastSeq(t)
			want, code := http.StatusBadRequest, "invalid_interaction"
			if r := as.choose(t, p, c.second, tn.idpSecret); r.status != want || r.code() != code {
				t.Errorf("%s after %s: %s, want %d %s", c.second, c.first, r, want, code)
			}
			if after := as.lastSeq(t); after != before {
				t.Errorf("%s after %s appended events", c.second, c.first)
			}
			back := as.finish(t, p, cookie)
			if d := as.details(t, p, tn.idpSecret); jsonStr(d.body, "state") != c.state {
				t.Errorf("%s then %s: state %s, want %s", c.first, c.second, jsonStr(d.body, "state"), c.state)
			}
			if (c.state == "APPROVED") != (back.location().Query().Get("interact_ref") != "") ||
				(c.state == "DENIED") != (back.location().Query().Get("result") == "grant_rejected") {
				t.Errorf("%s then %s: finish %s", c.first, c.second, back)
			}
			// A rejected grant's interaction is not answered again, and
			// its client gets no token.
			if c.state == "DENIED" {
				if r := as.choose(t, p, "accept", tn.idpSecret); r.status != http.StatusUnauthorized || r.code() != "user_denied" {
					t.Errorf("accept after the rejection finished: %s, want 401 user_denied", r)
				}
				ref := as.storedRef(t, tn.id, as.grantID(t, p, tn.idpSecret))
				if r := as.continueWith(t, alice, p.continueURI, p.continueToken, ref); r.status != http.StatusNotFound || r.code() != "invalid_continuation" {
					t.Errorf("continuation of a rejected grant with its interact_ref: %s, want 404 invalid_continuation", r)
				}
			}
		}
	})

	t.Run("accepts and rejects racing", func(t *testing.T) {
		for round := range 3 {
			p := as.interactive(t, alice, tn.id, "https://client.test/done")
			_, cookie := as.start(t, p)
			const n = 24
			replies := make([]gnapReply, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					choice := "accept"
					if i%2 == 1 {
						choice = "reject"
					}
					replies[i] = as.choose(t, p, choice, tn.idpSecret)
				}()
			}
			wg.Wait()
			var winners []int
			for i, r := range replies {
				noServerError(t, "a racing answer", r)
				if r.status == http.StatusAccepted {
					winners = append(winners, i)
				} else if r.status != http.StatusBadRequest || r.code() != "invalid_interaction" {
					t.Errorf("round %d: a racing answer that lost: %s, want 400 invalid_interaction", round, r)
				}
			}
			if len(winners) != 1 {
				t.Fatalf("round %d: %d of %d racing answers were recorded, want 1", round, len(winners), n)
			}
			state := map[bool]string{true: "APPROVED", false: "DENIED"}[winners[0]%2 == 0]
			if d := as.details(t, p, tn.idpSecret); jsonStr(d.body, "state") != state {
				t.Errorf("round %d: the winner was %s, the interaction is %s", round, state, jsonStr(d.body, "state"))
			}
			back := as.finish(t, p, cookie)
			if got := back.location().Query().Get("interact_ref") != ""; got != (state == "APPROVED") {
				t.Errorf("round %d: winner %s, finish %s", round, state, back)
			}
		}
	})

	t.Run("the identity provider's API is not on the public port", func(t *testing.T) {
		p := as.interactive(t, alice, tn.id, "https://client.test/done")
		before := as.lastSeq(t)
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			for _, suffix := range []string{"", "/accept"} {
				r := deliver(t, as.auth, rawRequest(t, method, publicAuth+p.idpPath()+suffix, http.Header{"X-Idp-Secret": {tn.idpSecret}}, nil))
				if r.status < 400 || r.status >= 500 || r.body["access"] != nil {
					t.Errorf("%s %s on the public port: %s, want a refusal", method, p.idpPath()+suffix, r)
				}
			}
		}
		if after := as.lastSeq(t); after != before {
			t.Errorf("the public port appended events")
		}
	})

	t.Run("a rotated identity provider secret", func(t *testing.T) {
		p := as.interactive(t, alice, tn.id, "https://client.test/done")
		rotated := "idp-rotated-" + uuid.NewString()
		if err := as.sys.operator.Do(context.Background(), `mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id } } }`,
			map[string]any{"input": map[string]any{"id": tn.id, "idpSecret": rotated}}, nil); err != nil {
			t.Fatal(err)
		}
		if r := as.choose(t, p, "accept", tn.idpSecret); r.status != http.StatusUnauthorized {
			t.Errorf("accept with the secret rotated away: %s, want 401", r)
		}
		if r := as.choose(t, p, "accept", rotated); r.status != http.StatusAccepted {
			t.Errorf("accept with the new secret: %s, want 202", r)
		}
	})
}

// Past its expiry an interaction is over: the browser's start (as
// docs/ARCHITECTURE.md says: "the identity provider's choice and the
// browser's start and finish are refused past the interaction's expiry"),
// the identity provider's answer and the browser's finish are refused, and
// no token is issued.
func TestInteractionPastItsExpiry(t *testing.T) {
	as := startInteractiveAS(t, func(c *config.Config) { c.InteractionExpiry, c.Wait = 2*time.Second, time.Second })
	tn := as.newTenant(t)
	alice := newGNAPClient(t, "Alice's Shop")
	// Finished in time, and continued at once: within the wait.
	inTime := as.interactive(t, alice, tn.id, "https://client.test/done")
	inTimeRef := as.consent(t, inTime, tn.idpSecret)
	if r := as.continueWith(t, alice, inTime.continueURI, inTime.continueToken, inTimeRef); r.status != http.StatusBadRequest || r.code() != "too_fast" || r.body["access_token"] != nil {
		t.Errorf("a continuation within the wait: %s, want 400 too_fast", r)
	}
	notStarted := as.interactive(t, alice, tn.id, "https://client.test/done")
	notStartedPolled := as.interactive(t, alice, tn.id, "")
	started := as.interactive(t, alice, tn.id, "https://client.test/done")
	_, startedCookie := as.start(t, started)
	accepted := as.interactive(t, alice, tn.id, "https://client.test/done")
	_, acceptedCookie := as.start(t, accepted)
	if r := as.choose(t, accepted, "accept", tn.idpSecret); r.status != http.StatusAccepted || startedCookie == "" || acceptedCookie == "" {
		t.Fatalf("accept: %s", r)
	}
	// Until the worker has recorded the expiries, a second past them: what
	// follows sees interactions expired on every account, and no event
	// the worker appends falls between the checks' counts.
	as.settle(t)
	testkit.Eventually(t, 10*time.Second, func() bool {
		var expired int
		err := as.sys.running.Deps.AuthPool.QueryRow(context.Background(),
			`SELECT count(*) FROM rm_grants.interactions WHERE expired AND id = ANY($1)`,
			[]string{notStarted.interactID, notStartedPolled.interactID, started.interactID}).Scan(&expired)
		return err == nil && expired == 3
	}, "the unanswered interactions recorded expired")

	t.Run("accept and finish", func(t *testing.T) {
		before := as.lastSeq(t)
		if r := as.choose(t, started, "accept", tn.idpSecret); r.status != http.StatusBadRequest || r.code() != "invalid_interaction" {
			t.Errorf("accept past the expiry: %s, want 400 invalid_interaction", r)
		}
		for name, p := range map[string]pendingGrant{"unanswered": started, "accepted in time": accepted} {
			cookie := map[string]string{"unanswered": startedCookie, "accepted in time": acceptedCookie}[name]
			r := as.finish(t, p, cookie)
			to := r.location()
			if r.status != http.StatusFound || to.Query().Get("result") != "invalid_interaction" || to.Query().Get("interact_ref") != "" {
				t.Errorf("finish of an interaction %s, past its expiry: %s, want a redirect with invalid_interaction", name, r)
			}
		}
		if after := as.lastSeq(t); after != before {
			t.Errorf("refusals past the expiry appended events %d to %d", before+1, after)
		}
		if r := as.continueWith(t, alice, notStartedPolled.continueURI, notStartedPolled.continueToken, ""); r.body["access_token"] != nil {
			t.Errorf("a poll past the expiry issued a token: %s", r)
		}
		// A grant approved in time is continued after the interaction's
		// expiry (the interaction is over, not the grant), once.
		tokenOf(t, as.continueWith(t, alice, inTime.continueURI, inTime.continueToken, inTimeRef))
		if r := as.continueWith(t, alice, inTime.continueURI, inTime.continueToken, inTimeRef); r.body["access_token"] != nil {
			t.Errorf("a second continuation: %s", r)
		}
	})

	t.Run("start", func(t *testing.T) {
		for name, p := range map[string]pendingGrant{"with a finish uri": notStarted, "without one": notStartedPolled} {
			r, cookie := as.start(t, p)
			noServerError(t, "start past the expiry", r)
			if cookie != "" || r.location().Host == "idp.test" {
				t.Errorf("start %s past the interaction's expiry: %s, session %q; want it refused, not sent to the identity provider", name, r, cookie)
			}
		}
	})
}

// A tenant's interactive grants are its own in the auth admin API: another
// tenant neither reads nor revokes them, nor lists them; the tenant's
// revocation ends the interaction (the identity provider's answer, the
// browser's finish, the client's continuation); the operator sees every
// tenant's.
func TestInteractiveGrantsAcrossTenants(t *testing.T) {
	as := startInteractiveAS(t)
	ctx := context.Background()
	tnA, tnB := as.newTenant(t), as.newTenant(t)
	adminA, adminB := as.authAdmin(tnA), as.authAdmin(tnB)
	alice := newGNAPClient(t, "Alice's Shop")
	pending := as.interactive(t, alice, tnA.id, "https://client.test/done")
	_, cookie := as.start(t, pending)
	pendingID := as.grantID(t, pending, tnA.idpSecret)
	approved := as.interactive(t, alice, tnA.id, "https://client.test/done")
	tok := tokenOf(t, as.continueWith(t, alice, approved.continueURI, approved.continueToken, as.consent(t, approved, tnA.idpSecret)))
	approvedID := as.grantID(t, approved, tnA.idpSecret)
	as.settle(t)

	for _, id := range []string{pendingID, approvedID} {
		if _, err := getGrant(ctx, adminB, id); code(t, err) != "NOT_FOUND" {
			t.Errorf("another tenant reading grant %s: %v, want NOT_FOUND", id, err)
		}
		if _, err := revokeGrant(ctx, adminB, id); code(t, err) != "NOT_FOUND" {
			t.Errorf("another tenant revoking grant %s: %v, want NOT_FOUND", id, err)
		}
		for _, vars := range []map[string]any{nil, {"tenantId": tnA.id}, {"filter": map[string]any{"identifier": map[string]any{"in": []string{"http://wallet.test/alice"}}}}} {
			if got, err := listGrants(ctx, adminB, vars); err != nil || len(got.ids()) != 0 {
				t.Errorf("another tenant listing grants %v: %v %v, want none", vars, got.ids(), err)
			}
		}
	}
	if info := as.introspect(t, tok.value); info["active"] != true {
		t.Errorf("the token after another tenant's revocation: %v, want active", info)
	}
	if g, err := getGrant(ctx, as.authAdmin(ixTenant{id: as.sys.operator.TenantID, apiSecret: as.sys.operator.Secret}), pendingID); err != nil ||
		g.State != "PENDING" || g.TenantID != tnA.id {
		t.Errorf("the operator reading the pending grant: %+v %v", g, err)
	}

	// The tenant revokes its pending grant: the interaction ends with it.
	if id, err := revokeGrant(ctx, adminA, pendingID); err != nil || id != pendingID {
		t.Fatalf("revoke: %q %v", id, err)
	}
	before := as.lastSeq(t)
	if r := as.choose(t, pending, "accept", tnA.idpSecret); r.status != http.StatusUnauthorized || r.code() != "user_denied" {
		t.Errorf("accept after the revocation: %s, want 401 user_denied", r)
	}
	if r := as.details(t, pending, tnA.idpSecret); r.status != http.StatusNotFound {
		t.Errorf("details after the revocation: %s, want 404", r)
	}
	if r := as.finish(t, pending, cookie); r.location().Query().Get("interact_ref") != "" || r.location().Query().Get("result") != "unknown_interaction" {
		t.Errorf("finish after the revocation: %s, want a redirect with unknown_interaction", r)
	}
	if r, c := as.start(t, pending); c != "" || r.location().Host == "idp.test" {
		t.Errorf("start after the revocation: %s", r)
	}
	if r := as.continueWith(t, alice, pending.continueURI, pending.continueToken, ""); r.body["access_token"] != nil || r.status < 400 {
		t.Errorf("continuation after the revocation: %s", r)
	}
	if after := as.lastSeq(t); after != before {
		t.Errorf("refusals after the revocation appended events %d to %d", before+1, after)
	}
	// The issued grant, revoked by its tenant, lets its token in no more.
	if _, err := revokeGrant(ctx, adminA, approvedID); err != nil {
		t.Fatal(err)
	}
	if info := as.introspect(t, tok.value); info["active"] != false {
		t.Errorf("the token after its tenant's revocation: %v, want inactive", info)
	}
	if r := deliver(t, as.auth, alice.request(t, http.MethodPost, tok.manage, tok.value, nil)); r.status != http.StatusUnauthorized {
		t.Errorf("rotating the token of a revoked grant: %s, want 401", r)
	}
}

// Odd input to the grant request's interact, the continuation and the
// token endpoints is refused as the client's fault, never a server error,
// and the server answers the next request as before.
func TestInteractionEndpointsWithOddInput(t *testing.T) {
	as := startInteractiveAS(t)
	tn := as.newTenant(t)
	alice := newGNAPClient(t, "Alice's Shop")
	access := []any{outgoingAccessItem()}
	grantBody := func(interact any) []byte {
		b, _ := json.Marshal(map[string]any{"access_token": map[string]any{"access": access}, "client": alice.walletAddress, "interact": interact})
		return b
	}
	finish := func(f any) map[string]any { return map[string]any{"start": []string{"redirect"}, "finish": f} }
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	for name, body := range map[string][]byte{
		"interact a string":         grantBody("redirect"),
		"interact an array":         grantBody([]string{"redirect"}),
		"start a string":            grantBody(map[string]any{"start": "redirect"}),
		"start empty":               grantBody(map[string]any{"start": []string{}}),
		"start of many modes":       grantBody(map[string]any{"start": strings.Split(strings.Repeat("redirect,", 5000), ",")}),
		"start of another mode":     grantBody(map[string]any{"start": []string{"user_code"}}),
		"start of a null":           grantBody(map[string]any{"start": []any{nil}}),
		"finish a string":           grantBody(finish("https://client.test/done")),
		"finish without a method":   grantBody(finish(map[string]any{"uri": "https://client.test/done", "nonce": "n"})),
		"finish by push":            grantBody(finish(map[string]any{"method": "push", "uri": "https://client.test/done", "nonce": "n"})),
		"finish without a nonce":    grantBody(finish(map[string]any{"method": "redirect", "uri": "https://client.test/done"})),
		"finish nonce not ASCII":    grantBody(finish(map[string]any{"method": "redirect", "uri": "https://client.test/done", "nonce": "nönce"})),
		"finish nonce with a CRLF":  grantBody(finish(map[string]any{"method": "redirect", "uri": "https://client.test/done", "nonce": "a\r\nb"})),
		"finish nonce very long":    grantBody(finish(map[string]any{"method": "redirect", "uri": "https://client.test/done", "nonce": strings.Repeat("n", 10000)})),
		"finish nonce a number":     grantBody(finish(map[string]any{"method": "redirect", "uri": "https://client.test/done", "nonce": 12})),
		"finish uri an object":      grantBody(finish(map[string]any{"method": "redirect", "uri": map[string]any{"href": "x"}, "nonce": "n"})),
		"a body too large":          []byte(`{"pad":"` + strings.Repeat("x", 70<<10) + `"}`),
		"a body nested deep":        []byte(deep),
		"a body of two values":      append(grantBody(map[string]any{"start": []string{"redirect"}}), []byte(`{"client":"x"}`)...),
		"a body of invalid UTF-8":   []byte("{\"client\":\"\xff\xfe\"}"),
		"a body that is null":       []byte("null"),
		"a client of a huge string": []byte(`{"client":"` + strings.Repeat("a", 60000) + `"}`),
	} {
		r := as.grantRequest(t, alice, tn.id, body)
		noServerError(t, "grant request with "+name, r)
		if r.status < 400 {
			t.Errorf("grant request with %s: %s, want a refusal", name, r)
		}
	}

	p := as.interactive(t, alice, tn.id, "https://client.test/done")
	ref := as.consent(t, p, tn.idpSecret)
	before := as.lastSeq(t)
	for name, body := range map[string]string{
		"interact_ref a number":    `{"interact_ref":12}`,
		"interact_ref an object":   `{"interact_ref":{"ref":"` + ref + `"}}`,
		"interact_ref an array":    `{"interact_ref":["` + ref + `"]}`,
		"interact_ref null":        `{"interact_ref":null}`,
		"interact_ref not ASCII":   `{"interact_ref":"` + ref + `é"}`,
		"interact_ref with a NUL":  `{"interact_ref":"` + ref + `\u0000"}`,
		"interact_ref very long":   `{"interact_ref":"` + strings.Repeat("A", 60000) + `"}`,
		"interact_ref twice":       `{"interact_ref":"FORGED","interact_ref":"` + ref + `x"}`,
		"a body that is an array":  `["` + ref + `"]`,
		"a body that is a string":  `"` + ref + `"`,
		"a body that is not JSON":  `interact_ref=` + ref,
		"a body too large":         `{"interact_ref":"` + strings.Repeat("A", 70<<10) + `"}`,
		"a body nested deep":       deep,
		"a body of invalid UTF-8":  "{\"interact_ref\":\"\xff\"}",
		"another field only":       `{"access_token":{"access":[]}}`,
		"the ref's field misnamed": `{"interactRef":"` + ref + `"}`,
	} {
		r := deliver(t, as.auth, alice.request(t, http.MethodPost, p.continueURI, p.continueToken, []byte(body)))
		noServerError(t, "continuation with "+name, r)
		if r.status < 400 || r.body["access_token"] != nil {
			t.Errorf("continuation with %s: %s, want a refusal", name, r)
		}
	}
	long := strings.Repeat("A", 8000)
	for name, req := range map[string]*http.Request{
		"a continuation token very long":     alice.request(t, http.MethodPost, p.continueURI, long, nil),
		"a continuation token not ASCII":     alice.request(t, http.MethodPost, p.continueURI, "tökén", nil),
		"a continuation id very long":        alice.request(t, http.MethodPost, publicAuth+"/continue/"+long, p.continueToken, nil),
		"a continuation id with a NUL":       alice.request(t, http.MethodPost, publicAuth+"/continue/%00", p.continueToken, nil),
		"a continuation id in upper case":    alice.request(t, http.MethodPost, strings.ToUpper(p.continueURI[:len(publicAuth)+10])+p.continueURI[len(publicAuth)+10:], p.continueToken, nil),
		"a continuation id as a URN":         alice.request(t, http.MethodPost, publicAuth+"/continue/urn:uuid:"+strings.TrimPrefix(p.continueURI, publicAuth+"/continue/"), p.continueToken, nil),
		"a token id very long":               alice.request(t, http.MethodPost, publicAuth+"/token/"+long, p.continueToken, nil),
		"a token id of invalid UTF-8":        alice.request(t, http.MethodDelete, publicAuth+"/token/%ff%fe", p.continueToken, nil),
		"a revocation with an odd id":        alice.request(t, http.MethodDelete, publicAuth+"/continue/%2e%2e", p.continueToken, nil),
		"an unsigned continuation":           (*gnapClient)(nil).request(t, http.MethodPost, p.continueURI, p.continueToken, nil),
		"a Signature-Input of garbage":       withHeader(alice.request(t, http.MethodPost, p.continueURI, p.continueToken, nil), "Signature-Input", "sig1=("+long),
		"a Signature of garbage":             withHeader(alice.request(t, http.MethodPost, p.continueURI, p.continueToken, nil), "Signature", "sig1=:"+long+":"),
		"an Authorization without a token":   withHeader(alice.request(t, http.MethodPost, p.continueURI, "", nil), "Authorization", "GNAP "),
		"an Authorization of another scheme": withHeader(alice.request(t, http.MethodPost, p.continueURI, "", nil), "Authorization", "Bearer "+p.continueToken),
	} {
		r := deliver(t, as.auth, req)
		noServerError(t, name, r)
		if r.status < 400 {
			t.Errorf("%s: %s, want a refusal", name, r)
		}
	}
	if after := as.lastSeq(t); after != before {
		t.Errorf("odd continuations appended events %d to %d", before+1, after)
	}
	tokenOf(t, as.continueWith(t, alice, p.continueURI, p.continueToken, ref))
}

func withHeader(req *http.Request, key, value string) *http.Request {
	req.Header.Set(key, value)
	return req
}

// A deleted tenant's pending interaction is over: the browser's start and
// the identity provider's reads and answers are refused as an unknown
// interaction, not answered as a server failure (which anyone holding the
// link could provoke, and which reports an error at every try).
func TestInteractionOfADeletedTenant(t *testing.T) {
	as := startInteractiveAS(t)
	tn := as.newTenant(t)
	alice := newGNAPClient(t, "Alice's Shop")
	polled := as.interactive(t, alice, tn.id, "")
	finishing := as.interactive(t, alice, tn.id, "https://client.test/done")
	_, cookie := as.start(t, polled)
	if err := as.sys.operator.Do(context.Background(), `mutation($id: String!) { deleteTenant(id: $id) { success } }`, map[string]any{"id": tn.id}, nil); err != nil {
		t.Fatal(err)
	}
	if r := as.grantRequest(t, alice, tn.id, []byte(`{"access_token":{"access":[{"type":"incoming-payment","actions":["create"]}]},"client":"`+alice.walletAddress+`"}`)); r.status != http.StatusNotFound {
		t.Errorf("grant request to the deleted tenant: %s, want 404", r)
	}
	before := as.lastSeq(t)
	for _, p := range []pendingGrant{polled, finishing} {
		r, c := as.start(t, p)
		noServerError(t, "start of a deleted tenant's interaction", r)
		if c != "" || r.location().Host == "idp.test" {
			t.Errorf("start of a deleted tenant's interaction: %s", r)
		}
		d := as.details(t, p, tn.idpSecret)
		noServerError(t, "details of a deleted tenant's interaction", d)
		if d.body["access"] != nil {
			t.Errorf("details of a deleted tenant's interaction: %s", d)
		}
		if r := as.choose(t, p, "accept", tn.idpSecret); r.status != http.StatusNotFound || r.code() != "unknown_interaction" {
			t.Errorf("accept for a deleted tenant: %s, want 404 unknown_interaction", r)
		}
	}
	if r := as.finish(t, polled, cookie); r.status < 400 {
		t.Errorf("finish for a deleted tenant: %s", r)
	}
	if after := as.lastSeq(t); after != before {
		t.Errorf("a deleted tenant's interactions appended events %d to %d", before+1, after)
	}
}

// A client's public name is shown to the resource owner through the
// identity provider's URL: whatever its wallet address says, it stays a
// query value there, and adds no header to the answers.
func TestInteractionWithAHostileClientName(t *testing.T) {
	as := startInteractiveAS(t)
	tn := as.newTenant(t)
	for _, name := range []string{
		"Alice\r\nSet-Cookie: sessionId=forged\r\nX-Injected: 1", "<script>alert(document.cookie)</script>", "\"&interactId=forged&nonce=forged",
		"Ａｌｉｃｅ\u202e\u0000", strings.Repeat("Long Name ", 1000),
	} {
		c := newGNAPClient(t, name)
		p := as.interactive(t, c, tn.id, "https://client.test/done")
		r, cookie := as.start(t, p)
		noServerError(t, "start", r)
		q := r.location().Query()
		if r.status != http.StatusFound || cookie == "" || r.header.Get("X-Injected") != "" || len(r.header.Values("Set-Cookie")) != 1 ||
			q.Get("clientName") != name || q.Get("interactId") != p.interactID || q.Get("nonce") != p.nonce || len(q["interactId"]) != 1 {
			t.Errorf("client named %.40q: start %s", name, r)
		}
	}
}

// The interaction's redirect URL goes through the client, which may change
// its query before the browser follows it: the consent page is told the
// grant's client, by the name its wallet address publishes, not what the
// URL says. Rafiki passes the URL's clientName and clientUri on, so a
// client could present itself to the resource owner as another.
func TestConsentPageShowsTheGrantsClient(t *testing.T) {
	as := startInteractiveAS(t)
	tn := as.newTenant(t)
	c := newGNAPClient(t, "Evil Corp")
	p := as.interactive(t, c, tn.id, "https://client.test/done")
	u, err := url.Parse(p.redirect)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("clientName") != "Evil Corp" || q.Get("clientUri") != c.walletAddress {
		t.Fatalf("redirect %s names another client", p.redirect)
	}
	for _, query := range []url.Values{
		{"clientName": {"Your Bank"}, "clientUri": {"https://bank.example/alice"}},
		{"clientName": {"Your Bank", "Evil Corp"}},
		{},
	} {
		u.RawQuery = query.Encode()
		forged := p
		forged.redirect = u.String()
		r, _ := as.start(t, forged)
		shown := r.location().Query()
		if r.status != http.StatusFound || shown.Get("clientName") != "Evil Corp" || shown.Get("clientUri") != c.walletAddress {
			t.Errorf("redirect with query %q: the consent page is told %q (%s), not the grant's client: %s",
				query.Encode(), shown.Get("clientName"), shown.Get("clientUri"), r)
		}
	}
}
