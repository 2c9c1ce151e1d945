package authsvc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/handlers/grant"
)

func TestDiscovery(t *testing.T) {
	f := setup(t, nil)
	r := do(t, get(t, f.authURL+"/discovery", nil))
	if r.status != http.StatusOK || str(r.body, "grant_request_endpoint") != "/" {
		t.Fatalf("discovery: %d %s", r.status, r.raw)
	}
}

// A non-interactive grant, signed with a key from the client's jwks.json,
// gets its token at once; the token is rotated and revoked, the grant
// revoked, each signed by the client.
func TestNonInteractiveGrantRotateRevoke(t *testing.T) {
	f := setup(t, nil)
	r := do(t, signed(t, "POST", f.authURL+"/"+f.tenantID, map[string]any{
		"access_token": map[string]any{"access": incomingAccess()}, "client": f.wallet("alice"),
	}, "", f.key))
	if r.status != http.StatusOK {
		t.Fatalf("grant request: %d %s", r.status, r.raw)
	}
	value, manage := str(r.body, "access_token", "value"), str(r.body, "access_token", "manage")
	if value == "" || !strings.HasPrefix(manage, f.authURL+"/token/") || str(r.body, "access_token", "expires_in") != "600" {
		t.Fatalf("access token: %s", r.raw)
	}
	if access, _ := r.body["access_token"].(map[string]any)["access"].([]any); len(access) != 1 {
		t.Fatalf("access: %s", r.raw)
	}
	cont, contToken := str(r.body, "continue", "uri"), str(r.body, "continue", "access_token", "value")
	if !strings.HasPrefix(cont, f.authURL+"/continue/") || contToken == "" || r.body["interact"] != nil {
		t.Fatalf("continue: %s", r.raw)
	}

	rot := do(t, signed(t, "POST", manage, nil, value, f.key))
	if rot.status != http.StatusOK {
		t.Fatalf("rotate: %d %s", rot.status, rot.raw)
	}
	newValue, newManage := str(rot.body, "access_token", "value"), str(rot.body, "access_token", "manage")
	if newValue == "" || newValue == value || newManage == manage {
		t.Fatalf("rotated token: %s", rot.raw)
	}
	again := do(t, signed(t, "POST", manage, nil, value, f.key))
	if again.status != http.StatusUnauthorized || again.code() != "invalid_client" {
		t.Fatalf("rotating a rotated token: %d %s", again.status, again.raw)
	}
	if del := do(t, signed(t, "DELETE", newManage, nil, newValue, f.key)); del.status != http.StatusNoContent {
		t.Fatalf("revoke token: %d %s", del.status, del.raw)
	}
	if del := do(t, signed(t, "DELETE", newManage, nil, newValue, f.key)); del.status != http.StatusUnauthorized {
		t.Fatalf("revoke a revoked token: %d %s", del.status, del.raw)
	}
	if del := do(t, signed(t, "DELETE", cont, nil, contToken, f.key)); del.status != http.StatusNoContent {
		t.Fatalf("revoke grant: %d %s", del.status, del.raw)
	}
	if del := do(t, signed(t, "DELETE", cont, nil, contToken, f.key)); del.status != http.StatusNoContent {
		t.Fatalf("revoke a revoked grant: %d %s", del.status, del.raw)
	}
}

// A client may carry its key instead of a wallet address (directed
// identity), for a non-interactive grant.
func TestJWKClient(t *testing.T) {
	f := setup(t, nil)
	k := newKey(t, "inline")
	r := do(t, signed(t, "POST", f.authURL+"/"+f.tenantID, map[string]any{
		"access_token": map[string]any{"access": incomingAccess()}, "client": map[string]any{"jwk": k.jwk},
	}, "", k))
	if r.status != http.StatusOK || str(r.body, "access_token", "value") == "" {
		t.Fatalf("jwk grant: %d %s", r.status, r.raw)
	}
}

// interactive requests an outgoing-payment grant that sends the browser
// back to finishURI ("" for none) and returns the answer.
func interactive(t *testing.T, f *fixture, finishURI string) response {
	t.Helper()
	interact := map[string]any{"start": []string{"redirect"}}
	if finishURI != "" {
		interact["finish"] = map[string]any{"method": "redirect", "uri": finishURI, "nonce": "client-nonce"}
	}
	r := do(t, signed(t, "POST", f.authURL+"/"+f.tenantID, map[string]any{
		"access_token": map[string]any{"access": outgoingAccess(f)}, "client": f.wallet("alice"), "interact": interact,
	}, "", f.key))
	if r.status != http.StatusOK {
		t.Fatalf("interactive grant request: %d %s", r.status, r.raw)
	}
	return r
}

