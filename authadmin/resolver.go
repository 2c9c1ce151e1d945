// Package authadmin is the auth service's admin GraphQL API (Rafiki's auth
// admin schema): grants listed and read from the auth read model, and
// revoked through the grant handler. The operator sees every tenant's
// grants; any other tenant its own.
package authadmin

//go:generate go tool gqlgen generate

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminapi"
	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/authstore"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/valid"
)

// Resolver holds what the resolvers use.
type Resolver struct {
	Store  *authstore.Store
	Grants *grant.Handler
	// Revoked runs after a revocation is stored (at sequence) and before it
	// is answered: the caller reads the grant next, and introspection must
	// not find its tokens active any more.
	Revoked func(ctx context.Context, grantID string, sequence uint64) error
}

// Handler serves the schema on POST with the backend admin API's rules.
func Handler(r *Resolver, opts adminapi.Options) http.Handler {
	return adminapi.Serve(NewExecutableSchema(Config{Resolvers: r}), opts)
}

// actor is the signed caller; the authentication middleware guarantees one.
func actor(ctx context.Context) (commands.Actor, error) {
	id, ok := adminauth.FromContext(ctx)
	if !ok {
		return commands.Actor{}, apperr.E(apperr.Unauthenticated, "request is not signed")
	}
	return commands.Actor{TenantID: id.TenantID, Operator: id.IsOperator}, nil
}

// tenantScope is whose grants the caller may see: the operator any
// tenant's (the one it names, or all), any other tenant its own.
func tenantScope(a commands.Actor, requested *string) *string {
	if a.Operator {
		return requested
	}
	return &a.TenantID
}

func (r *Resolver) revoke(ctx context.Context, grantID string) (string, error) {
	a, err := actor(ctx)
	if err != nil {
		return "", err
	}
	// The answer names the grant as the read model does, however the
	// caller spelled it.
	grantID, ok := valid.ID(grantID)
	if !ok {
		return "", apperr.E(apperr.InvalidInput, "invalid grant id")
	}
	id := uuid.NewString()
	res, err := r.Grants.Revoke(ctx, commands.RevokeGrant{Meta: commands.Meta{ID: id, CorrelationID: id, Actor: a}, GrantID: grantID})
	if err != nil {
		return "", err
	}
	if err := r.Revoked(ctx, grantID, res.Sequence); err != nil {
		return "", err
	}
	return grantID, nil
}
