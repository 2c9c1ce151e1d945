package authsvc_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/authsvc"
	"github.com/rafiki-go/rafiki/commands"
)

// Tenants are read from their events with the identity provider's secret
// opened; the operator's consent URL and secret come from configuration
// when its events carry none; changes and deletions are seen at once.
func TestTenants(t *testing.T) {
	f := setup(t, nil)
	ctx := context.Background()
	operator := uuid.NewString()
	tenants := authsvc.NewTenants(f.store, f.keys, operator, "https://idp.example/operator", "operator-secret")

	for _, tc := range []struct {
		name string
		id   string
		want authsvc.Tenant
	}{
		{"tenant with its own identity provider", f.tenantID, authsvc.Tenant{Active: true, IDPConsentURL: "https://idp.example/consent?lang=en", IDPSecret: idpSecret, APISecret: "api-secret"}},
		{"operator before its first event", operator, authsvc.Tenant{Active: true, IDPConsentURL: "https://idp.example/operator", IDPSecret: "operator-secret"}},
		{"unknown tenant", uuid.NewString(), authsvc.Tenant{}},
		{"not an id", "events.>", authsvc.Tenant{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tenants.Get(ctx, tc.id)
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}

	if _, _, err := f.tenants.Create(ctx, commands.CreateTenant{Meta: f.meta(), TenantID: operator, APISecret: "s"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := tenants.Get(ctx, operator); got.IDPConsentURL != "https://idp.example/operator" || got.IDPSecret != "operator-secret" {
		t.Fatalf("operator without identity provider in its events: %+v", got)
	}
	rotated := "a-new-secret"
	if _, err := f.tenants.Update(ctx, commands.UpdateTenant{Meta: f.meta(), TenantID: f.tenantID, IDPSecret: &rotated}); err != nil {
		t.Fatal(err)
	}
	if got, _ := tenants.Get(ctx, f.tenantID); got.IDPSecret != rotated {
		t.Fatalf("after the secret changed: %+v", got)
	}
	if secret, found, err := tenants.APISecret(ctx, f.tenantID); err != nil || !found || secret != "api-secret" {
		t.Fatalf("API secret: %q %v %v", secret, found, err)
	}
	if _, err := f.tenants.Delete(ctx, commands.DeleteTenant{Meta: f.meta(), TenantID: f.tenantID}); err != nil {
		t.Fatal(err)
	}
	if got, _ := tenants.Get(ctx, f.tenantID); got.Active {
		t.Fatalf("deleted tenant: %+v", got)
	}
	if _, found, err := tenants.APISecret(ctx, f.tenantID); err != nil || found {
		t.Fatalf("a deleted tenant's API secret still signs: %v %v", found, err)
	}
}
