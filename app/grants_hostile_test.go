package app_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/httpsig"
)

// ghSigned is a request to a public URL signed by c with Content-Type ct
// (none when empty) over a body, each signature with a nonce of its own.
func ghSigned(t *testing.T, c *gnapClient, method, publicURL, token, ct string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, publicURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "GNAP "+token)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if err := httpsig.SignNonce(req, body, c.key, c.kid, time.Now(), uuid.NewString()); err != nil {
		t.Fatal(err)
	}
	return req
}

// ghGranted is a non-interactive grant as its client got it.
type ghGranted struct {
	token, manage, continueURI, continueToken string
}

func ghGrantOf(t *testing.T, r gnapReply) ghGranted {
	t.Helper()
	g := ghGranted{token: jsonStr(r.body, "access_token", "value"), manage: jsonStr(r.body, "access_token", "manage"),
		continueURI: jsonStr(r.body, "continue", "uri"), continueToken: jsonStr(r.body, "continue", "access_token", "value")}
	if r.status != http.StatusOK || g.token == "" || g.manage == "" || g.continueURI == "" {
		t.Fatalf("no grant: %s", r)
	}
	return g
}

// ghGrant asks authURL (the auth listener) for a non-interactive grant to c.
func ghGrant(t *testing.T, authURL string, c *gnapClient, tenantID string, access ...map[string]any) ghGranted {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"access_token": map[string]any{"access": access}, "client": c.walletAddress})
	return ghGrantOf(t, deliver(t, authURL, c.request(t, http.MethodPost, publicAuth+"/"+tenantID, "", body)))
}

// ghIntrospect asks the introspection listener about token.
func ghIntrospect(t *testing.T, listener, token string, access ...map[string]any) map[string]any {
	t.Helper()
	req := map[string]any{"access_token": token}
	if len(access) > 0 {
		req["access"] = access
	}
	body, _ := json.Marshal(req)
	r := deliver(t, listener, rawRequest(t, http.MethodPost, "http://introspection.internal/", http.Header{"Content-Type": {"application/json"}}, body))
	if r.status != http.StatusOK {
		t.Fatalf("introspection: %s", r)
	}
	return r.body
}

func ghActive(m map[string]any) bool { return m["active"] == true }

// ghListeners are the URLs of a system's auth and introspection listeners.
func ghListeners(t *testing.T, s *system) (auth, introspection string) {
	t.Helper()
	auth, err := s.running.URL(app.AuthListener)
	if err != nil {
		t.Fatal(err)
	}
	introspection, err = s.running.URL(app.IntrospectionListener)
	if err != nil {
		t.Fatal(err)
	}
	return auth, introspection
}

