package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/config"
)

// A hostile client of the admin GraphQL API speaks the protocol itself:
// it signs (or does not sign) bodies of its own making, plays with the
// signature and tenant headers, the media type, the document (aliases,
// several operations, directives, fragments, size) and idempotency keys.
// Whatever it sends, nothing unsigned runs, one idempotency key runs one
// command, and no answer is a 500 or shows the server's internals.

// gqhAnswer is what the endpoint answered to one raw request.
type gqhAnswer struct {
	status int
	body   []byte
	data   map[string]json.RawMessage
	errors []struct {
		Message    string
		Extensions struct{ Code string }
	}
}

func (a gqhAnswer) code() string {
	if len(a.errors) == 0 {
		return ""
	}
	return a.errors[0].Extensions.Code
}

// ran reports whether the answer holds data for the field (alias) name.
func (a gqhAnswer) ran(name string) bool {
	v, ok := a.data[name]
	return ok && string(v) != "null"
}

// gqhSend posts body to the admin endpoint with the headers given (nil
// values delete a header) and reads the answer, checking that it never is
// a 500 nor shows the server's internals.
func gqhSend(t *testing.T, s *system, method, url string, body []byte, headers map[string][]string) gqhAnswer {
	t.Helper()
	if url == "" {
		url = s.adminURL
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range headers {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := gqhAnswer{status: resp.StatusCode, body: raw}
	var env struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors json.RawMessage            `json:"errors"`
	}
	if json.Unmarshal(raw, &env) == nil {
		a.data = env.Data
		_ = json.Unmarshal(env.Errors, &a.errors)
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("%s: HTTP %d: %s", gqhShort(body), resp.StatusCode, gqhShort(raw))
	}
	for _, leak := range []string{"goroutine", ".go:", "runtime error", "panic", "redis:", "pq:", "SQLSTATE", "nats:", "json: cannot", "*adminapi", "RawParams"} {
		if bytes.Contains(raw, []byte(leak)) {
			t.Errorf("%s: the answer shows internals (%q): %s", gqhShort(body), leak, gqhShort(raw))
		}
	}
	return a
}

func gqhShort(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + fmt.Sprintf("…(%d bytes)", len(b))
	}
	return string(b)
}

// gqhSigned signs body as c's tenant at the time given and sends it.
func gqhSigned(t *testing.T, s *system, c *adminclient.Client, body []byte, at time.Time) gqhAnswer {
	t.Helper()
	sig, err := adminauth.Sign(c.Secret, 1, body, at)
	if err != nil {
		t.Fatal(err)
	}
	return gqhSend(t, s, http.MethodPost, "", body, map[string][]string{"tenant-id": {c.TenantID}, "signature": {sig}})
}

