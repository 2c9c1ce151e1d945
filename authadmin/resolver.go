// Package authadmin is the auth service's admin GraphQL API (Rafiki's auth
// admin schema): grants listed and read from the auth read model, and
// revoked through the grant handler. The operator sees every tenant's
// grants; any other tenant its own.
package authadmin

//go:generate go tool gqlgen generate

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminapi"
	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/authstore"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/valid"
)

// Resolver holds what the resolvers use.
type Resolver struct {
	Store                 *authstore.Store
	Grants                *grant.Handler
	Waiter                *projections.Waiter
	ReadYourWritesTimeout time.Duration
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
	// The caller reads the grant next: it must show the revocation.
	if err := r.Waiter.Wait(ctx, projections.Grants{}.Name(), res.Sequence, r.ReadYourWritesTimeout); err != nil {
		return "", err
	}
	return grantID, nil
}