// Grant requests a hostile client words oddly: bodies of the wrong shape,
// too deep, too large or of another Content-Type, duplicate members,
// inline keys with their private part, client URLs with tricks, and
// outgoing-payment limits of odd shapes. Each is refused (4xx) or issued
// as it reads, never a server error, never a token for more than asked.
func TestGrantRequestsAgainstAHostileClient(t *testing.T) {
	as := startInteractiveAS(t)
	tenant := as.sys.operator.TenantID
	c := newGNAPClient(t, "Hostile Client")
	grantURL := publicAuth + "/" + tenant
	w, _ := json.Marshal(c.walletAddress)
	item := `{"type":"incoming-payment","actions":["create","read"],"identifier":"http://wallet.test/gh-alice"}`
	quoteItem := `{"type":"quote","actions":["create"],"identifier":"http://wallet.test/gh-alice"}`
	post := func(body []byte, ct string) gnapReply {
		return deliver(t, as.auth, ghSigned(t, c, http.MethodPost, grantURL, "", ct, body))
	}

	// Bodies of the wrong shape are refused 400.
	many := strings.TrimSuffix(strings.Repeat(item+",", 17), ",")
	for name, body := range map[string]string{
		"access_token an array":             `{"access_token":[` + item + `],"client":` + string(w) + `}`,
		"access an object":                  `{"access_token":{"access":` + item + `},"client":` + string(w) + `}`,
		"actions a string":                  `{"access_token":{"access":[{"type":"incoming-payment","actions":"create"}]},"client":` + string(w) + `}`,
		"client a number":                   `{"access_token":{"access":[` + item + `]},"client":42}`,
		"client an array":                   `{"access_token":{"access":[` + item + `]},"client":[` + string(w) + `]}`,
		"access empty":                      `{"access_token":{"access":[]},"client":` + string(w) + `}`,
		"17 access items":                   `{"access_token":{"access":[` + many + `]},"client":` + string(w) + `}`,
		"identifier not an http URL":        `{"access_token":{"access":[{"type":"incoming-payment","actions":["read"],"identifier":"javascript:alert(1)"}]},"client":` + string(w) + `}`,
		"identifier of 5000 characters":     `{"access_token":{"access":[{"type":"incoming-payment","actions":["read"],"identifier":"http://wallet.test/` + strings.Repeat("a", 5000) + `"}]},"client":` + string(w) + `}`,
		"limits on an incoming payment":     `{"access_token":{"access":[{"type":"incoming-payment","actions":["create"],"limits":{"debitAmount":{"value":"1","assetCode":"USD","assetScale":2}}}]},"client":` + string(w) + `}`,
		"an action of another type":         `{"access_token":{"access":[{"type":"quote","actions":["complete"]}]},"client":` + string(w) + `}`,
		"a repeated action":                 `{"access_token":{"access":[{"type":"quote","actions":["create","create"]}]},"client":` + string(w) + `}`,
		"nesting 20,000 deep":               `{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `,"access_token":{"access":[` + item + `]},"client":` + string(w) + `}`,
		"null":                              `null`,
		"two JSON values":                   `{"access_token":{"access":[` + item + `]},"client":` + string(w) + `}{}`,
		"a client wallet address and a jwk": `{"access_token":{"access":[` + item + `]},"client":{"walletAddress":` + string(w) + `,"jwk":{"kid":"x"}}}`,
	} {
		if r := post([]byte(body), "application/json"); r.status != http.StatusBadRequest && r.status != http.StatusUnauthorized {
			t.Errorf("%s: %s, want 400", name, r)
		}
	}
	// A body past the bound is refused, not read to its end.
	{
		body := []byte(`{"access_token":{"access":[` + item + `]},"client":` + string(w) + `,"pad":"` + strings.Repeat("x", 1<<20) + `"}`)
		req := ghSigned(t, c, http.MethodPost, grantURL, "", "application/json", body)
		l, _ := url.Parse(as.auth)
		req.URL.Scheme, req.URL.Host = l.Scheme, l.Host
		if resp, err := noRedirects.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("a body of 1 MiB: %d, want 400 or 413", resp.StatusCode)
			}
		}
	}
	// Another Content-Type: never a server error.
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		noServerError(t, "Content-Type "+ct, post([]byte(`{"access_token":{"access":[`+item+`]},"client":`+string(w)+`}`), ct))
	}

	// Duplicate members: the last is the one verified, stored and answered,
	// as every JSON reader of the body here takes it.
	{
		r := post([]byte(`{"access_token":{"access":[`+quoteItem+`]},"client":"http://evil.test/x","access_token":{"access":[`+item+`]},"client":`+string(w)+`}`), "application/json")
		g := ghGrantOf(t, r)
		got := ghIntrospect(t, as.introspection, g.token, map[string]any{"type": "quote", "actions": []string{"create"}})
		if access, _ := got["access"].([]any); len(access) != 0 {
			t.Errorf("a grant whose body named quotes first, incoming payments last, grants quotes: %v", got)
		}
		if jsonStr(got, "client", "walletAddress") != c.walletAddress {
			t.Errorf("the client of a body naming two: %v, want %s", got["client"], c.walletAddress)
		}
	}
	// Unknown members: ignored or refused, and never granted.
	{
		r := post([]byte(`{"access_token":{"access":[{"type":"incoming-payment","actions":["read"],"identifier":"http://wallet.test/gh-alice","extra":{"actions":["read-all"]}}],"more":1},"client":`+string(w)+`,"foo":{"bar":[1]}}`), "application/json")
		noServerError(t, "unknown members", r)
		if r.status == http.StatusOK {
			got := ghIntrospect(t, as.introspection, jsonStr(r.body, "access_token", "value"),
				map[string]any{"type": "incoming-payment", "actions": []string{"read-all"}})
			if access, _ := got["access"].([]any); len(access) != 0 {
				t.Errorf("an unknown member granted read-all: %v", got)
			}
		}
	}

	// Client wallet addresses with tricks: refused, never a server error.
	u, _ := url.Parse(c.walletAddress)
	for name, client := range map[string]string{
		"userinfo":        u.Scheme + "://wallet.test@" + u.Host + u.Path,
		"fragment":        c.walletAddress + "#frag",
		"query":           c.walletAddress + "?x=1",
		"dot segments":    u.Scheme + "://" + u.Host + "/other/.." + u.Path,
		"encoded slash":   u.Scheme + "://" + u.Host + "/client%2Fx",
		"trailing slash":  c.walletAddress + "/",
		"no host":         "http:///client",
		"another scheme":  "ftp://" + u.Host + u.Path,
		"a port too high": "http://127.0.0.1:99999/client",
	} {
		cl, _ := json.Marshal(client)
		r := post([]byte(`{"access_token":{"access":[`+item+`]},"client":`+string(cl)+`}`), "application/json")
		if r.status != http.StatusBadRequest && r.status != http.StatusUnauthorized {
			t.Errorf("client wallet address with %s (%s): %s, want 400 or 401", name, client, r)
		}
	}

	// Outgoing payment limits of odd shapes: refused 400 when they cannot be
	// read, taken for the interaction when they can.
	limited := func(limits string) gnapReply {
		return post([]byte(`{"access_token":{"access":[{"type":"outgoing-payment","actions":["create","read"],"identifier":"http://wallet.test/gh-alice","limits":`+
			limits+`}]},"client":`+string(w)+`,"interact":{"start":["redirect"]}}`), "application/json")
	}
	amount := func(v string) string { return `{"debitAmount":{"value":"` + v + `","assetCode":"USD","assetScale":2}}` }
	for name, limits := range map[string]string{
		"a negative amount":           amount("-1"),
		"an amount of 2^64":           amount("18446744073709551616"),
		"an amount of 10^30":          amount("1000000000000000000000000000000"),
		"a fractional amount":         amount("1.5"),
		"an empty amount":             amount(""),
		"an amount with a zero ahead": amount("01"),
		"an amount in exponent form":  amount("1e3"),
		"an amount as a number":       `{"debitAmount":{"value":5,"assetCode":"USD","assetScale":2}}`,
		"an asset scale of 256":       `{"debitAmount":{"value":"5","assetCode":"USD","assetScale":256}}`,
		"a negative asset scale":      `{"debitAmount":{"value":"5","assetCode":"USD","assetScale":-1}}`,
		"no asset code":               `{"debitAmount":{"value":"5","assetScale":2}}`,
		"both amounts":                `{"debitAmount":{"value":"5","assetCode":"USD","assetScale":2},"receiveAmount":{"value":"5","assetCode":"USD","assetScale":2}}`,
		"limits an array":             `[` + amount("5") + `]`,
		"a receiver not http":         `{"receiver":"ftp://wallet.test/x"}`,
		"an interval without R":       `{"interval":"2020-01-01T00:00:00Z/P1D"}`,
		"an interval of one part":     `{"interval":"R/2020-01-01T00:00:00Z"}`,
		"a zero duration":             `{"interval":"R5/2020-01-01T00:00:00Z/PT0S"}`,
		"a duration of P":             `{"interval":"R/2020-01-01T00:00:00Z/P"}`,
		"a negative repeat":           `{"interval":"R-1/2020-01-01T00:00:00Z/P1D"}`,
		"repeats past the bound":      `{"interval":"R99999999999/2020-01-01T00:00:00Z/P1D"}`,
		"a year 0":                    `{"interval":"R/0000-01-01T00:00:00Z/P1D"}`,
		"a time without offset":       `{"interval":"R/2020-01-01T00:00:00/P1D"}`,
		"an end before its start":     `{"interval":"R/2021-01-01T00:00:00Z/2020-01-01T00:00:00Z"}`,
		"a duration of 10^9 days":     `{"interval":"R/2020-01-01T00:00:00Z/P1000000000D"}`,
		"an interval of 200 bytes":    `{"interval":"R/2020-01-01T00:00:00Z/P` + strings.Repeat("1", 190) + `D"}`,
	} {
		if r := limited(limits); r.status != http.StatusBadRequest {
			t.Errorf("limits with %s: %s, want 400", name, r)
		}
	}
	for name, limits := range map[string]string{
		"the largest amount":             amount("18446744073709551615"),
		"an asset code the wallet lacks": `{"debitAmount":{"value":"5","assetCode":"XYZ","assetScale":9}}`,
		"a receiver of another host":     `{"receiver":"https://elsewhere.test/incoming-payments/1","debitAmount":{"value":"5","assetCode":"USD","assetScale":2}}`,
		"R999999999 of a second":         `{"interval":"R999999999/2020-01-01T00:00:00Z/PT1S","debitAmount":{"value":"5","assetCode":"USD","assetScale":2}}`,
		"a start in 1970":                `{"interval":"R/1970-01-01T00:00:00Z/P1M","debitAmount":{"value":"5","assetCode":"USD","assetScale":2}}`,
		"a start in 9999":                `{"interval":"R/9999-01-01T00:00:00Z/P1D","debitAmount":{"value":"5","assetCode":"USD","assetScale":2}}`,
	} {
		if r := limited(limits); r.status != http.StatusOK || jsonStr(r.body, "interact", "redirect") == "" {
			t.Errorf("limits with %s: %s, want a pending grant", name, r)
		}
	}
}

// Introspection as a hostile resource server, or a client that found the
// public port, uses it: not reachable on the auth port, refuses bodies of
// the wrong shape (4xx, never 5xx), answers only the items that cover what
// is asked, and nothing of tokens that are not access tokens.
func TestIntrospectionAgainstAHostileResourceServer(t *testing.T) {
	as := startInteractiveAS(t)
	tenant := as.sys.operator.TenantID
	other := as.newTenant(t)
	c := newGNAPClient(t, "Client")
	alice := "http://wallet.test/gh-alice"
	g := ghGrant(t, as.auth, c, tenant, map[string]any{"type": "incoming-payment", "actions": []string{"create", "read"}, "identifier": alice})

	// The introspection endpoint is not on the public auth port.
	body, _ := json.Marshal(map[string]any{"access_token": g.token})
	for _, target := range []string{publicAuth + "/", publicAuth + "/introspect", publicAuth + "/" + tenant} {
		r := deliver(t, as.auth, rawRequest(t, http.MethodPost, target, http.Header{"Content-Type": {"application/json"}}, body))
		if r.status < 400 || r.status >= 500 || strings.Contains(string(r.raw), `"active"`) {
			t.Errorf("introspection at %s on the auth port: %s, want a 4xx refusal", target, r)
		}
	}

	// Access asked for that the grant does not hold is not answered.
	for name, access := range map[string]map[string]any{
		"another tenant's wallet address": {"type": "incoming-payment", "actions": []string{"read"}, "identifier": "http://wallet.test/" + other.id + "/gh-alice"},
		"alice with a trailing slash":     {"type": "incoming-payment", "actions": []string{"read"}, "identifier": alice + "/"},
		"alice in upper case":             {"type": "incoming-payment", "actions": []string{"read"}, "identifier": strings.ToUpper(alice)},
		"read-all":                        {"type": "incoming-payment", "actions": []string{"read-all"}, "identifier": alice},
		"complete":                        {"type": "incoming-payment", "actions": []string{"complete"}, "identifier": alice},
		"list":                            {"type": "incoming-payment", "actions": []string{"list"}, "identifier": alice},
		"a quote":                         {"type": "quote", "actions": []string{"create"}, "identifier": alice},
		"an outgoing payment":             {"type": "outgoing-payment", "actions": []string{"create"}, "identifier": alice},
		"limits":                          {"type": "incoming-payment", "actions": []string{"read"}, "identifier": alice, "limits": map[string]any{"interval": "R/2020-01-01T00:00:00Z/P1D"}},
	} {
		got := ghIntrospect(t, as.introspection, g.token, access)
		if a, _ := got["access"].([]any); len(a) != 0 || jsonStr(got, "tenantId") != tenant {
			t.Errorf("introspection asking for %s: %v, want no access item and tenant %s", name, got, tenant)
		}
	}
	if got := ghIntrospect(t, as.introspection, g.token, map[string]any{"type": "incoming-payment", "actions": []string{"read"}, "identifier": alice}); !ghActive(got) {
		t.Errorf("introspection of what the grant holds: %v", got)
	} else if a, _ := got["access"].([]any); len(a) != 1 {
		t.Errorf("introspection of what the grant holds: %v, want its one item", got)
	}

	// What is not an access token is inactive.
	for name, token := range map[string]string{
		"the continuation token":  g.continueToken,
		"the management id":       g.manage[strings.LastIndex(g.manage, "/")+1:],
		"the management URL":      g.manage,
		"the token in lower case": strings.ToLower(g.token),
		"the token and a space":   g.token + " ",
		"a token of 10 KB":        strings.Repeat("A", 10<<10),
	} {
		if got := ghIntrospect(t, as.introspection, token); ghActive(got) {
			t.Errorf("introspection of %s: %v, want inactive", name, got)
		}
	}

	// Bodies of the wrong shape are refused, never a server error.
	tok, _ := json.Marshal(g.token)
	items := strings.TrimSuffix(strings.Repeat(`{"type":"quote","actions":["create"]},`, 33), ",")
	for name, raw := range map[string]string{
		"access_token a number":   `{"access_token":42}`,
		"access_token an array":   `{"access_token":[` + string(tok) + `]}`,
		"no access_token":         `{"access":[]}`,
		"access an object":        `{"access_token":` + string(tok) + `,"access":{"type":"quote","actions":["create"]}}`,
		"an item without actions": `{"access_token":` + string(tok) + `,"access":[{"type":"quote"}]}`,
		"33 items":                `{"access_token":` + string(tok) + `,"access":[` + items + `]}`,
		"an unknown member":       `{"access_token":` + string(tok) + `,"resource_server":"x"}`,
		"nesting 20,000 deep":     `{"access_token":` + string(tok) + `,"access":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
		"not JSON":                `access_token=` + g.token,
		"a body past 64 KiB":      `{"access_token":"` + strings.Repeat("A", 70<<10) + `"}`,
	} {
		r := deliver(t, as.introspection, rawRequest(t, http.MethodPost, "http://introspection.internal/", http.Header{"Content-Type": {"application/json"}}, []byte(raw)))
		if r.status != http.StatusBadRequest {
			t.Errorf("introspection with %s: %s, want 400", name, r)
		}
	}
	if r := deliver(t, as.introspection, rawRequest(t, http.MethodGet, "http://introspection.internal/?access_token="+g.token, nil, nil)); r.status != http.StatusMethodNotAllowed {
		t.Errorf("introspection by GET: %s, want 405", r)
	}
}

