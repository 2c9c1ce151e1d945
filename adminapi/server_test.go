package adminapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
