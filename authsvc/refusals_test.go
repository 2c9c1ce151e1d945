package authsvc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/httpsig"
)

// pending is an interactive grant's handles.
type pending struct {
	continueURI, continueToken, redirect, interactID, nonce string
}

func newPending(t *testing.T, f *fixture, finishURI string) pending {
	t.Helper()
	r := interactive(t, f, finishURI)
	p := pending{
		continueURI: str(r.body, "continue", "uri"), continueToken: str(r.body, "continue", "access_token", "value"),
		redirect: str(r.body, "interact", "redirect"),
	}
	u, _ := url.Parse(p.redirect)
	parts := strings.Split(strings.TrimPrefix(u.Path, "/interact/"), "/")
	p.interactID, p.nonce = parts[0], parts[1]
	return p
}

func post(t *testing.T, u string, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	return req
}

// Bad input gets Rafiki's status and GNAP code, and stores nothing.
func TestRefusals(t *testing.T) {
	f := setup(t, nil)
	ctx := context.Background()
	nameless := newKey(t, "nameless-key")
	f.serveWallet("nameless", "", nameless.jwk)
	// A client whose wallet address document does not come, its server
	// failing: the request may be fine, and is to be retried.
	failing := newKey(t, "failing-key")
	f.walletsMux.HandleFunc("GET /failing", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	})
	f.walletsMux.HandleFunc("GET /failing/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []httpsig.JWK{failing.jwk}})
	})
	mallory := newKey(t, f.key.kid)
	gone := uuid.NewString()
	if _, _, err := f.tenants.Create(ctx, commands.CreateTenant{Meta: f.meta(), TenantID: gone, APISecret: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tenants.Delete(ctx, commands.DeleteTenant{Meta: f.meta(), TenantID: gone}); err != nil {
		t.Fatal(err)
	}
	p := newPending(t, f, "")
	grantURL := f.authURL + "/" + f.tenantID
	incoming := map[string]any{"access_token": map[string]any{"access": incomingAccess()}, "client": f.wallet("alice")}
	outgoing := func(client any, interact bool) map[string]any {
		b := map[string]any{"access_token": map[string]any{"access": outgoingAccess(f)}, "client": client}
		if interact {
			b["interact"] = map[string]any{"start": []string{"redirect"}}
		}
		return b
	}
	secret := func(s string) http.Header { return http.Header{"X-Idp-Secret": {s}} }
	idpGrant := f.idpURL + "/grant/" + p.interactID + "/" + p.nonce

	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
	}{
		{"malformed body", func() *http.Request { return signed(t, "POST", grantURL, `{"access_token":`, "", f.key) }, 400, "invalid_request"},
		{"body not an object", func() *http.Request { return signed(t, "POST", grantURL, `[1,2]`, "", f.key) }, 400, "invalid_request"},
		{"no client", func() *http.Request {
			return signed(t, "POST", grantURL, map[string]any{"access_token": map[string]any{"access": incomingAccess()}}, "", f.key)
		}, 400, "invalid_request"},
		{"unknown action", func() *http.Request {
			return signed(t, "POST", grantURL, map[string]any{"access_token": map[string]any{"access": []map[string]any{
				{"type": "incoming-payment", "actions": []string{"steal"}}}}, "client": f.wallet("alice")}, "", f.key)
		}, 400, "invalid_request"},
		{"unknown tenant", func() *http.Request { return signed(t, "POST", f.authURL+"/"+uuid.NewString(), incoming, "", f.key) }, 404, "invalid_request"},
		{"tenant id not a uuid", func() *http.Request { return signed(t, "POST", f.authURL+"/not-a-tenant", incoming, "", f.key) }, 404, "invalid_request"},
		{"deleted tenant", func() *http.Request { return signed(t, "POST", f.authURL+"/"+gone, incoming, "", f.key) }, 404, "invalid_request"},
		{"unknown client", func() *http.Request {
			b := map[string]any{"access_token": map[string]any{"access": incomingAccess()}, "client": f.wallet("nobody")}
			return signed(t, "POST", grantURL, b, "", f.key)
		}, 400, "invalid_client"},
		{"missing signature", func() *http.Request {
			req := signed(t, "POST", grantURL, incoming, "", f.key)
			req.Header.Del("Signature")
			req.Header.Del("Signature-Input")
			return req
		}, 401, "invalid_client"},
		{"signature of another key", func() *http.Request { return signed(t, "POST", grantURL, incoming, "", mallory) }, 401, "invalid_client"},
		{"body changed after signing", func() *http.Request {
			req := signed(t, "POST", grantURL, incoming, "", f.key)
			body := []byte(`{"access_token":{"access":[{"type":"quote","actions":["create"]}]},"client":"` + f.wallet("alice") + `"}`)
			req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			return req
		}, 401, "invalid_client"},
		{"interactive grant of a client without a public name", func() *http.Request {
			return signed(t, "POST", grantURL, outgoing(f.wallet("nameless"), true), "", nameless)
		}, 400, "invalid_client"},
		{"interactive grant of a client whose wallet address fails", func() *http.Request {
			return signed(t, "POST", grantURL, outgoing(f.wallet("failing"), true), "", failing)
		}, 503, "request_denied"},
		{"interactive grant of a jwk client", func() *http.Request {
			return signed(t, "POST", grantURL, outgoing(map[string]any{"jwk": nameless.jwk}, true), "", nameless)
		}, 400, "invalid_client"},
		{"interactive grant without interact", func() *http.Request {
			return signed(t, "POST", grantURL, outgoing(f.wallet("alice"), false), "", f.key)
		}, 400, "invalid_request"},
		{"continue with a wrong token", func() *http.Request { return signed(t, "POST", p.continueURI, nil, "WRONG", f.key) }, 401, "invalid_continuation"},
		{"continue of an unknown grant", func() *http.Request {
			return signed(t, "POST", f.authURL+"/continue/"+uuid.NewString(), nil, p.continueToken, f.key)
		}, 401, "invalid_continuation"},
		{"continue without authorization", func() *http.Request { return signed(t, "POST", p.continueURI, nil, "", f.key) }, 401, "invalid_client"},
		{"continue signed by another client", func() *http.Request { return signed(t, "POST", p.continueURI, nil, p.continueToken, mallory) }, 401, "invalid_client"},
		{"continue with a wrong interact_ref", func() *http.Request {
			return signed(t, "POST", p.continueURI, map[string]any{"interact_ref": "nope"}, p.continueToken, f.key)
		}, 404, "invalid_continuation"},
		{"continue with an empty interact_ref", func() *http.Request {
			return signed(t, "POST", p.continueURI, map[string]any{"interact_ref": ""}, p.continueToken, f.key)
		}, 401, "invalid_request"},
		{"revoke a grant signed by another client", func() *http.Request { return signed(t, "DELETE", p.continueURI, nil, p.continueToken, mallory) }, 401, "invalid_client"},
		{"rotate an unknown token", func() *http.Request {
			return signed(t, "POST", f.authURL+"/token/"+uuid.NewString(), nil, "X", f.key)
		}, 401, "invalid_client"},
		{"revoke an unsigned token request", func() *http.Request {
			req, _ := http.NewRequest("DELETE", f.authURL+"/token/"+uuid.NewString(), nil)
			return req
		}, 401, "invalid_client"},
		{"start an unknown interaction", func() *http.Request { return get(t, f.authURL+"/interact/"+uuid.NewString()+"/"+p.nonce, nil) }, 400, "unknown_interaction"},
		{"start with a wrong nonce", func() *http.Request { return get(t, f.authURL+"/interact/"+p.interactID+"/WRONG", nil) }, 400, "unknown_interaction"},
		{"finish without a session", func() *http.Request {
			return get(t, f.authURL+"/interact/"+p.interactID+"/"+p.nonce+"/finish", nil)
		}, 401, "invalid_request"},
		{"finish with a forged session", func() *http.Request {
			return get(t, f.authURL+"/interact/"+p.interactID+"/"+p.nonce+"/finish",
				http.Header{"Cookie": {"sessionId=" + p.nonce + ".9999999999.forged"}})
		}, 401, "invalid_request"},
		{"details with a wrong x-idp-secret", func() *http.Request { return get(t, idpGrant, secret("wrong")) }, 401, "invalid_request"},
		{"details without x-idp-secret", func() *http.Request { return get(t, idpGrant, nil) }, 401, "invalid_request"},
		{"details of an unknown interaction", func() *http.Request {
			return get(t, f.idpURL+"/grant/"+uuid.NewString()+"/"+p.nonce, secret(idpSecret))
		}, 404, "unknown_interaction"},
		{"accept with a wrong x-idp-secret", func() *http.Request { return post(t, idpGrant+"/accept", secret("wrong")) }, 401, "invalid_interaction"},
		{"accept with a secret one character longer", func() *http.Request { return post(t, idpGrant+"/accept", secret(idpSecret+"x")) }, 401, "invalid_interaction"},
		{"accept an unknown interaction", func() *http.Request {
			return post(t, f.idpURL+"/grant/"+uuid.NewString()+"/"+p.nonce+"/accept", secret(idpSecret))
		}, 404, "unknown_interaction"},
		{"an unknown choice", func() *http.Request { return post(t, idpGrant+"/maybe", secret(idpSecret)) }, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req()
			before := f.lastSeq()
			r := do(t, req)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.raw, tc.status, tc.code)
			}
			if after := f.lastSeq(); after != before {
				t.Fatalf("events appended: %d → %d", before, after)
			}
		})
	}
}

