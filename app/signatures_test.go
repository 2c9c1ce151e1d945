package app_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
)

// refusesBadSignatures checks an admin GraphQL endpoint that operator signs
// for: a signed request with body is answered; the same request replayed
// (also with a nonce added to the unsigned part of its header), one signed a
// minute ago, one signed with a wrong secret, an unsigned one and every one
// of also get 401; a signed GET carrying smuggled in its URL gets 405 and
// none of hidden in its answer.
func refusesBadSignatures(t *testing.T, operator *adminclient.Client, body []byte, also map[string]*http.Request, smuggled string, hidden ...string) {
	t.Helper()
	ctx := context.Background()
	send := func(req *http.Request) int {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good, err := operator.Request(ctx, body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	replay, _ := operator.Request(ctx, body, time.Now())
	replay.Header.Set("signature", good.Header.Get("signature"))
	if got := send(good); got != http.StatusOK {
		t.Fatalf("signed request: %d", got)
	}
	stale, _ := operator.Request(ctx, body, time.Now().Add(-time.Minute))
	wrong, _ := (&adminclient.Client{URL: operator.URL, TenantID: operator.TenantID, Secret: "not-the-secret"}).Request(ctx, body, time.Now())
	unsigned, _ := http.NewRequest(http.MethodPost, operator.URL, strings.NewReader(string(body)))
	unsigned.Header.Set("Content-Type", "application/json")
	nonced, _ := operator.Request(ctx, body, time.Now())
	nonced.Header.Set("signature", good.Header.Get("signature")+", n=x1")
	refused := map[string]*http.Request{"replayed": replay, "replayed with a nonce": nonced, "stale": stale,
		"wrong secret": wrong, "unsigned": unsigned}
	for name, req := range also {
		refused[name] = req
	}
	for name, req := range refused {
		if got := send(req); got != http.StatusUnauthorized {
			t.Errorf("%s request: %d, want 401", name, got)
		}
	}

	// A signed harmless body cannot carry a query in the URL: GET is not
	// served at all.
	get, _ := operator.Request(ctx, body, time.Now())
	get.Method = http.MethodGet
	get.URL.RawQuery = url.Values{"query": {smuggled}}.Encode()
	resp, err := http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	leaked := strings.Contains(string(answer), "data")
	for _, h := range hidden {
		leaked = leaked || strings.Contains(string(answer), h)
	}
	if resp.StatusCode != http.StatusMethodNotAllowed || leaked {
		t.Fatalf("signed GET with a query in the URL: %d %s, want 405 and nothing else", resp.StatusCode, answer)
	}
}
