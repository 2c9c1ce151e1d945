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
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/httpsig"
)

// startResourceServer runs the backend, the auth service and the workers
// in process, the resource server introspecting tokens at the auth
// service, and reaching clients' keys over http (USE_HTTP).
func startResourceServer(t *testing.T) *system {
	t.Helper()
	// The introspection listener's port is known only once started: the
	// resource server asks a proxy to it.
	var introspection atomic.Pointer[httputil.ReverseProxy]
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		introspection.Load().ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	s := startServices(t, app.Set{Backend: true, Auth: true, Worker: true}, false, func(c *config.Config) {
		c.UseHTTP, c.AuthServerURL, c.AuthServerIntrospectionURL = true, "http://auth.test", proxy.URL+"/"
		c.CookieKey, c.InteractionExpiry, c.AccessTokenExpiry = "cookie-key-of-the-tests", 10*time.Minute, 10*time.Minute
	})
	target, err := s.running.URL(app.IntrospectionListener)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	introspection.Store(httputil.NewSingleHostReverseProxy(u))
	return s
}

// opClient is an Open Payments client: a wallet address, served locally,
// publishing the key it signs with.
type opClient struct {
	walletAddress string
	key           ed25519.PrivateKey
	keyID         string
	signed        map[string]int64 // a request's last created, by its method, URL, token and body
}

// sign signs req; the same request twice is signed in different seconds,
// since a signature is accepted once and Ed25519 signs the same base alike.
func (c *opClient) sign(req *http.Request, body []byte) error {
	request := req.Method + " " + req.URL.String() + " " + req.Header.Get("Authorization") + " " + string(body)
	now := time.Now()
	if c.signed[request] == now.Unix() {
		time.Sleep(now.Truncate(time.Second).Add(time.Second).Sub(now))
		now = time.Now()
	}
	c.signed[request] = now.Unix()
	return httpsig.Sign(req, body, c.key, c.keyID, now)
}

func newOPClient(t *testing.T) *opClient {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &opClient{key: priv, keyID: "client-key", signed: map[string]int64{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/client/jwks.json" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []httpsig.JWK{{KID: c.keyID, Alg: "EdDSA", Kty: "OKP", Crv: "Ed25519",
			X: base64.RawURLEncoding.EncodeToString(pub)}}})
	}))
	t.Cleanup(srv.Close)
	c.walletAddress = srv.URL + "/client"
	return c
}

// opRequest is an unsigned Open Payments request: its GNAP token when there
// is one, a JSON Content-Type when it has a body.
func opRequest(t *testing.T, method, publicURL, token string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, publicURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "GNAP "+token)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// send makes a request to publicURL, signed by c unless c is nil, at the
// listener at listenerURL with publicURL's host, and returns the answer and
// the request's headers.
func send(t *testing.T, c *opClient, listenerURL, method, publicURL, token string, body []byte) (int, http.Header, []byte, http.Header) {
	t.Helper()
	req := opRequest(t, method, publicURL, token, body)
	if c != nil {
		if err := c.sign(req, body); err != nil {
			t.Fatal(err)
		}
	}
	listener, err := url.Parse(listenerURL)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Scheme, req.URL.Host = listener.Scheme, listener.Host
	sent := req.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, answer, sent
}

// grant asks the auth service for a non-interactive grant of access to c
// and returns its access token.
func (s *system) grant(t *testing.T, c *opClient, tenantID string, access ...map[string]any) string {
	t.Helper()
	return s.grantAs(t, c, c.walletAddress, tenantID, access...)
}

// grantAs asks tenantID's authorization server for access without
// interaction as client (a wallet address, or {"jwk": …} for a client known
// by its key alone), signed by c, and answers the token.
func (s *system) grantAs(t *testing.T, c *opClient, client any, tenantID string, access ...map[string]any) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{"access_token": map[string]any{"access": access}, "client": client})
	if err != nil {
		t.Fatal(err)
	}
	listener, err := s.running.URL(app.AuthListener)
	if err != nil {
		t.Fatal(err)
	}
	status, _, answer, _ := send(t, c, listener, http.MethodPost, "http://auth.test/"+tenantID, "", body)
	var out struct {
		AccessToken struct{ Value string } `json:"access_token"`
	}
	if status != http.StatusOK || json.Unmarshal(answer, &out) != nil || out.AccessToken.Value == "" {
		t.Fatalf("grant of %v: %d %s", access, status, answer)
	}
	return out.AccessToken.Value
}

