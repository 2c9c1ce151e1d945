package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/testkit"
)

type secrets map[string]string

func (s secrets) APISecret(_ context.Context, tenantID string) (string, bool, error) {
	secret, ok := s[tenantID]
	return secret, ok, nil
}

// TestGQL sends queries with rafiki gql to a server behind the admin API's
// signature check, which answers with who signed and what it got.
func TestGQL(t *testing.T) {
	const operatorID, tenantID = "438fa74a-fa7d-4317-9ced-dde32ece1787", "7e0a1f2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
	auth := adminauth.Middleware(adminauth.Config{OperatorSecret: "operator-secret"},
		secrets{operatorID: "operator-secret", tenantID: "tenant-secret"}, testkit.Redis(t), nil)
	srv := httptest.NewServer(auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := adminauth.FromContext(r.Context())
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Error(err)
		}
		answer := map[string]any{"data": map[string]any{"whoami": map[string]any{"id": id.TenantID, "isOperator": id.IsOperator}, "got": req}}
		if strings.Contains(req["query"].(string), "broken") {
			answer["errors"] = []any{map[string]any{"message": "Cannot query field", "extensions": map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}}}
		}
		_ = json.NewEncoder(w).Encode(answer)
	})))
	defer srv.Close()
	dir := t.TempDir()
	queryFile := filepath.Join(dir, "mutation.graphql")
	if err := os.WriteFile(queryFile, []byte(`mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id } } }`), 0o600); err != nil {
		t.Fatal(err)
	}
	varsFile := filepath.Join(dir, "vars.json")
	if err := os.WriteFile(varsFile, []byte(`{"input": {"code": "EUR", "scale": 2}}`), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name     string
		env      map[string]string
		args     []string
		stdin    string
		tenant   string
		operator bool
		query    string
		vars     string // JSON of the variables sent; "" for none
		err      string // "" for success
	}{
		{name: "the operator by default", args: []string{"query { whoami { id isOperator } }"},
			env:    map[string]string{"OPERATOR_TENANT_ID": operatorID, "ADMIN_API_SECRET": "operator-secret"},
			tenant: operatorID, operator: true, query: "query { whoami { id isOperator } }"},
		{name: "a tenant", args: []string{"-v", `{"id": "x"}`, "query($id: String!) { asset(id: $id) { id } }"},
			env:    map[string]string{"TENANT_ID": tenantID, "TENANT_API_SECRET": "tenant-secret"},
			tenant: tenantID, query: "query($id: String!) { asset(id: $id) { id } }", vars: `{"id":"x"}`},
		{name: "flags after the query", args: []string{"query { whoami { id } }", "-v", `{"a": 1}`},
			env:    map[string]string{"TENANT_ID": tenantID, "TENANT_API_SECRET": "tenant-secret"},
			tenant: tenantID, query: "query { whoami { id } }", vars: `{"a":1}`},
		{name: "a file and variables from a file", args: []string{"-f", queryFile, "-v", "@" + varsFile},
			env:    map[string]string{"OPERATOR_TENANT_ID": operatorID, "ADMIN_API_SECRET": "operator-secret"},
			tenant: operatorID, operator: true, query: "mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id } } }",
			vars: `{"input":{"code":"EUR","scale":2}}`},
		{name: "standard input", args: []string{"-f", "-"}, stdin: "query { whoami { id } }",
			env:    map[string]string{"OPERATOR_TENANT_ID": operatorID, "ADMIN_API_SECRET": "operator-secret"},
			tenant: operatorID, operator: true, query: "query { whoami { id } }"},
		{name: "a wrong secret", args: []string{"query { whoami { id } }"},
			env: map[string]string{"TENANT_ID": tenantID, "TENANT_API_SECRET": "wrong"}, err: "HTTP 401"},
		{name: "errors in the answer", args: []string{"query { broken }"},
			env:    map[string]string{"OPERATOR_TENANT_ID": operatorID, "ADMIN_API_SECRET": "operator-secret"},
			tenant: operatorID, operator: true, query: "query { broken }", err: "the answer carries errors"},
		{name: "no query", args: nil, err: "no query"},
		{name: "bad variables", args: []string{"-v", "[1]", "query { whoami { id } }"}, err: "JSON object"},
		{name: "two queries", args: []string{"query { a }", "query { b }"}, err: "one query only"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GRAPHQL_URL", srv.URL+"/graphql")
			for _, k := range []string{"TENANT_ID", "TENANT_API_SECRET", "OPERATOR_TENANT_ID", "ADMIN_API_SECRET"} {
				t.Setenv(k, c.env[k])
			}
			var stdout, stderr bytes.Buffer
			err := gqlCommand(c.args, strings.NewReader(c.stdin), &stdout, &stderr)
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("err = %v, want %q", err, c.err)
			}
			if c.tenant == "" {
				return
			}
			var answer struct {
				Data struct {
					Whoami struct {
						ID         string
						IsOperator bool
					}
					Got struct {
						Query     string
						Variables json.RawMessage
					}
				}
			}
			if err := json.Unmarshal(stdout.Bytes(), &answer); err != nil {
				t.Fatalf("output %q: %v", stdout.String(), err)
			}
			if answer.Data.Whoami.ID != c.tenant || answer.Data.Whoami.IsOperator != c.operator || answer.Data.Got.Query != c.query {
				t.Fatalf("answer: %+v", answer)
			}
			if got := compact(t, answer.Data.Got.Variables); got != c.vars {
				t.Fatalf("variables sent: %s, want %s", got, c.vars)
			}
		})
	}
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