// gqhBody is a request body: the query, its variables and a nonce, so that
// two requests alike are not one replayed.
func gqhBody(t *testing.T, query string, variables map[string]any, extra ...any) []byte {
	t.Helper()
	m := map[string]any{"query": query, "variables": variables, "extensions": map[string]any{"nonce": uuid.NewString()}}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gqhIncomingCount is how many incoming payments the wallet address holds,
// read until the count stays the same for a while (the read model follows
// the events).
func gqhIncomingCount(t *testing.T, c *adminclient.Client, walletID string) int {
	t.Helper()
	var last = -1
	stable := 0
	for range 40 {
		var out struct {
			WalletAddress struct {
				IncomingPayments struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
		}
		if err := c.Do(context.Background(), `query($id: String!) { walletAddress(id: $id) { incomingPayments(first: 100) { edges { node { id } } } } }`,
			map[string]any{"id": walletID}, &out); err != nil {
			t.Fatal(err)
		}
		n := len(out.WalletAddress.IncomingPayments.Edges)
		if n == last {
			if stable++; stable >= 3 {
				return n
			}
		} else {
			last, stable = n, 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	return last
}

const gqhCreateIncoming = `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`

// A signature covers the JCS form of the body, where a number is written as
// the double nearest it, while a String argument given as a JSON number
// runs as the digits it is given: 100 and 1e2 (or 1 and 1.0000000000000001,
// 0 and -0) are one canonical text and two requests. A body sent with the
// other spelling runs as signed (the API runs the canonical form, as
// Rafiki runs what JavaScript parsed), never as sent.
func TestAdminSignatureBindsNumbersAsTheyRun(t *testing.T) {
	s := start(t)
	op := s.operator
	for _, c := range []struct{ signed, sent string }{
		{`100`, `1e2`},
		{`1`, `1.0000000000000001`},
		{`0`, `-0`},
	} {
		id := uuid.NewString()
		query := `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id publicName } } }`
		signedBody := fmt.Sprintf(`{"query":%q,"variables":{"input":{"id":%q,"apiSecret":"s-%s","publicName":%s}}}`, query, id, id, c.signed)
		sentBody := fmt.Sprintf(`{"query":%q,"variables":{"input":{"id":%q,"apiSecret":"s-%s","publicName":%s}}}`, query, id, id, c.sent)
		sig, err := adminauth.Sign(op.Secret, 1, []byte(signedBody), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		a := gqhSend(t, s, http.MethodPost, "", []byte(sentBody), map[string][]string{"tenant-id": {op.TenantID}, "signature": {sig}})
		if !a.ran("createTenant") {
			continue
		}
		var out struct{ Tenant struct{ PublicName string } }
		if err := json.Unmarshal(a.data["createTenant"], &out); err != nil {
			t.Fatal(err)
		}
		if out.Tenant.PublicName != c.signed {
			t.Errorf("publicName %s signed, %s sent: the request ran with %q, not as signed", c.signed, c.sent, out.Tenant.PublicName)
		}
	}
}

// A document is parsed and validated before any limit of its shape is
// applied; one of many tokens (Rafiki's GraphQL Armor refuses more than
// 1000 tokens and 50 directives) must be refused without costing the
// server seconds of work.
func TestAdminGraphQLRefusesHugeDocumentsCheaply(t *testing.T) {
	s := start(t)
	op := s.operator
	for _, c := range []struct{ name, query string }{
		{"one field 8 000 times", "{ " + strings.Repeat("__typename ", 8_000) + "}"},
		{"one field with 8 000 directives", "{ __typename " + strings.Repeat("@include(if: true) ", 8_000) + "}"},
		{"whoami 4 000 times", "{ " + strings.Repeat("whoami { id } ", 4_000) + "}"},
	} {
		began := time.Now()
		a := gqhSigned(t, s, op, gqhBody(t, c.query, nil), time.Now())
		took := time.Since(began)
		t.Logf("%s: %d bytes, HTTP %d in %v: %s", c.name, len(c.query), a.status, took, gqhShort(a.body))
		// One refusal says enough: thousands of errors would make the
		// answer a multiple of the request.
		if len(a.errors) == 0 || len(a.errors) > 100 || took > time.Second {
			t.Errorf("%s: answered in %v with %d errors, want a refusal within a second", c.name, took, len(a.errors))
		}
	}
}

// The transport and the signature header, played with by a client with and
// without the tenant's secret: only a signed POST of one JSON object runs.
func TestAdminGraphQLAgainstAHostileClient(t *testing.T) {
	s := startSystem(t, false, func(c *config.Config) { c.GraphQLIntrospection = false })
	ctx := context.Background()
	op := s.operator
	pt := newPayingTenant(t, s, "gqh")
	wallet := pt.wallet(t, "gqh-alice")
	input := func() map[string]any { return map[string]any{"walletAddressId": wallet.ID} }
	mutation := gqlMutationBody(t, input())

	// Every refusal below must leave the wallet address without payments.
	t.Run("unsigned or wrongly signed", func(t *testing.T) {
		now := time.Now()
		sig := func(body []byte, at time.Time, secret string) string {
			h, err := adminauth.Sign(secret, 1, body, at)
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		for name, c := range map[string]struct {
			method, url string
			headers     map[string][]string
			body        []byte
			status      int
		}{
			"GET with the query in the URL": {method: http.MethodGet, url: s.adminURL + "?query=" + strings.ReplaceAll(gqhCreateIncoming, " ", "+"),
				headers: map[string][]string{"tenant-id": {pt.id}, "signature": {sig([]byte(`{}`), now, pt.c.Secret)}}, status: http.StatusMethodNotAllowed},
			"PUT": {method: http.MethodPut, body: mutation, headers: map[string][]string{"tenant-id": {pt.id}, "signature": {sig(mutation, now, pt.c.Secret)}},
				status: http.StatusMethodNotAllowed},
			"no headers":              {body: mutation, status: http.StatusUnauthorized},
			"another tenant's secret": {body: mutation, headers: map[string][]string{"tenant-id": {pt.id}, "signature": {sig(mutation, now, "guess")}}, status: http.StatusUnauthorized},
			"version 2": {body: mutation, headers: map[string][]string{"tenant-id": {pt.id},
				"signature": {strings.Replace(sig(mutation, now, pt.c.Secret), "v1=", "v2=", 1)}}, status: http.StatusUnauthorized},
			"timestamp in seconds": {body: mutation, headers: map[string][]string{"tenant-id": {pt.id},
				"signature": {gqhSignAt(t, pt.c.Secret, mutation, fmt.Sprint(now.Unix()))}}, status: http.StatusUnauthorized},
			"far future": {body: mutation, headers: map[string][]string{"tenant-id": {pt.id}, "signature": {sig(mutation, now.Add(time.Hour), pt.c.Secret)}},
				status: http.StatusUnauthorized},
			"a forged signature header first, the valid one second": {body: mutation, headers: map[string][]string{"tenant-id": {pt.id},
				"signature": {"t=1, v1=" + strings.Repeat("00", 32), sig(mutation, now, pt.c.Secret)}}, status: http.StatusUnauthorized},
			"another tenant's id first": {body: mutation, headers: map[string][]string{"tenant-id": {op.TenantID, pt.id},
				"signature": {sig(mutation, now, pt.c.Secret)}}, status: http.StatusUnauthorized},
			"the body changed after signing": {body: bytes.Replace(mutation, []byte(wallet.ID), []byte(strings.ToUpper(wallet.ID)), 1),
				headers: map[string][]string{"tenant-id": {pt.id}, "signature": {sig(mutation, now, pt.c.Secret)}}, status: http.StatusUnauthorized},
			"an integer beyond 2^53": {body: []byte(`{"query":"{ __typename }","variables":{"n":9007199254740993}}`),
				headers: map[string][]string{"tenant-id": {pt.id}, "signature": {sig([]byte(`{"query":"{ __typename }","variables":{"n":9007199254740992}}`), now, pt.c.Secret)}},
				status:  http.StatusUnauthorized},
		} {
			a := gqhSend(t, s, cmpOr(c.method, http.MethodPost), c.url, c.body, c.headers)
			if a.status != c.status || len(a.data) > 0 {
				t.Errorf("%s: HTTP %d %s, want %d and nothing run", name, a.status, gqhShort(a.body), c.status)
			}
		}
	})

	t.Run("signed, but not one JSON object", func(t *testing.T) {
		for name, c := range map[string]struct {
			body        []byte
			contentType string
		}{
			"text/plain":           {mutation, "text/plain"},
			"multipart":            {mutation, "multipart/form-data; boundary=x"},
			"a batch":              {[]byte("[" + string(mutation) + "," + string(gqlMutationBody(t, input())) + "]"), "application/json"},
			"a byte order mark":    {append([]byte("\xef\xbb\xbf"), gqlMutationBody(t, input())...), "application/json"},
			"the query key twice":  {[]byte(`{"query":"{ __typename }","query":` + mustJSON(t, gqhCreateIncoming) + `,"variables":{"input":{"walletAddressId":"` + wallet.ID + `"}}}`), "application/json"},
			"an invalid surrogate": {[]byte(`{"query":"{ __typename }","variables":{"x":"\udc00"}}`), "application/json"},
		} {
			sig, err := adminauth.Sign(pt.c.Secret, 1, c.body, time.Now())
			if err != nil {
				// JCS refuses the body: it cannot be signed, so it is sent
				// with a signature of something else.
				sig, _ = adminauth.Sign(pt.c.Secret, 1, []byte(`{}`), time.Now())
			}
			a := gqhSend(t, s, http.MethodPost, "", c.body, map[string][]string{"tenant-id": {pt.id}, "signature": {sig}, "Content-Type": {c.contentType}})
			if a.status == http.StatusOK && a.ran("createIncomingPayment") || a.status/100 == 2 && len(a.errors) == 0 {
				t.Errorf("%s: HTTP %d %s, want a refusal", name, a.status, gqhShort(a.body))
			}
		}
	})

	t.Run("the tenant id spelt otherwise", func(t *testing.T) {
		// uuid forms all name one tenant: the replay guard must see one
		// signature, however the header spells its tenant.
		body := gqhBody(t, `{ whoami { id } }`, nil)
		sig, _ := adminauth.Sign(pt.c.Secret, 1, body, time.Now())
		first := gqhSend(t, s, http.MethodPost, "", body, map[string][]string{"tenant-id": {strings.ToUpper(pt.id)}, "signature": {sig}})
		if first.status != http.StatusOK || !strings.Contains(string(first.body), pt.id) {
			t.Fatalf("upper case tenant id: HTTP %d %s", first.status, first.body)
		}
		for _, spelt := range []string{pt.id, "{" + pt.id + "}", "urn:uuid:" + pt.id, strings.ReplaceAll(pt.id, "-", "")} {
			a := gqhSend(t, s, http.MethodPost, "", body, map[string][]string{"tenant-id": {spelt}, "signature": {sig}})
			if a.status != http.StatusUnauthorized {
				t.Errorf("the same signature with tenant-id %s: HTTP %d %s, want a replay refused", spelt, a.status, a.body)
			}
		}
	})

	t.Run("the document", func(t *testing.T) {
		before := gqhIncomingCount(t, pt.c, wallet.ID)
		twoOps := `query Q { whoami { id } } mutation M($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id } } }`
		vars := map[string]any{"input": input()}
		// operationName selects the query: the mutation beside it does not run.
		if a := gqhSigned(t, s, pt.c, gqhBody(t, twoOps, vars, "operationName", "Q"), time.Now()); a.ran("createIncomingPayment") || !a.ran("whoami") {
			t.Errorf("operationName Q: %s", a.body)
		}
		// Signed for Q, sent as M: the signature covers operationName.
		qBody := gqhBody(t, twoOps, vars, "operationName", "Q")
		sig, _ := adminauth.Sign(pt.c.Secret, 1, qBody, time.Now())
		mBody := bytes.Replace(qBody, []byte(`"operationName":"Q"`), []byte(`"operationName":"M"`), 1)
		if a := gqhSend(t, s, http.MethodPost, "", mBody, map[string][]string{"tenant-id": {pt.id}, "signature": {sig}}); a.status != http.StatusUnauthorized {
			t.Errorf("operationName changed after signing: HTTP %d %s", a.status, a.body)
		}
		// No operationName with two operations: nothing runs.
		if a := gqhSigned(t, s, pt.c, gqhBody(t, twoOps, vars), time.Now()); a.ran("createIncomingPayment") || len(a.errors) == 0 {
			t.Errorf("two operations, no name: %s", a.body)
		}
		// A query in the URL of a signed POST is not the signed one.
		body := gqhBody(t, `{ whoami { id } }`, nil)
		sigURL, _ := adminauth.Sign(pt.c.Secret, 1, body, time.Now())
		if a := gqhSend(t, s, http.MethodPost, s.adminURL+"?query=mutation+%7B+__typename+%7D", body,
			map[string][]string{"tenant-id": {pt.id}, "signature": {sigURL}}); !a.ran("whoami") {
			t.Errorf("signed POST with a query in the URL: %s", a.body)
		}
		// @skip on a mutation: it does not run.
		skipped := `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) @skip(if: true) { payment { id } } }`
		if a := gqhSigned(t, s, pt.c, gqhBody(t, skipped, vars), time.Now()); a.ran("createIncomingPayment") {
			t.Errorf("@skip(if: true): %s", a.body)
		}
		// A fragment cycle is refused as invalid.
		cycle := `{ whoami { ...A } } fragment A on WhoamiResponse { id ...B } fragment B on WhoamiResponse { ...A }`
		if a := gqhSigned(t, s, pt.c, gqhBody(t, cycle, nil), time.Now()); a.code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("fragment cycle: %s", a.body)
		}
		// 16 aliased mutations: refused whole, none runs.
		var many strings.Builder
		for i := range 16 {
			fmt.Fprintf(&many, "p%d: createIncomingPayment(input: $input) { payment { id } } ", i)
		}
		if a := gqhSigned(t, s, pt.c, gqhBody(t, `mutation($input: CreateIncomingPaymentInput!) { `+many.String()+`}`, vars), time.Now()); len(a.data) > 0 && a.ran("p0") ||
			a.code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("16 aliased mutations: %s", gqhShort(a.body))
		}
		// Two aliases under one idempotency key: one payment, answered twice.
		keyed := map[string]any{"input": map[string]any{"walletAddressId": wallet.ID, "idempotencyKey": uuid.NewString()}}
		a := gqhSigned(t, s, pt.c, gqhBody(t, `mutation($input: CreateIncomingPaymentInput!) { a: createIncomingPayment(input: $input) { payment { id } } b: createIncomingPayment(input: $input) { payment { id } } }`, keyed), time.Now())
		if !a.ran("a") || string(a.data["a"]) != string(a.data["b"]) {
			t.Errorf("two aliases, one key: %s", a.body)
		}
		// The same key for another mutation in the same document: refused.
		ka := keyed["input"].(map[string]any)["idempotencyKey"]
		a = gqhSigned(t, s, pt.c, gqhBody(t, `mutation($k: String!) { createAsset(input: {code: "EUR", scale: 2, idempotencyKey: $k}) { asset { id } } }`,
			map[string]any{"k": ka}), time.Now())
		if a.ran("createAsset") || a.code() != "BAD_USER_INPUT" {
			t.Errorf("the key of a createIncomingPayment on createAsset: %s", a.body)
		}
		if after := gqhIncomingCount(t, pt.c, wallet.ID); after != before+1 {
			t.Errorf("the document attacks made %d incoming payments, want 1 (the keyed one)", after-before)
		}
	})

	t.Run("variables", func(t *testing.T) {
		deep := any("x")
		for range 5000 {
			deep = []any{deep}
		}
		for name, vars := range map[string]map[string]any{
			"a string for the input":    {"input": "x"},
			"a number for the id":       {"input": map[string]any{"walletAddressId": 12}},
			"a 900 KiB id":              {"input": map[string]any{"walletAddressId": strings.Repeat("a", 900<<10)}},
			"5000 nested lists":         {"input": map[string]any{"walletAddressId": wallet.ID, "metadata": deep}},
			"an unknown field":          {"input": map[string]any{"walletAddressId": wallet.ID, "tenantId": op.TenantID}},
			"an amount beyond 2^64":     {"input": map[string]any{"walletAddressId": wallet.ID, "incomingAmount": usdAmount("18446744073709551616")}},
			"a 900 KiB idempotency key": {"input": map[string]any{"walletAddressId": wallet.ID, "idempotencyKey": strings.Repeat("k", 900<<10)}},
		} {
			a := gqhSigned(t, s, pt.c, gqhBody(t, gqhCreateIncoming, vars), time.Now())
			if a.ran("createIncomingPayment") && name != "a 900 KiB idempotency key" && name != "5000 nested lists" {
				t.Errorf("%s: ran: %s", name, gqhShort(a.body))
			}
		}
	})

	t.Run("introspection off", func(t *testing.T) {
		for q, want := range map[string]bool{
			`{ __schema { types { name } } }`:       false,
			`{ __type(name: "Mutation") { name } }`: false,
			`{ __typename }`:                        true,
		} {
			a := gqhSigned(t, s, pt.c, gqhBody(t, q, nil), time.Now())
			if got := len(a.errors) == 0; got != want {
				t.Errorf("%s with introspection off: %s", q, a.body)
			}
		}
	})
	_ = ctx
}

// Twenty requests at once under one key: one command runs, every answer is
// its result or the lock's CONFLICT; a key whose request failed is not
// kept, so the right request under it runs then (Rafiki keeps only
// results); another tenant's same key is its own.
func TestIdempotencyKeysAgainstAHostileClient(t *testing.T) {
	s := start(t)
	pt := newPayingTenant(t, s, "gqi")
	wallet := pt.wallet(t, "gqi-alice")
	key := uuid.NewString()
	body := func() []byte {
		return gqhBody(t, gqhCreateIncoming, map[string]any{"input": map[string]any{"walletAddressId": wallet.ID, "idempotencyKey": key}})
	}
	var wg sync.WaitGroup
	answers := make([]gqhAnswer, 20)
	bodies := make([][]byte, 20)
	for i := range bodies {
		bodies[i] = body()
	}
	for i := range 20 {
		wg.Go(func() { answers[i] = gqhSigned(t, s, pt.c, bodies[i], time.Now()) })
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, a := range answers {
		switch {
		case a.ran("createIncomingPayment"):
			ids[string(a.data["createIncomingPayment"])] = true
		case a.code() != "CONFLICT":
			t.Errorf("concurrent request under one key: HTTP %d %s", a.status, a.body)
		}
	}
	if len(ids) != 1 {
		t.Errorf("20 concurrent requests under one key answered %d payments", len(ids))
	}
	if n := gqhIncomingCount(t, pt.c, wallet.ID); n != 1 {
		t.Errorf("20 concurrent requests under one key made %d payments", n)
	}

	// A failed first request under a key.
	failing := uuid.NewString()
	bad := map[string]any{"input": map[string]any{"walletAddressId": uuid.NewString(), "idempotencyKey": failing}}
	for range 2 {
		if a := gqhSigned(t, s, pt.c, gqhBody(t, gqhCreateIncoming, bad), time.Now()); a.ran("createIncomingPayment") || a.code() != "NOT_FOUND" {
			t.Errorf("unknown wallet address under a key: %s", a.body)
		}
	}
	good := map[string]any{"input": map[string]any{"walletAddressId": wallet.ID, "idempotencyKey": failing}}
	if a := gqhSigned(t, s, pt.c, gqhBody(t, gqhCreateIncoming, good), time.Now()); !a.ran("createIncomingPayment") {
		t.Errorf("the right request under a key whose first request failed: %s", a.body)
	}

	// Another tenant under the first tenant's key: its own request, and
	// the first tenant's answer is not shown to it.
	other := newPayingTenant(t, s, "gqj")
	otherWallet := other.wallet(t, "gqj-bob")
	a := gqhSigned(t, s, other.c, gqhBody(t, gqhCreateIncoming, map[string]any{"input": map[string]any{"walletAddressId": otherWallet.ID, "idempotencyKey": key}}), time.Now())
	if !a.ran("createIncomingPayment") || ids[string(a.data["createIncomingPayment"])] {
		t.Errorf("another tenant under the same key: %s", a.body)
	}
	a = gqhSigned(t, s, other.c, gqhBody(t, gqhCreateIncoming, map[string]any{"input": map[string]any{"walletAddressId": wallet.ID, "idempotencyKey": key}}), time.Now())
	if a.ran("createIncomingPayment") {
		t.Errorf("another tenant replaying the first tenant's request under its key: %s", a.body)
	}
}

// The transport's own refusals of a body's fields (variables that are not
// an object, a query that is not a string) speak in Go's words and echo
// the body; they must be coded bad input in the API's words, as
// adminapi.requestShape does for a body that is not one JSON object.
func TestAdminGraphQLRequestFieldsOfTheWrongTypeShowNoInternals(t *testing.T) {
	s := start(t)
	for _, body := range []string{
		`{"query":"{ __typename }","variables":[1,2]}`,
		`{"query":5}`,
		`{"query":"{ __typename }","operationName":7}`,
		`{"query":"{ __typename }","extensions":"x"}`,
	} {
		a := gqhSigned(t, s, s.operator, []byte(body), time.Now())
		if a.code() != "BAD_USER_INPUT" {
			t.Errorf("%s: %s, want BAD_USER_INPUT", body, a.body)
		}
	}
}

func gqlMutationBody(t *testing.T, input map[string]any) []byte {
	return gqhBody(t, gqhCreateIncoming, map[string]any{"input": input})
}

// gqhSignAt signs with a timestamp text of the caller's choosing.
func gqhSignAt(t *testing.T, secret string, body []byte, ts string) string {
	t.Helper()
	h, err := adminauth.Sign(secret, 1, body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Re-sign the same digest input under the other timestamp: the header
	// form is "t=<ts>, v1=<hex>"; a wrong-unit timestamp must fail its age
	// check whatever the digest, so the digest of "now" is kept.
	_, v, _ := strings.Cut(h, ", ")
	return "t=" + ts + ", " + v
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
