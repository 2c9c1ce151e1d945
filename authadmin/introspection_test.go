package authadmin_test

// TestSchemaMatchesRafiki keeps the auth admin GraphQL schema honest against
// Rafiki's auth schema (package gqlschema says how); where Rafiki's
// recording is absent it is skipped with a message, unless CI=true.
// TestSchemaDocumented, which needs no recording, checks our descriptions
// and that every file in schema/ is compiled into generated.go (run go
// generate after adding one), so that both tests see it.

import (
	"context"
	"log/slog"
	"testing"

	"github.com/rafiki-go/rafiki/adminapi"
	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/authadmin"
	"github.com/rafiki-go/rafiki/testkit/gqlschema"
)

func TestSchemaDocumented(t *testing.T) {
	ours := introspectOurs(t)
	t.Run("descriptions", func(t *testing.T) { gqlschema.Documented(t, ours) })
	t.Run("generated code has every schema file", func(t *testing.T) {
		gqlschema.Generated(t, authadmin.NewExecutableSchema(authadmin.Config{Resolvers: &authadmin.Resolver{}}).Schema())
	})
}

// Rafiki's auth schema is implemented whole: nothing is pending.
func TestSchemaMatchesRafiki(t *testing.T) {
	rafiki := gqlschema.LoadRafiki(t, "rafiki-auth-schema.json")
	gqlschema.Match(t, introspectOurs(t), rafiki, gqlschema.Pending{})
}

// introspectOurs introspects the handler. Introspection reads no resolver,
// so an empty Resolver serves; the request carries an identity as the
// signature middleware would attach one.
func introspectOurs(t *testing.T) *gqlschema.Schema {
	t.Helper()
	h := authadmin.Handler(&authadmin.Resolver{}, adminapi.Options{Introspection: true, Log: slog.New(slog.DiscardHandler)})
	ctx := adminauth.WithIdentity(context.Background(), adminauth.Identity{TenantID: "00000000-0000-0000-0000-000000000000", IsOperator: true})
	return gqlschema.Introspect(t, ctx, h, "/graphql")
}
