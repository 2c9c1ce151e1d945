package adminapi

import (
	"context"
	"testing"

	"github.com/rafiki-go/rafiki/adminauth"
)

// A command id derived from a request is the same for the same request and
// differs for any other operation, content, caller or key.
func TestContentMetaIDs(t *testing.T) {
	as := func(tenantID string) context.Context {
		return adminauth.WithIdentity(context.Background(), adminauth.Identity{TenantID: tenantID, IsOperator: true})
	}
	op, other := "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
	r := &Resolver{CommandKey: []byte("key")}
	id := func(r *Resolver, ctx context.Context, operation string, content any) string {
		t.Helper()
		m, err := r.contentMeta(ctx, operation, content)
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	first := id(r, as(op), "deleteTenant", "a")
	if again := id(r, as(op), "deleteTenant", "a"); again != first {
		t.Fatalf("same request: %s then %s", first, again)
	}
	seen := map[string]string{first: "the first"}
	for name, got := range map[string]string{
		"another operation": id(r, as(op), "createTenant", "a"),
		"another content":   id(r, as(op), "deleteTenant", "b"),
		"another caller":    id(r, as(other), "deleteTenant", "a"),
		"another key":       id(&Resolver{CommandKey: []byte("other key")}, as(op), "deleteTenant", "a"),
	} {
		if was, ok := seen[got]; ok {
			t.Errorf("%s has the id of %s: %s", name, was, got)
		}
		seen[got] = name
	}
	if a, b := id(&Resolver{}, as(op), "deleteTenant", "a"), id(&Resolver{}, as(op), "deleteTenant", "a"); a == b {
		t.Errorf("without a key, requests get random ids; got %s twice", a)
	}
}