// Token management against a hostile client: the management URL of one
// grant's token with another's value, the continuation of one grant with
// another's token, a rotated token's old value, a revoked token or grant:
// each refused or dead at once, at introspection and at the resource
// server, whatever either cached; a rotation racing the grant's revocation
// leaves no live token.
func TestTokenRotationAndRevocationAgainstAHostileClient(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	authURL, introspectURL := ghListeners(t, s)
	urls, _ := ipxWalletAddresses(t, s, "ghr-alice")
	alice := urls["ghr-alice"]
	c := newGNAPClient(t, "Client")
	access := map[string]any{"type": "incoming-payment", "actions": []string{"create", "read", "list"}, "identifier": alice}
	list := "http://wallet.test/" + tenant + "/incoming-payments?wallet-address=" + url.QueryEscape(alice)
	rs := func(token string) int {
		return deliver(t, s.opURL, c.request(t, http.MethodGet, list, token, nil)).status
	}
	warm := func(name, token string) {
		t.Helper()
		if status := rs(token); status != http.StatusOK {
			t.Fatalf("%s at the resource server: %d", name, status)
		}
		if !ghActive(ghIntrospect(t, introspectURL, token, access)) {
			t.Fatalf("%s inactive", name)
		}
	}
	dead := func(name, token string) {
		t.Helper()
		if got := ghIntrospect(t, introspectURL, token, access); ghActive(got) {
			t.Errorf("%s at once: introspection answers %v, want inactive", name, got)
		}
		if status := rs(token); status != http.StatusForbidden {
			t.Errorf("%s at once: the resource server answers %d, want 403", name, status)
		}
	}
	manage := func(method, uri, token string) gnapReply {
		return deliver(t, authURL, c.request(t, method, uri, token, nil))
	}

	// One grant's management and continuation with another's secrets.
	g1, g2 := ghGrant(t, authURL, c, tenant, access), ghGrant(t, authURL, c, tenant, access)
	warm("g1", g1.token)
	warm("g2", g2.token)
	for _, r := range []struct {
		name   string
		method string
		uri    string
		token  string
	}{
		{"rotate g2's token with g1's value", http.MethodPost, g2.manage, g1.token},
		{"revoke g2's token with g1's value", http.MethodDelete, g2.manage, g1.token},
		{"rotate g1's token with its continuation token", http.MethodPost, g1.manage, g1.continueToken},
		{"rotate with no token", http.MethodPost, g1.manage, ""},
		{"revoke g1 with g2's continuation token", http.MethodDelete, g1.continueURI, g2.continueToken},
		{"revoke g1 with its access token", http.MethodDelete, g1.continueURI, g1.token},
		{"continue g1 with g2's continuation token", http.MethodPost, g1.continueURI, g2.continueToken},
	} {
		if got := manage(r.method, r.uri, r.token); got.status < 400 || got.status >= 500 {
			t.Errorf("%s: %s, want a 4xx refusal", r.name, got)
		}
	}
	warm("g1 after the attempts", g1.token)
	warm("g2 after the attempts", g2.token)

	// Rotation: the old value is dead the moment the new one is answered.
	current := g1
	for round := range 3 {
		warm(fmt.Sprint("token before rotation ", round), current.token)
		r := manage(http.MethodPost, current.manage, current.token)
		if r.status != http.StatusOK {
			t.Fatalf("rotate: %s", r)
		}
		dead(fmt.Sprint("the value rotated away in round ", round), current.token)
		if again := manage(http.MethodPost, current.manage, current.token); again.status < 400 || again.status >= 500 {
			t.Errorf("a second rotation of the rotated value: %s, want a 4xx refusal", again)
		}
		current.token, current.manage = jsonStr(r.body, "access_token", "value"), jsonStr(r.body, "access_token", "manage")
	}
	warm("the last rotated token", current.token)
	if r := manage(http.MethodDelete, current.manage, current.token); r.status != http.StatusNoContent {
		t.Fatalf("revoke token: %s", r)
	}
	dead("a revoked token", current.token)

	// A revoked grant's token is dead at once.
	warm("g2 before its grant is revoked", g2.token)
	if r := manage(http.MethodDelete, g2.continueURI, g2.continueToken); r.status != http.StatusNoContent {
		t.Fatalf("revoke grant: %s", r)
	}
	dead("a token of a revoked grant", g2.token)
	if r := manage(http.MethodPost, g2.manage, g2.token); r.status < 400 || r.status >= 500 {
		t.Errorf("rotation of a revoked grant's token: %s, want a 4xx refusal", r)
	}

	// A rotation racing the grant's revocation: once the revocation is
	// answered, no token of the grant is live.
	for round := range 4 {
		g := ghGrant(t, authURL, c, tenant, access)
		warm(fmt.Sprint("race grant ", round), g.token)
		var rot, rev gnapReply
		var wg sync.WaitGroup
		wg.Go(func() { rot = manage(http.MethodPost, g.manage, g.token) })
		wg.Go(func() { rev = manage(http.MethodDelete, g.continueURI, g.continueToken) })
		wg.Wait()
		noServerError(t, "rotation racing revocation", rot)
		if rev.status != http.StatusNoContent {
			t.Errorf("revocation racing rotation: %s, want 204", rev)
			continue
		}
		dead(fmt.Sprint("the original token after the race ", round), g.token)
		if rot.status == http.StatusOK {
			dead(fmt.Sprint("the rotated token after the race ", round), jsonStr(rot.body, "access_token", "value"))
		}
	}
}

