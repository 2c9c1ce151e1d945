package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/rafiki-go/rafiki/adminauth"
)

// Production turns introspection off unless configured: the schema is then
// not served, while ordinary queries still are.
func TestIntrospectionFollowsTheOption(t *testing.T) {
	for _, on := range []bool{true, false} {
		h := Handler(&Resolver{}, Options{Introspection: on, Log: slog.New(slog.DiscardHandler)})
		ctx := adminauth.WithIdentity(context.Background(), adminauth.Identity{TenantID: "00000000-0000-4000-8000-000000000001", IsOperator: true})
		for query, wantErrors := range map[string]bool{
			`{"query":"{ __schema { queryType { name } } }"}`: !on,
			`{"query":"{ whoami { id isOperator } }"}`:        false,
		} {
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", strings.NewReader(query))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := strings.Contains(rec.Body.String(), `"errors"`); got != wantErrors {
				t.Errorf("introspection %v, %s: %s", on, query, rec.Body)
			}
		}
	}
}

// A document may hold 15 aliases and 10 levels of fields, as Rafiki's
// GraphQL Armor allows, counted where fragments are spread; the schema's
// introspection is not held to the depth; a wrong name gets no
// suggestion of the right one.
func TestQueryShape(t *testing.T) {
	h := Handler(&Resolver{}, Options{Introspection: true, Log: slog.New(slog.DiscardHandler)})
	ctx := adminauth.WithIdentity(context.Background(), adminauth.Identity{TenantID: "00000000-0000-4000-8000-000000000001", IsOperator: true})
	aliases := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "a%d: whoami { id } ", i)
		}
		return b.String()
	}
	deepType := "name" + strings.Repeat(" }", 10)
	for _, c := range []struct {
		name, query, refusal string
	}{
		{"15 aliases", "{ " + aliases(15) + "}", ""},
		{"16 aliases", "{ " + aliases(16) + "}", "more than 15 aliases"},
		{"aliases in fragments", "{ ...F x: whoami { ...G } } fragment F on Query { " + aliases(7) + "} fragment G on WhoamiResponse { i: id }",
			""},
		{"aliases of a fragment spread twice", "{ ...F ...H } fragment F on Query { " + aliases(8) + "} fragment H on Query { ...F }",
			"more than 15 aliases"},
		{"introspection deeper than 10", "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { " + deepType + " } }", ""},
		{"a wrong name", "{ whoami { idd } }", `Cannot query field "idd" on type "WhoamiResponse".`},
	} {
		body, _ := json.Marshal(map[string]string{"query": c.query})
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var answer errorsAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("%s: %s", c.name, rec.Body)
		}
		switch {
		case c.refusal == "" && len(answer.Errors) > 0:
			t.Errorf("%s: refused: %s", c.name, rec.Body)
		case c.refusal != "" && (len(answer.Errors) != 1 || !strings.Contains(answer.Errors[0].Message, c.refusal) ||
			strings.Contains(answer.Errors[0].Message, "Did you mean") || answer.Errors[0].Extensions.Code != "GRAPHQL_VALIDATION_FAILED"):
			t.Errorf("%s: %s, want one GRAPHQL_VALIDATION_FAILED error saying %q and no more", c.name, rec.Body, c.refusal)
		}
	}
}

// Depth counts fields, a fragment's at the depth it is spread.
func TestShapeWalk(t *testing.T) {
	for _, c := range []struct {
		query          string
		depth, aliases int
	}{
		{"{ a { b { c } } }", 3, 0},
		{"{ a { ...F } } fragment F on A { b { x: c } }", 3, 1},
		{"{ a { ... on A { b { c { d } } } } }", 4, 0},
		{"{ a: a b: a }", 1, 1},
	} {
		doc, err := parser.ParseQuery(&ast.Source{Input: c.query})
		if err != nil {
			t.Fatal(err)
		}
		w := shapeWalk{fragments: doc.Fragments}
		w.selections(doc.Operations[0].SelectionSet, 1)
		if w.depth != c.depth || w.aliases != c.aliases {
			t.Errorf("%s: depth %d, aliases %d; want %d, %d", c.query, w.depth, w.aliases, c.depth, c.aliases)
		}
	}
}

// A request the GraphQL transport cannot read is refused as bad input, in
// the errors shape, without the transport's own words.
func TestRequestShape(t *testing.T) {
	h := Handler(&Resolver{}, Options{Log: slog.New(slog.DiscardHandler)})
	ctx := adminauth.WithIdentity(context.Background(), adminauth.Identity{TenantID: "00000000-0000-4000-8000-000000000001", IsOperator: true})
	for _, c := range []struct {
		name, contentType, body string
		status                  int
	}{
		{"an object", "application/json; charset=utf-8", `{"query":"{ whoami { id } }"}`, http.StatusOK},
		{"an array", "application/json", `[{"query":"{ whoami { id } }"}]`, http.StatusBadRequest},
		{"a string", "application/json", `"{ whoami { id } }"`, http.StatusBadRequest},
		{"not JSON", "application/json", `{ whoami { id } }`, http.StatusBadRequest},
		{"two objects", "application/json", `{"query":"{ whoami { id } }"}{}`, http.StatusBadRequest},
		{"text", "text/plain", `{"query":"{ whoami { id } }"}`, http.StatusUnsupportedMediaType},
		{"no content type", "", `{"query":"{ whoami { id } }"}`, http.StatusUnsupportedMediaType},
		{"variables not an object", "application/json", `{"query":"{ whoami { id } }","variables":[1,2]}`, http.StatusBadRequest},
		{"query not a string", "application/json", `{"query":5}`, http.StatusBadRequest},
		{"operationName not a string", "application/json", `{"query":"{ whoami { id } }","operationName":7}`, http.StatusBadRequest},
		{"extensions not an object", "application/json", `{"query":"{ whoami { id } }","extensions":"x"}`, http.StatusBadRequest},
		{"null variables", "application/json", `{"query":"{ whoami { id } }","variables":null}`, http.StatusOK},
		{"a document of the most tokens", "application/json",
			`{"query":"{ ` + strings.Repeat("__typename ", documentTokensMax-2) + `}"}`, http.StatusOK},
		{"a document of more tokens", "application/json",
			`{"query":"{ ` + strings.Repeat("__typename ", documentTokensMax-1) + `}"}`, http.StatusBadRequest},
		{"directives past the tokens", "application/json",
			`{"query":"{ __typename ` + strings.Repeat("@include(if: true) ", documentTokensMax/6+1) + `}"}`, http.StatusBadRequest},
	} {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", strings.NewReader(c.body))
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var answer errorsAnswer
		err := json.Unmarshal(rec.Body.Bytes(), &answer)
		switch {
		case rec.Code != c.status || err != nil:
			t.Errorf("%s: %d %s, want %d", c.name, rec.Code, rec.Body, c.status)
		case c.status != http.StatusOK && (len(answer.Errors) != 1 || answer.Errors[0].Extensions.Code != "BAD_USER_INPUT" ||
			strings.Contains(answer.Errors[0].Message, "Go") || strings.Contains(answer.Errors[0].Message, "RawParams")):
			t.Errorf("%s: %s", c.name, rec.Body)
		}
	}
}

// errorsAnswer is a GraphQL answer's errors.
type errorsAnswer struct {
	Errors []struct {
		Message    string
		Extensions struct{ Code string }
	}
}