// A replayed signature is refused, even of a request that succeeded.
func TestReplayedSignature(t *testing.T) {
	f := setup(t, nil)
	body := map[string]any{"access_token": map[string]any{"access": incomingAccess()}, "client": f.wallet("alice")}
	first := signed(t, "POST", f.authURL+"/"+f.tenantID, body, "", f.key)
	replay := first.Clone(context.Background())
	replay.Body, _ = first.GetBody()
	if r := do(t, first); r.status != http.StatusOK {
		t.Fatalf("first: %d %s", r.status, r.raw)
	}
	before := f.lastSeq()
	if r := do(t, replay); r.status != http.StatusUnauthorized || r.code() != "invalid_client" {
		t.Fatalf("replay: %d %s", r.status, r.raw)
	}
	if f.lastSeq() != before {
		t.Fatal("a replayed request stored events")
	}
}

// Past the interaction's expiry the identity provider's answer and the
// browser's return are refused and change nothing.
func TestExpiredInteraction(t *testing.T) {
	f := setup(t, func(p *grant.Policy) { p.InteractionExpiry = time.Second })
	p := newPending(t, f, "")
	start := do(t, get(t, p.redirect, nil))
	if start.status != http.StatusFound {
		t.Fatalf("start: %d %s", start.status, start.raw)
	}
	session := http.Header{"Cookie": {strings.Split(start.header.Get("Set-Cookie"), ";")[0]}}
	time.Sleep(1100 * time.Millisecond)
	before := f.lastSeq()
	accept := do(t, post(t, f.idpURL+"/grant/"+p.interactID+"/"+p.nonce+"/accept", http.Header{"X-Idp-Secret": {idpSecret}}))
	if accept.status != http.StatusBadRequest || accept.code() != "invalid_interaction" {
		t.Fatalf("accept: %d %s", accept.status, accept.raw)
	}
	finish := do(t, get(t, f.authURL+"/interact/"+p.interactID+"/"+p.nonce+"/finish", session))
	if finish.status != http.StatusUnauthorized || finish.code() != "invalid_interaction" {
		t.Fatalf("finish: %d %s", finish.status, finish.raw)
	}
	if f.lastSeq() != before {
		t.Fatal("an expired interaction stored events")
	}
}