// Grants of one tenant's authorization server naming another tenant's
// wallet addresses, and tokens used beyond what they grant: an action or
// type not granted, an identifier written otherwise. None opens anything.
func TestGrantsForOtherWalletAddressesAgainstAHostileClient(t *testing.T) {
	s := startResourceServer(t)
	tenant := s.operator.TenantID
	authURL, introspectURL := ghListeners(t, s)
	urls, _ := ipxWalletAddresses(t, s, "ghw-alice")
	alice := urls["ghw-alice"]
	b := newPayingTenant(t, s, "ghw-b")
	bob := b.wallet(t, "bob")
	bobs := b.incoming(t, bob.ID, "")
	c := newGNAPClient(t, "Client")
	every := []string{"create", "read", "list", "complete"}
	op := func(name, method, target, token string, body []byte) {
		t.Helper()
		r := deliver(t, s.opURL, c.request(t, method, target, token, body))
		if r.status >= 200 && r.status < 300 {
			t.Errorf("%s: %s, want a refusal", name, r)
		}
		noServerError(t, name, r)
	}
	opBase, bBase := "http://wallet.test/"+tenant, "http://wallet.test/"+b.id
	create := func(wa string) []byte { return []byte(`{"walletAddress":"` + wa + `"}`) }

	// The operator's authorization server, asked for bob of tenant b.
	r := deliver(t, authURL, c.request(t, http.MethodPost, publicAuth+"/"+tenant, "",
		[]byte(`{"access_token":{"access":[{"type":"incoming-payment","actions":["create","read","list","complete"],"identifier":"`+bob.Address+`"}]},"client":"`+c.walletAddress+`"}`)))
	noServerError(t, "a grant naming another tenant's wallet address", r)
	var tokens []string
	if r.status == http.StatusOK {
		tokens = append(tokens, ghGrantOf(t, r).token)
		if got := ghIntrospect(t, introspectURL, tokens[0]); jsonStr(got, "tenantId") != tenant {
			t.Errorf("a grant of the operator's authorization server naming tenant b's wallet address: tenant %q, want %s", jsonStr(got, "tenantId"), tenant)
		}
	}
	// And one naming no wallet address at all.
	tokens = append(tokens, ghGrant(t, authURL, c, tenant, ipxAccess("", every...)).token)
	for i, tok := range tokens {
		n := fmt.Sprint("operator token ", i, ": ")
		op(n+"create on bob under b's path", http.MethodPost, bBase+"/incoming-payments", tok, create(bob.Address))
		op(n+"list bob under b's path", http.MethodGet, bBase+"/incoming-payments?wallet-address="+url.QueryEscape(bob.Address), tok, nil)
		op(n+"read bob's payment under b's path", http.MethodGet, bobs.URL, tok, nil)
		op(n+"complete bob's payment under b's path", http.MethodPost, bobs.URL+"/complete", tok, nil)
		op(n+"create on bob under the operator's path", http.MethodPost, opBase+"/incoming-payments", tok, create(bob.Address))
		op(n+"list bob under the operator's path", http.MethodGet, opBase+"/incoming-payments?wallet-address="+url.QueryEscape(bob.Address), tok, nil)
		op(n+"read bob's payment under the operator's path", http.MethodGet, opBase+"/incoming-payments/"+bobs.ID, tok, nil)
		op(n+"quote from bob under the operator's path", http.MethodPost, opBase+"/quotes", tok,
			[]byte(`{"walletAddress":"`+bob.Address+`","receiver":"`+bobs.URL+`","method":"ilp"}`))
	}
	// Tenant b's own authorization server, asked for the operator's alice.
	bTok := ghGrant(t, authURL, c, b.id, ipxAccess(alice, every...)).token
	op("b's token: create on alice", http.MethodPost, opBase+"/incoming-payments", bTok, create(alice))
	op("b's token: list alice", http.MethodGet, opBase+"/incoming-payments?wallet-address="+url.QueryEscape(alice), bTok, nil)

	// Actions and types not granted.
	createOnly := ghGrant(t, authURL, c, tenant, ipxAccess(alice, "create")).token
	readOnly := ghGrant(t, authURL, c, tenant, ipxAccess(alice, "read")).token
	quotes := ghGrant(t, authURL, c, tenant, map[string]any{"type": "quote", "actions": []string{"create", "read"}, "identifier": alice}).token
	cr := deliver(t, s.opURL, c.request(t, http.MethodPost, opBase+"/incoming-payments", createOnly, create(alice)))
	paymentURL := jsonStr(cr.body, "id")
	if cr.status != http.StatusCreated || paymentURL == "" {
		t.Fatalf("create with a create grant: %s", cr)
	}
	op("read with a create grant", http.MethodGet, paymentURL, createOnly, nil)
	op("list with a create grant", http.MethodGet, opBase+"/incoming-payments?wallet-address="+url.QueryEscape(alice), createOnly, nil)
	op("complete with a create grant", http.MethodPost, paymentURL+"/complete", createOnly, nil)
	op("complete with a read grant", http.MethodPost, paymentURL+"/complete", readOnly, nil)
	op("create with a read grant", http.MethodPost, opBase+"/incoming-payments", readOnly, create(alice))
	op("read with a quote grant", http.MethodGet, paymentURL, quotes, nil)
	op("outgoing payments with an incoming payment grant", http.MethodGet, opBase+"/outgoing-payments?wallet-address="+url.QueryEscape(alice), createOnly, nil)
	op("grant spent with an incoming payment grant", http.MethodGet, opBase+"/outgoing-payment-grant", createOnly, nil)

	// Identifiers written otherwise name no other wallet address.
	for name, identifier := range map[string]string{
		"a trailing slash": alice + "/",
		"a dot segment":    strings.Replace(alice, "/ghw-alice", "/x/../ghw-alice", 1),
		"a query":          alice + "?x=1",
		"a fragment":       alice + "#x",
	} {
		r := deliver(t, authURL, c.request(t, http.MethodPost, publicAuth+"/"+tenant, "",
			[]byte(`{"access_token":{"access":[{"type":"incoming-payment","actions":["create","read","list"],"identifier":"`+identifier+`"}]},"client":"`+c.walletAddress+`"}`)))
		noServerError(t, "a grant naming alice with "+name, r)
		if r.status != http.StatusOK {
			continue
		}
		tok := ghGrantOf(t, r).token
		op("create on alice with a grant naming it with "+name, http.MethodPost, opBase+"/incoming-payments", tok, create(alice))
		op("list alice with a grant naming it with "+name, http.MethodGet, opBase+"/incoming-payments?wallet-address="+url.QueryEscape(alice), tok, nil)
		op("read on alice with a grant naming it with "+name, http.MethodGet, paymentURL, tok, nil)
		if r := deliver(t, s.opURL, c.request(t, http.MethodPost, opBase+"/incoming-payments", tok, create(identifier))); r.status == http.StatusCreated {
			if !strings.Contains(string(r.raw), `"walletAddress":"`+identifier+`"`) {
				t.Errorf("create with walletAddress %s made a payment of another wallet address: %s", identifier, r)
			}
		} else {
			noServerError(t, "create on "+identifier, r)
		}
	}
}

