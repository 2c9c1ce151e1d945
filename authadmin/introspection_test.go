package authadmin_test

// TestSchemaMatchesRafiki keeps the auth admin GraphQL schema honest against
// Rafiki's auth schema (package gqlschema says how); where Rafiki's
// recording is absent it is skipped with a message, unless CI=true.
// TestSchemaDocumented, which needs no recording, checks our descriptions
// and that every file in schema/ is compiled into generated.go (run go
// generate after adding one), so that both tests see it.

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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
		if problems := staleGeneratedCode(t); len(problems) > 0 {
			t.Errorf("generated.go is stale (run go generate ./authadmin/):\n\t%s", strings.Join(problems, "\n\t"))
		}
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

// staleGeneratedCode compares the schema files on disk with those compiled
// into the executable schema: a file added without go generate would
// otherwise be invisible to this test.
func staleGeneratedCode(t *testing.T) []string {
	t.Helper()
	onDisk, err := fs.Glob(os.DirFS("."), "schema/*.graphql")
	if err != nil {
		t.Fatal(err)
	}
	if len(onDisk) == 0 {
		t.Fatal("no schema/*.graphql below the package directory")
	}
	compiled := map[string]bool{}
	schema := authadmin.NewExecutableSchema(authadmin.Config{Resolvers: &authadmin.Resolver{}}).Schema()
	for _, def := range schema.Types {
		if def.BuiltIn {
			continue
		}
		if def.Position != nil && def.Position.Src != nil {
			compiled[filepath.ToSlash(def.Position.Src.Name)] = true
		}
		for _, f := range def.Fields {
			if f.Position != nil && f.Position.Src != nil && !f.Position.Src.BuiltIn {
				compiled[filepath.ToSlash(f.Position.Src.Name)] = true
			}
		}
	}
	var problems []string
	for _, f := range onDisk {
		if !compiled[f] {
			problems = append(problems, fmt.Sprintf("%s is not in the generated executable schema", f))
		}
	}
	return problems
}