// opCall is a request to the resource server and the answer expected.
type opCall struct {
	name     string
	client   *opClient // signs the request; nil: unsigned
	token    string
	method   string
	path     string // below http://wallet.test/<tenant id>
	body     string
	specPath string // the operation's path in resource-server.yaml
	status   int
}

// Every incoming payment route of the resource server, each answer checked
// against the operation of the Open Payments spec (resource-server.yaml of
// @interledger/open-payments) with an OpenAPI validator: status, Content-Type
// and body, error answers included.
func TestIncomingPaymentRoutesMatchTheSpec(t *testing.T) {
	s := startResourceServer(t)
	spec := openPaymentsSpec(t, "resource-server.yaml")
	ctx := context.Background()
	tenant := s.operator.TenantID
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	jpy, err := createAsset(ctx, s.operator, "JPY", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for address, asset := range map[string]string{"spec-alice": usd.ID, "spec-bob": usd.ID, "spec-carol": jpy.ID} {
		if _, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": asset, "address": address}); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob, carol := "http://wallet.test/spec-alice", "http://wallet.test/spec-bob", "http://wallet.test/spec-carol"
	client, stranger := newOPClient(t), newOPClient(t)
	all := s.grant(t, client, tenant, map[string]any{"type": "incoming-payment", "actions": []string{"create", "read", "list", "complete"}, "identifier": alice})
	createOnly := s.grant(t, client, tenant, map[string]any{"type": "incoming-payment", "actions": []string{"create"}, "identifier": alice})
	onBob := s.grant(t, client, tenant, map[string]any{"type": "incoming-payment", "actions": []string{"create", "read", "list", "complete"}, "identifier": bob})
	strangers := s.grant(t, stranger, tenant, map[string]any{"type": "incoming-payment", "actions": []string{"read", "list"}, "identifier": alice})
	onCarol := s.grant(t, client, tenant, map[string]any{"type": "incoming-payment", "actions": []string{"create"}, "identifier": carol})
	nobody := s.grant(t, client, tenant, map[string]any{"type": "incoming-payment", "actions": []string{"list"}, "identifier": "http://wallet.test/spec-nobody"})

	// Requests the spec admits that the payment or the pagination refuses;
	// the validator reads a body's first JSON value and no further.
	refusedBeyondTheSpec := map[string]bool{"create with an amount in another asset": true, "create with a zero amount": true,
		"create expired": true, "list last 1 without a cursor": true, "list from a cursor not an id": true, "list first and last": true,
		"create with text after the JSON": true}
	answers := map[string]json.RawMessage{} // each call's body, by name
	answer := specCaller(t, s, spec, tenant, refusedBeyondTheSpec, answers)
	call := func(c opCall) map[string]any {
		t.Helper()
		return answer(c, false)
	}
	create := func(name, body string) map[string]any {
		t.Helper()
		return call(opCall{name: name, client: client, token: all, method: http.MethodPost, path: "/incoming-payments", body: body,
			specPath: "/incoming-payments", status: http.StatusCreated})
	}

	plain := create("create", `{"walletAddress":"`+alice+`"}`)
	methods, _ := plain["methods"].([]any)
	if plain["walletAddress"] != alice || plain["completed"] != false || plain["incomingAmount"] != nil || plain["metadata"] != nil ||
		plain["expiresAt"] == nil || len(methods) != 1 || !strings.HasPrefix(plain["id"].(string), "http://wallet.test/"+tenant+"/incoming-payments/") {
		t.Fatalf("created %v", plain)
	}
	expiresAt := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
	full := create("create with incomingAmount, expiresAt and metadata", `{"walletAddress":"`+alice+`","incomingAmount":{"value":"500","assetCode":"USD","assetScale":2},
		"expiresAt":"`+expiresAt+`","metadata":{"externalRef":"INV-1","lines":[1,"two"]}}`)
	if full["expiresAt"] != expiresAt || fmt.Sprint(full["incomingAmount"]) != "map[assetCode:USD assetScale:2 value:500]" ||
		fmt.Sprint(full["metadata"]) != "map[externalRef:INV-1 lines:[1 two]]" {
		t.Fatalf("created %v", full)
	}
	create("create with incomingAmount", `{"walletAddress":"`+alice+`","incomingAmount":{"value":"7","assetCode":"USD","assetScale":2}}`)
	create("create with metadata", `{"walletAddress":"`+alice+`","metadata":{"description":"Thanks"}}`)
	// The spec's amount admits fields besides its own.
	create("create with an amount with another field", `{"walletAddress":"`+alice+`","incomingAmount":{"value":"7","assetCode":"USD","assetScale":2,"note":"x"}}`)
	paymentPath := func(p map[string]any) string {
		return strings.TrimPrefix(p["id"].(string), "http://wallet.test/"+tenant)
	}
	unknown := "/incoming-payments/00000000-0000-4000-8000-000000000000"
	list := "/incoming-payments?wallet-address=" + url.QueryEscape(alice)

	for _, c := range []opCall{
		{"create without a token", client, "", http.MethodPost, "/incoming-payments", `{"walletAddress":"` + alice + `"}`, "/incoming-payments", http.StatusUnauthorized},
		{"create unsigned", nil, all, http.MethodPost, "/incoming-payments", `{"walletAddress":"` + alice + `"}`, "/incoming-payments", http.StatusBadRequest},
		{"create unsigned without a token", nil, "", http.MethodPost, "/incoming-payments", `{"walletAddress":"` + alice + `"}`, "/incoming-payments", http.StatusBadRequest},
		{"create with an unknown token", client, "not-a-token", http.MethodPost, "/incoming-payments", `{"walletAddress":"` + alice + `"}`, "/incoming-payments", http.StatusForbidden},
		{"create on a wallet address not granted", client, onBob, http.MethodPost, "/incoming-payments", `{"walletAddress":"` + alice + `"}`, "/incoming-payments", http.StatusForbidden},
		{"create without a wallet address", client, all, http.MethodPost, "/incoming-payments", `{}`, "/incoming-payments", http.StatusBadRequest},
		{"create with an unknown field", client, all, http.MethodPost, "/incoming-payments", `{"walletAddress":"` + alice + `","completed":true}`, "/incoming-payments", http.StatusBadRequest},
		{"create with text after the JSON", client, all, http.MethodPost, "/incoming-payments", `{"walletAddress":"` + alice + `"}{"junk`, "/incoming-payments", http.StatusBadRequest},
		{"create with an amount in another asset", client, all, http.MethodPost, "/incoming-payments",
			`{"walletAddress":"` + alice + `","incomingAmount":{"value":"1","assetCode":"EUR","assetScale":2}}`, "/incoming-payments", http.StatusBadRequest},
		{"create with metadata not an object", client, all, http.MethodPost, "/incoming-payments", `{"walletAddress":"` + alice + `","metadata":["INV-1"]}`, "/incoming-payments", http.StatusBadRequest},
		{"create with an amount not a number", client, all, http.MethodPost, "/incoming-payments",
			`{"walletAddress":"` + alice + `","incomingAmount":{"value":"ten","assetCode":"USD","assetScale":2}}`, "/incoming-payments", http.StatusBadRequest},
		{"create with a zero amount", client, all, http.MethodPost, "/incoming-payments",
			`{"walletAddress":"` + alice + `","incomingAmount":{"value":"0","assetCode":"USD","assetScale":2}}`, "/incoming-payments", http.StatusBadRequest},
		{"create with an amount without assetScale", client, onCarol, http.MethodPost, "/incoming-payments",
			`{"walletAddress":"` + carol + `","incomingAmount":{"value":"1","assetCode":"JPY"}}`, "/incoming-payments", http.StatusBadRequest},
		{"create expired", client, all, http.MethodPost, "/incoming-payments", `{"walletAddress":"` + alice + `","expiresAt":"2020-01-01T00:00:00Z"}`, "/incoming-payments", http.StatusBadRequest},

		{"list", client, all, http.MethodGet, list, "", "/incoming-payments", http.StatusOK},
		{"list first 2", client, all, http.MethodGet, list + "&first=2", "", "/incoming-payments", http.StatusOK},
		{"list another client's payments", stranger, strangers, http.MethodGet, list, "", "/incoming-payments", http.StatusOK},
		{"list without a token", client, "", http.MethodGet, list, "", "/incoming-payments", http.StatusUnauthorized},
		{"list unsigned", nil, all, http.MethodGet, list, "", "/incoming-payments", http.StatusBadRequest},
		{"list with a token for another wallet address", client, onBob, http.MethodGet, list, "", "/incoming-payments", http.StatusForbidden},
		{"list without a wallet address", client, all, http.MethodGet, "/incoming-payments", "", "/incoming-payments", http.StatusBadRequest},
		{"list first 0", client, all, http.MethodGet, list + "&first=0", "", "/incoming-payments", http.StatusBadRequest},
		{"list last 1 without a cursor", client, all, http.MethodGet, list + "&last=1", "", "/incoming-payments", http.StatusBadRequest},
		{"list from a cursor not an id", client, all, http.MethodGet, list + "&first=1&cursor=nonsense", "", "/incoming-payments", http.StatusBadRequest},
		{"list from an unknown cursor", client, all, http.MethodGet, list + "&first=1&cursor=00000000-0000-4000-8000-000000000000", "", "/incoming-payments", http.StatusOK},
		{"list from an empty cursor", client, all, http.MethodGet, list + "&first=1&cursor=", "", "/incoming-payments", http.StatusBadRequest},
		{"list first empty", client, all, http.MethodGet, list + "&first=", "", "/incoming-payments", http.StatusBadRequest},
		{"list first not a number", client, all, http.MethodGet, list + "&first=x", "", "/incoming-payments", http.StatusBadRequest},
		{"list first and last", client, all, http.MethodGet, list + "&first=1&last=1", "", "/incoming-payments", http.StatusBadRequest},
		{"list an unknown wallet address", client, nobody, http.MethodGet, "/incoming-payments?wallet-address=" + url.QueryEscape("http://wallet.test/spec-nobody"), "",
			"/incoming-payments", http.StatusNotFound},

		{"get", client, all, http.MethodGet, paymentPath(full), "", "/incoming-payments/{id}", http.StatusOK},
		{"get the public view", nil, "", http.MethodGet, paymentPath(full), "", "/incoming-payments/{id}", http.StatusOK},
		{"get unknown", client, all, http.MethodGet, unknown, "", "/incoming-payments/{id}", http.StatusNotFound},
		{"get the public view of an unknown payment", nil, "", http.MethodGet, unknown, "", "/incoming-payments/{id}", http.StatusNotFound},
		{"get without the read action", client, createOnly, http.MethodGet, paymentPath(full), "", "/incoming-payments/{id}", http.StatusForbidden},
		{"get another client's payment", stranger, strangers, http.MethodGet, paymentPath(full), "", "/incoming-payments/{id}", http.StatusNotFound},
		{"get unsigned", nil, all, http.MethodGet, paymentPath(full), "", "/incoming-payments/{id}", http.StatusUnauthorized},

		{"complete without a token", client, "", http.MethodPost, paymentPath(full) + "/complete", "", "/incoming-payments/{id}/complete", http.StatusUnauthorized},
		{"complete with a token for another wallet address", client, onBob, http.MethodPost, paymentPath(full) + "/complete", "", "/incoming-payments/{id}/complete", http.StatusForbidden},
		{"complete unsigned", nil, all, http.MethodPost, paymentPath(full) + "/complete", "", "/incoming-payments/{id}/complete", http.StatusBadRequest},
		{"complete unknown unsigned", nil, all, http.MethodPost, unknown + "/complete", "", "/incoming-payments/{id}/complete", http.StatusBadRequest},
		{"complete unknown", client, all, http.MethodPost, unknown + "/complete", "", "/incoming-payments/{id}/complete", http.StatusNotFound},
		{"complete", client, all, http.MethodPost, paymentPath(full) + "/complete", "", "/incoming-payments/{id}/complete", http.StatusOK},
		{"get completed", client, all, http.MethodGet, paymentPath(full), "", "/incoming-payments/{id}", http.StatusOK},
	} {
		call(c)
	}
	// Rafiki's answer to a payment in the wrong state (its errorToHTTPCode),
	// a status the spec has no response for.
	answer(opCall{"complete again", client, all, http.MethodPost, paymentPath(full) + "/complete", "", "/incoming-payments/{id}/complete", http.StatusConflict}, true)

	// Pages: forwards from the first page's end, backwards from the
	// second's start.
	var page struct {
		Pagination struct {
			StartCursor, EndCursor       string
			HasNextPage, HasPreviousPage bool
		}
		Result []struct{ ID string }
	}
	pageOf := func(name string) {
		t.Helper()
		page.Pagination.StartCursor, page.Pagination.EndCursor, page.Result = "", "", nil
		if err := json.Unmarshal(answers[name], &page); err != nil {
			t.Fatal(err)
		}
	}
	pageOf("list")
	if len(page.Result) != 5 || page.Pagination.HasNextPage || page.Pagination.HasPreviousPage || page.Result[4].ID != plain["id"] {
		t.Fatalf("list: %s", answers["list"])
	}
	pageOf("list first 2")
	if len(page.Result) != 2 || !page.Pagination.HasNextPage {
		t.Fatalf("first 2: %s", answers["list first 2"])
	}
	call(opCall{name: "list the next page", client: client, token: all, method: http.MethodGet, path: list + "&first=2&cursor=" + page.Pagination.EndCursor,
		specPath: "/incoming-payments", status: http.StatusOK})
	pageOf("list the next page")
	if len(page.Result) != 2 || page.Result[1].ID != full["id"] || !page.Pagination.HasPreviousPage || !page.Pagination.HasNextPage {
		t.Fatalf("next page: %s", answers["list the next page"])
	}
	call(opCall{name: "list the previous page", client: client, token: all, method: http.MethodGet, path: list + "&last=1&cursor=" + page.Pagination.StartCursor,
		specPath: "/incoming-payments", status: http.StatusOK})
	pageOf("list the previous page")
	if len(page.Result) != 1 {
		t.Fatalf("previous page: %s", answers["list the previous page"])
	}
	pageOf("list another client's payments")
	if len(page.Result) != 0 {
		t.Fatalf("another client's list: %s", answers["list another client's payments"])
	}

	var got, public, completed, read map[string]any
	_ = json.Unmarshal(answers["get"], &got)
	if methods, _ := got["methods"].([]any); got["id"] != full["id"] || fmt.Sprint(got["incomingAmount"]) != fmt.Sprint(full["incomingAmount"]) ||
		fmt.Sprint(got["metadata"]) != fmt.Sprint(full["metadata"]) || got["expiresAt"] != expiresAt || len(methods) != 1 {
		t.Fatalf("read %v, created %v", got, full)
	}
	_ = json.Unmarshal(answers["get the public view"], &public)
	_ = json.Unmarshal(answers["complete"], &completed)
	_ = json.Unmarshal(answers["get completed"], &read)
	if len(public) != 2 || public["authServer"] != "http://auth.test/"+tenant {
		t.Fatalf("public view %v", public)
	}
	if completed["completed"] != true || completed["methods"] != nil {
		t.Fatalf("completed %v", completed)
	}
	if methods, ok := read["methods"].([]any); read["completed"] != true || !ok || len(methods) != 0 {
		t.Fatalf("a completed payment read %v", read)
	}

	// The validator refuses what the spec does not allow: each answer
	// above, spoiled.
	spoil := func(name string, change func(map[string]any)) []byte {
		var v map[string]any
		if err := json.Unmarshal(answers[name], &v); err != nil {
			t.Fatal(err)
		}
		change(v)
		out, _ := json.Marshal(v)
		return out
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	for _, bad := range []struct {
		name string
		specAnswer
	}{
		{"created without receivedAmount", specAnswer{"POST", "/incoming-payments", 201, jsonHeader,
			spoil("create", func(v map[string]any) { delete(v, "receivedAmount") }), false}},
		{"created without methods", specAnswer{"POST", "/incoming-payments", 201, jsonHeader,
			spoil("create", func(v map[string]any) { delete(v, "methods") }), false}},
		{"created with a negative amount", specAnswer{"POST", "/incoming-payments", 201, jsonHeader,
			spoil("create with incomingAmount", func(v map[string]any) { v["incomingAmount"].(map[string]any)["value"] = "-7" }), false}},
		{"created with a relative id", specAnswer{"POST", "/incoming-payments", 201, jsonHeader,
			spoil("create", func(v map[string]any) { v["id"] = "/incoming-payments/1" }), false}},
		{"created with an ILP address of no allocation", specAnswer{"POST", "/incoming-payments", 201, jsonHeader,
			spoil("create", func(v map[string]any) { v["methods"].([]any)[0].(map[string]any)["ilpAddress"] = "nowhere.x" }), false}},
		{"created as text", specAnswer{"POST", "/incoming-payments", 201, http.Header{"Content-Type": {"text/plain"}}, answers["create"], false}},
		{"created with a status the spec does not list", specAnswer{"POST", "/incoming-payments", 200, jsonHeader, answers["create"], false}},
		{"completed with methods", specAnswer{"POST", "/incoming-payments/{id}/complete", 200, jsonHeader,
			spoil("complete", func(v map[string]any) { v["methods"] = []any{} }), false}},
		{"completed without createdAt", specAnswer{"POST", "/incoming-payments/{id}/complete", 200, jsonHeader,
			spoil("complete", func(v map[string]any) { delete(v, "createdAt") }), false}},
		{"listed with a payment with methods", specAnswer{"GET", "/incoming-payments", 200, jsonHeader,
			spoil("list", func(v map[string]any) { v["result"].([]any)[0].(map[string]any)["methods"] = []any{} }), false}},
		{"listed without hasNextPage", specAnswer{"GET", "/incoming-payments", 200, jsonHeader,
			spoil("list", func(v map[string]any) { delete(v["pagination"].(map[string]any), "hasNextPage") }), false}},
		{"public view without authServer", specAnswer{"GET", "/incoming-payments/{id}", 200, jsonHeader,
			spoil("get the public view", func(v map[string]any) { delete(v, "authServer") }), false}},
		{"read with completed as a string", specAnswer{"GET", "/incoming-payments/{id}", 200, jsonHeader,
			spoil("get", func(v map[string]any) { v["completed"] = "false" }), false}},
		{"an error without a description", specAnswer{"GET", "/incoming-payments/{id}", 404, jsonHeader,
			spoil("get unknown", func(v map[string]any) { delete(v["error"].(map[string]any), "description") }), false}},
		{"an error with a status no response of the spec has", specAnswer{"GET", "/incoming-payments/{id}", 409, jsonHeader, answers["get unknown"], false}},
		{"an unlisted error without a description", specAnswer{"POST", "/incoming-payments/{id}/complete", 409, jsonHeader,
			spoil("complete again", func(v map[string]any) { delete(v["error"].(map[string]any), "description") }), true}},
		{"an error taken as unlisted when the spec lists it", specAnswer{"GET", "/incoming-payments/{id}", 404, jsonHeader, answers["get unknown"], true}},
	} {
		if err := checkAnswer(spec, bad.specAnswer); err == nil {
			t.Errorf("%s: the validator accepts %s", bad.name, bad.Body)
		}
	}
}

// specCaller makes calls to the resource server as tenant and checks each
// request and answer against spec: the status expected, a 400 exactly when
// the spec refuses the request (or refusedBeyondTheSpec names the call),
// the answer's status, Content-Type and body; it keeps each answer's body
// in answers, by the call's name. unlisted: see specAnswer.Unlisted.
func specCaller(t *testing.T, s *system, spec *openapi3.T, tenant string, refusedBeyondTheSpec map[string]bool,
	answers map[string]json.RawMessage) func(c opCall, unlisted bool) map[string]any {
	return func(c opCall, unlisted bool) map[string]any {
		t.Helper()
		status, header, body, sent := send(t, c.client, s.opURL, c.method, "http://wallet.test/"+tenant+c.path, c.token, []byte(c.body))
		if status != c.status {
			t.Fatalf("%s: %d %s, want %d", c.name, status, body, c.status)
		}
		// A request the spec refuses is answered 400, as by Rafiki's
		// request validation; one it admits only when refused for what
		// the spec does not say.
		refused := checkRequest(spec, c.method, c.specPath, "http://wallet.test/"+tenant+c.path, sent, []byte(c.body))
		switch badRequest := status == http.StatusBadRequest && !refusedBeyondTheSpec[c.name]; {
		case refused != nil && !badRequest:
			t.Fatalf("%s: answered %d to a request the spec refuses (%v), want 400", c.name, status, refused)
		case refused == nil && badRequest:
			t.Fatalf("%s: answered 400 to a request the spec admits", c.name)
		}
		if err := checkAnswer(spec, specAnswer{Method: c.method, Path: c.specPath, Status: status, Header: header, Body: body, Unlisted: unlisted}); err != nil {
			t.Fatalf("%s: the answer does not match %s %s: %v\n%s", c.name, c.method, c.specPath, err, body)
		}
		answers[c.name] = body
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		return out
	}
}

// The quote routes of the resource server, each request and answer checked
// against the Open Payments spec: a quote created with a debit amount, a
// receive amount, or neither; read with read and read-all; Rafiki's
// refusals.
func TestQuoteRoutesMatchTheSpec(t *testing.T) {
	s := startResourceServer(t)
	spec := openPaymentsSpec(t, "resource-server.yaml")
	ctx := context.Background()
	tenant := s.operator.TenantID
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, address := range []string{"quote-alice", "quote-bob"} {
		wa, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": address})
		if err != nil {
			t.Fatal(err)
		}
		ids[address] = wa.ID
	}
	alice, bob := "http://wallet.test/quote-alice", "http://wallet.test/quote-bob"
	payment, err := createIncomingPayment(ctx, s.operator, map[string]any{"walletAddressId": ids["quote-bob"],
		"incomingAmount": map[string]any{"value": "800", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	client, stranger := newOPClient(t), newOPClient(t)
	quotes := s.grant(t, client, tenant, map[string]any{"type": "quote", "actions": []string{"create", "read"}, "identifier": alice})
	strangers := s.grant(t, stranger, tenant, map[string]any{"type": "quote", "actions": []string{"read"}, "identifier": alice})
	all := s.grant(t, stranger, tenant, map[string]any{"type": "quote", "actions": []string{"read-all"}, "identifier": alice})
	onBob := s.grant(t, client, tenant, map[string]any{"type": "quote", "actions": []string{"create"}, "identifier": bob})
	refusedBeyondTheSpec := map[string]bool{"create more than the payment expects": true, "create for a receiver that does not exist": true}
	call := specCaller(t, s, spec, tenant, refusedBeyondTheSpec, map[string]json.RawMessage{})
	create := func(name, body string, status int) map[string]any {
		t.Helper()
		return call(opCall{name: name, client: client, token: quotes, method: http.MethodPost, path: "/quotes", body: body,
			specPath: "/quotes", status: status}, false)
	}
	receiver := `"receiver":"` + payment.URL + `","method":"ilp"`
	debit := create("create with a debit amount", `{"walletAddress":"`+alice+`",`+receiver+`,"debitAmount":{"value":"300","assetCode":"USD","assetScale":2}}`, http.StatusCreated)
	if fmt.Sprint(debit["debitAmount"]) != "map[assetCode:USD assetScale:2 value:300]" || fmt.Sprint(debit["receiveAmount"]) != "map[assetCode:USD assetScale:2 value:300]" ||
		debit["walletAddress"] != alice || debit["receiver"] != payment.URL || debit["method"] != "ilp" ||
		!strings.HasPrefix(debit["id"].(string), "http://wallet.test/"+tenant+"/quotes/") {
		t.Fatalf("created %v", debit)
	}
	create("create with a receive amount", `{"walletAddress":"`+alice+`",`+receiver+`,"receiveAmount":{"value":"200","assetCode":"USD","assetScale":2}}`, http.StatusCreated)
	create("create for what the payment expects", `{"walletAddress":"`+alice+`",`+receiver+`}`, http.StatusCreated)
	create("create more than the payment expects", `{"walletAddress":"`+alice+`",`+receiver+`,"receiveAmount":{"value":"801","assetCode":"USD","assetScale":2}}`, http.StatusBadRequest)
	create("create for a receiver that does not exist", `{"walletAddress":"`+alice+`","receiver":"http://wallet.test/`+tenant+`/incoming-payments/`+uuid.NewString()+`","method":"ilp"}`, http.StatusBadRequest)
	create("create without a method", `{"walletAddress":"`+alice+`","receiver":"`+payment.URL+`"}`, http.StatusBadRequest)
	create("create with both amounts", `{"walletAddress":"`+alice+`",`+receiver+`,"debitAmount":{"value":"1","assetCode":"USD","assetScale":2},"receiveAmount":{"value":"1","assetCode":"USD","assetScale":2}}`, http.StatusBadRequest)
	call(opCall{name: "create without a token", client: client, method: http.MethodPost, path: "/quotes",
		body: `{"walletAddress":"` + alice + `",` + receiver + `}`, specPath: "/quotes", status: http.StatusUnauthorized}, false)
	call(opCall{name: "create for another wallet address", client: client, token: quotes, method: http.MethodPost, path: "/quotes",
		body: `{"walletAddress":"` + bob + `",` + receiver + `}`, specPath: "/quotes", status: http.StatusForbidden}, false)
	call(opCall{name: "create for an unknown wallet address", client: client, token: onBob, method: http.MethodPost, path: "/quotes",
		body: `{"walletAddress":"` + bob + `x",` + receiver + `}`, specPath: "/quotes", status: http.StatusForbidden}, false)

	path := strings.TrimPrefix(debit["id"].(string), "http://wallet.test/"+tenant)
	got := call(opCall{name: "get", client: client, token: quotes, method: http.MethodGet, path: path, specPath: "/quotes/{id}", status: http.StatusOK}, false)
	if fmt.Sprint(got) != fmt.Sprint(debit) {
		t.Fatalf("read %v, want %v", got, debit)
	}
	call(opCall{name: "get another client's with read-all", client: stranger, token: all, method: http.MethodGet, path: path, specPath: "/quotes/{id}", status: http.StatusOK}, false)
	call(opCall{name: "get another client's with read", client: stranger, token: strangers, method: http.MethodGet, path: path, specPath: "/quotes/{id}", status: http.StatusNotFound}, false)
	call(opCall{name: "get one that does not exist", client: client, token: quotes, method: http.MethodGet, path: "/quotes/" + uuid.NewString(), specPath: "/quotes/{id}", status: http.StatusNotFound}, false)
	call(opCall{name: "get without a token", client: client, method: http.MethodGet, path: path, specPath: "/quotes/{id}", status: http.StatusUnauthorized}, false)
}

// An incoming payment created over Open Payments is answered once the
// incoming payments read model shows it: the connector finds receivers
// there, and a client pays (or has another instance quote) the payment the
// moment it has its STREAM credentials.
func TestIncomingPaymentCreatedIsPayable(t *testing.T) {
	s := startResourceServer(t)
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": "payable"}); err != nil {
		t.Fatal(err)
	}
	alice := "http://wallet.test/payable"
	client := newOPClient(t)
	token := s.grant(t, client, s.operator.TenantID, map[string]any{"type": "incoming-payment", "actions": []string{"create"}, "identifier": alice})
	listener, err := s.running.URL(app.OpenPaymentsListener)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		body := fmt.Appendf(nil, `{"walletAddress":%q,"metadata":{"n":%d}}`, alice, i)
		status, _, answer, _ := send(t, client, listener, http.MethodPost, "http://wallet.test/"+s.operator.TenantID+"/incoming-payments", token, body)
		var out struct{ ID string }
		if status != http.StatusCreated || json.Unmarshal(answer, &out) != nil {
			t.Fatalf("create: %d %s", status, answer)
		}
		id := out.ID[strings.LastIndex(out.ID, "/")+1:]
		row, err := s.running.Backend.Read.IncomingPayment(ctx, id, nil)
		if err != nil || row == nil {
			t.Fatalf("payment %d answered and not in the read model: %v", i, err)
		}
	}
}

// A tenant's authorization server grants nothing on another tenant's
// wallet addresses: a token it issued naming the operator's wallet address
// is refused on the operator's routes, while the operator's own grant of
// the same access is taken.
func TestGrantsOfAnotherTenantOpenNothing(t *testing.T) {
	s := startResourceServer(t)
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": "tenants-alice"}); err != nil {
		t.Fatal(err)
	}
	var created struct {
		CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
	}
	if err := s.operator.Do(ctx, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": map[string]any{"apiSecret": "secret-of-b"}}, &created); err != nil || created.CreateTenant.Tenant.ID == "" {
		t.Fatalf("create tenant: %+v %v", created, err)
	}
	other := created.CreateTenant.Tenant.ID
	alice := "http://wallet.test/tenants-alice"
	client := newOPClient(t)
	access := map[string]any{"type": "incoming-payment", "actions": []string{"create", "read-all", "list-all"}, "identifier": alice}
	byOther, byOperator := s.grant(t, client, other, access), s.grant(t, client, s.operator.TenantID, access)
	base := "http://wallet.test/" + s.operator.TenantID
	list := base + "/incoming-payments?wallet-address=" + url.QueryEscape(alice)
	create := []byte(`{"walletAddress":"` + alice + `"}`)
	for _, c := range []struct {
		name, method, url, token string
		body                     []byte
		status                   int
	}{
		{"create with the other tenant's grant", http.MethodPost, base + "/incoming-payments", byOther, create, http.StatusForbidden},
		{"list with the other tenant's grant", http.MethodGet, list, byOther, nil, http.StatusForbidden},
		{"create with the operator's grant", http.MethodPost, base + "/incoming-payments", byOperator, create, http.StatusCreated},
		{"list with the operator's grant", http.MethodGet, list, byOperator, nil, http.StatusOK},
	} {
		status, _, answer, _ := send(t, client, s.opURL, c.method, c.url, c.token, c.body)
		if status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, status, answer, c.status)
		}
	}
}