// An inline client key (directed identity) is public: a jwk carrying its
// private part is refused however the member is spelled, since the grant
// stores the jwk as sent and introspection hands it to every resource
// server.
func TestInlineClientKeysWithTheirPrivatePart(t *testing.T) {
	as := startInteractiveAS(t)
	grantURL := publicAuth + "/" + as.sys.operator.TenantID
	item := `{"type":"incoming-payment","actions":["create","read"],"identifier":"http://wallet.test/gh-alice"}`
	// Inline keys: the private part is never taken, however it is spelled.
	// A key that carries "d" and then "D" empty reads as public to Go's
	// case-insensitive decoder, but the stored JSON (and every resource
	// server that reads introspection's client.jwk) still holds "d".
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	x, d := base64.RawURLEncoding.EncodeToString(pub), base64.RawURLEncoding.EncodeToString(priv.Seed())
	inline := &gnapClient{key: priv, kid: "inline-key"}
	for name, jwk := range map[string]string{
		"d":               `{"kid":"inline-key","alg":"EdDSA","kty":"OKP","crv":"Ed25519","x":"` + x + `","d":"` + d + `"}`,
		"D":               `{"kid":"inline-key","alg":"EdDSA","kty":"OKP","crv":"Ed25519","x":"` + x + `","D":"` + d + `"}`,
		"d, then D empty": `{"kid":"inline-key","alg":"EdDSA","kty":"OKP","crv":"Ed25519","x":"` + x + `","d":"` + d + `","D":""}`,
	} {
		body := []byte(`{"access_token":{"access":[` + item + `]},"client":{"jwk":` + jwk + `}}`)
		r := deliver(t, as.auth, ghSigned(t, inline, http.MethodPost, grantURL, "", "application/json", body))
		if r.status < 400 || r.status >= 500 {
			detail := ""
			if r.status == http.StatusOK {
				got := ghIntrospect(t, as.introspection, jsonStr(r.body, "access_token", "value"))
				raw, _ := json.Marshal(got["client"])
				detail = fmt.Sprintf("; introspection hands every resource server the client %s", raw)
			}
			t.Errorf("an inline jwk holding its private part as %s: %s, want 4xx%s", name, r, detail)
		}
	}
	{
		// The signature's keyid must be the inline key's kid.
		body := []byte(`{"access_token":{"access":[` + item + `]},"client":{"jwk":{"kid":"another-kid","alg":"EdDSA","kty":"OKP","crv":"Ed25519","x":"` + x + `"}}}`)
		if r := deliver(t, as.auth, ghSigned(t, inline, http.MethodPost, grantURL, "", "application/json", body)); r.status < 400 || r.status >= 500 {
			t.Errorf("an inline jwk under another kid than the signature's: %s, want a 4xx refusal", r)
		}
	}

}