// The interactive flow end to end: the browser is sent to the identity
// provider with a session, the provider reads and accepts the grant, the
// browser comes back and is sent to the client with the finish hash, and
// the client continues with the interaction reference.
func TestInteractiveGrant(t *testing.T) {
	f := setup(t, nil)
	r := interactive(t, f, "https://client.example/finish?x=1")
	redirect := str(r.body, "interact", "redirect")
	finish := str(r.body, "interact", "finish")
	if !strings.HasPrefix(redirect, f.authURL+"/interact/") || finish == "" || str(r.body, "continue", "wait") != "1" {
		t.Fatalf("pending grant: %s", r.raw)
	}
	ru, _ := url.Parse(redirect)
	if ru.Query().Get("clientName") != "Alice's Shop" || ru.Query().Get("clientUri") != f.wallet("alice") {
		t.Fatalf("redirect %s", redirect)
	}
	parts := strings.Split(strings.TrimPrefix(ru.Path, "/interact/"), "/")
	interactID, nonce := parts[0], parts[1]
	if nonce != finish {
		t.Fatalf("redirect nonce %s, finish %s", nonce, finish)
	}

	start := do(t, get(t, redirect, nil))
	if start.status != http.StatusFound {
		t.Fatalf("start: %d %s", start.status, start.raw)
	}
	consent, _ := url.Parse(start.location)
	q := consent.Query()
	if consent.Host != "idp.example" || q.Get("lang") != "en" || q.Get("interactId") != interactID || q.Get("nonce") != nonce ||
		q.Get("clientName") != "Alice's Shop" || q.Get("clientUri") != f.wallet("alice") {
		t.Fatalf("consent redirect %s", start.location)
	}
	cookie := start.header.Get("Set-Cookie")
	if !strings.Contains(cookie, "sessionId=") || !strings.Contains(cookie, "HttpOnly") {
		t.Fatalf("session cookie %q", cookie)
	}
	session := http.Header{"Cookie": {strings.Split(cookie, ";")[0]}}

	secret := http.Header{"X-Idp-Secret": {idpSecret}}
	details := do(t, get(t, f.idpURL+"/grant/"+interactID+"/"+nonce, secret))
	if details.status != http.StatusOK || str(details.body, "state") != "PENDING" || str(details.body, "grantId") == "" {
		t.Fatalf("details: %d %s", details.status, details.raw)
	}
	accept, _ := http.NewRequest("POST", f.idpURL+"/grant/"+interactID+"/"+nonce+"/accept", nil)
	accept.Header = secret
	if a := do(t, accept); a.status != http.StatusAccepted {
		t.Fatalf("accept: %d %s", a.status, a.raw)
	}

	back := do(t, get(t, redirect[:strings.Index(redirect, "?")]+"/finish", session))
	if back.status != http.StatusFound {
		t.Fatalf("finish: %d %s", back.status, back.raw)
	}
	to, _ := url.Parse(back.location)
	ref := to.Query().Get("interact_ref")
	want := grant.FinishHash("client-nonce", nonce, ref, grant.GrantEndpoint(f.authURL, f.tenantID))
	if to.Host != "client.example" || to.Query().Get("x") != "1" || ref == "" || to.Query().Get("hash") != want {
		t.Fatalf("finish redirect %s, want hash %s", back.location, want)
	}

	time.Sleep(f.policy.Wait)
	cont := do(t, signed(t, "POST", str(r.body, "continue", "uri"), map[string]any{"interact_ref": ref},
		str(r.body, "continue", "access_token", "value"), f.key))
	if cont.status != http.StatusOK || str(cont.body, "access_token", "value") == "" ||
		!strings.HasPrefix(str(cont.body, "access_token", "manage"), f.authURL+"/token/") {
		t.Fatalf("continue: %d %s", cont.status, cont.raw)
	}
}

// A rejected interaction sends the browser back with grant_rejected.
func TestRejectedInteraction(t *testing.T) {
	f := setup(t, nil)
	r := interactive(t, f, "https://client.example/finish")
	redirect := str(r.body, "interact", "redirect")
	ru, _ := url.Parse(redirect)
	parts := strings.Split(strings.TrimPrefix(ru.Path, "/interact/"), "/")
	start := do(t, get(t, redirect, nil))
	session := http.Header{"Cookie": {strings.Split(start.header.Get("Set-Cookie"), ";")[0]}}
	reject, _ := http.NewRequest("POST", f.idpURL+"/grant/"+parts[0]+"/"+parts[1]+"/reject", nil)
	reject.Header.Set("X-Idp-Secret", idpSecret)
	if a := do(t, reject); a.status != http.StatusAccepted {
		t.Fatalf("reject: %d %s", a.status, a.raw)
	}
	back := do(t, get(t, f.authURL+ru.Path+"/finish", session))
	if back.status != http.StatusFound || !strings.Contains(back.location, "result=grant_rejected") {
		t.Fatalf("finish: %d %s", back.status, back.location)
	}
}

// A grant without a finish URI is polled; within the wait it is too fast.
func TestPollTooFast(t *testing.T) {
	f := setup(t, nil)
	r := interactive(t, f, "")
	uri, token := str(r.body, "continue", "uri"), str(r.body, "continue", "access_token", "value")
	fast := do(t, signed(t, "POST", uri, nil, token, f.key))
	if fast.status != http.StatusBadRequest || fast.code() != "too_fast" {
		t.Fatalf("poll at once: %d %s", fast.status, fast.raw)
	}
	time.Sleep(f.policy.Wait)
	poll := do(t, signed(t, "POST", uri, map[string]any{}, token, f.key))
	if poll.status != http.StatusOK || str(poll.body, "continue", "wait") != "1" || poll.body["access_token"] != nil {
		t.Fatalf("poll: %d %s", poll.status, poll.raw)
	}
	again := do(t, signed(t, "POST", uri, nil, token, f.key))
	if again.status != http.StatusBadRequest || again.code() != "too_fast" {
		t.Fatalf("poll right after a poll: %d %s", again.status, again.raw)
	}
}
