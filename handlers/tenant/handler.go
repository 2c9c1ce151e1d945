package tenant

import (
	"context"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
)

// Handler runs tenant commands against the event store.
type Handler struct {
	store              handlers.Store
	operatorTenantID   string
	operatorILPAddress string
}

// NewHandler builds a handler. operatorILPAddress (ILP_ADDRESS) prefixes the
// ILP address each new tenant gets.
func NewHandler(store handlers.Store, operatorTenantID, operatorILPAddress string) *Handler {
	if store == nil {
		panic("tenant: NewHandler needs a store")
	}
	return &Handler{store: store, operatorTenantID: operatorTenantID, operatorILPAddress: operatorILPAddress}
}

// Subject is where a tenant's events live.
func Subject(tenantID string) string { return handlers.Subject(tenantID, AggregateType, tenantID) }

func target(tenantID string) handlers.Target {
	return handlers.Target{Subject: Subject(tenantID), AggregateType: AggregateType, AggregateID: tenantID, TenantID: tenantID}
}

func info(m commands.Meta) handlers.CommandInfo {
	return handlers.CommandInfo{ID: m.ID, CorrelationID: m.CorrelationID}
}

// Load reads a tenant's current state.
func (h *Handler) Load(ctx context.Context, tenantID string) (State, uint64, error) {
	return handlers.Load(ctx, h.store, Subject(tenantID), Evolve)
}

// Create makes a tenant and returns its id.
func (h *Handler) Create(ctx context.Context, c commands.CreateTenant) (string, handlers.Result, error) {
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("rafiki:tenant:"+c.ID)).String()
	if c.TenantID != "" {
		// An id chosen by the operator is kept in its canonical form: it
		// names subjects and rows, which must agree on one spelling.
		u, err := uuid.Parse(c.TenantID)
		if err != nil {
			return "", handlers.Result{}, apperr.E(apperr.InvalidInput, "Invalid Tenant ID")
		}
		id = u.String()
	}
	res, err := handlers.Execute(ctx, h.store, target(id), info(c.Meta), Evolve, func(s State) ([]events.Event, error) {
		return decideCreate(s, c, id, h.operatorILPAddress)
	})
	return id, res, err
}

func (h *Handler) Update(ctx context.Context, c commands.UpdateTenant) (handlers.Result, error) {
	return handlers.Execute(ctx, h.store, target(c.TenantID), info(c.Meta), Evolve, func(s State) ([]events.Event, error) {
		return decideUpdate(s, c)
	})
}

func (h *Handler) Delete(ctx context.Context, c commands.DeleteTenant) (handlers.Result, error) {
	return handlers.Execute(ctx, h.store, target(c.TenantID), info(c.Meta), Evolve, func(s State) ([]events.Event, error) {
		return decideDelete(s, c, h.operatorTenantID)
	})
}

func (h *Handler) SetSettings(ctx context.Context, c commands.SetTenantSettings) (handlers.Result, error) {
	return handlers.Execute(ctx, h.store, target(c.TenantID), info(c.Meta), Evolve, func(s State) ([]events.Event, error) {
		return decideSetSettings(s, c)
	})
}

// EnsureOperator seeds the operator tenant at start and keeps its secret
// equal to the configured ADMIN_API_SECRET.
func (h *Handler) EnsureOperator(ctx context.Context, secret string) (handlers.Result, error) {
	cmd := handlers.CommandInfo{ID: "operator-seed:" + uuid.NewString()}
	return handlers.Execute(ctx, h.store, target(h.operatorTenantID), cmd, Evolve, func(s State) ([]events.Event, error) {
		return decideEnsureOperator(s, h.operatorTenantID, secret, h.operatorILPAddress)
	})
}
