package tenant

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/valid"
)

// Handler runs tenant commands against the event store.
type Handler struct {
	store              handlers.Store
	operatorTenantID   string
	operatorILPAddress string
	// operatorWalletAddressURL is OPEN_PAYMENTS_URL, under which the
	// operator, having no WALLET_ADDRESS_URL, makes its wallet addresses.
	operatorWalletAddressURL string
	spaces                   *Spaces
	// claims lets one space claim of this process at a time append: every
	// claim expects claims._.tenant_spaces at the sequence it checked, so
	// claims racing each other would mostly lose and be decided again,
	// and under enough of them run out of retries. Claims from other
	// processes still race, and are decided again.
	claims chan struct{}
}

// NewHandler builds a handler. operatorILPAddress (ILP_ADDRESS) prefixes the
// ILP address each new tenant gets; operatorWalletAddressURL
// (OPEN_PAYMENTS_URL) is where the operator's wallet addresses are when it
// sets no WALLET_ADDRESS_URL, which no other tenant's space may hold.
func NewHandler(store handlers.Store, operatorTenantID, operatorILPAddress, operatorWalletAddressURL string) *Handler {
	if store == nil {
		panic("tenant: NewHandler needs a store")
	}
	return &Handler{store: store, operatorTenantID: operatorTenantID, operatorILPAddress: operatorILPAddress,
		operatorWalletAddressURL: operatorWalletAddressURL, spaces: NewSpaces(), claims: make(chan struct{}, 1)}
}

// Subject is where a tenant's events live.
func Subject(tenantID string) (string, error) {
	return handlers.Subject(tenantID, AggregateType, tenantID)
}

func target(tenantID string) (handlers.Target, error) {
	return handlers.NewTarget(tenantID, AggregateType, tenantID)
}

func info(m commands.Meta) handlers.CommandInfo {
	return handlers.Info(m)
}

// Load reads a tenant's current state.
func (h *Handler) Load(ctx context.Context, tenantID string) (State, uint64, error) {
	subject, err := Subject(tenantID)
	if err != nil {
		return State{}, 0, err
	}
	return handlers.Load(ctx, h.store, subject, Evolve)
}

// Create makes a tenant and returns its id.
func (h *Handler) Create(ctx context.Context, c commands.CreateTenant) (string, handlers.Result, error) {
	c, err := checkCreate(c)
	if err != nil {
		return "", handlers.Result{}, err
	}
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("rafiki:tenant:"+c.ID)).String()
	if c.TenantID != "" {
		id = c.TenantID
	}
	t, err := target(id)
	if err != nil {
		return "", handlers.Result{}, err
	}
	decide := func(s State) ([]events.Event, error) { return decideCreate(s, c, id, h.operatorILPAddress) }
	var res handlers.Result
	if space, claims := requestedSpace(c.Settings); claims {
		res, err = h.claiming(ctx, t, info(c.Meta), space, decide)
	} else {
		res, err = handlers.Execute(ctx, h.store, t, info(c.Meta), Evolve, decide)
	}
	return id, res, err
}

func (h *Handler) Update(ctx context.Context, c commands.UpdateTenant) (handlers.Result, error) {
	c, err := checkUpdate(c)
	if err != nil {
		return handlers.Result{}, err
	}
	t, err := target(c.TenantID)
	if err != nil {
		return handlers.Result{}, err
	}
	return handlers.Execute(ctx, h.store, t, info(c.Meta), Evolve, func(s State) ([]events.Event, error) {
		return decideUpdate(s, c)
	})
}

func (h *Handler) Delete(ctx context.Context, c commands.DeleteTenant) (handlers.Result, error) {
	c, err := checkDelete(c)
	if err != nil {
		return handlers.Result{}, err
	}
	t, err := target(c.TenantID)
	if err != nil {
		return handlers.Result{}, err
	}
	return handlers.Execute(ctx, h.store, t, info(c.Meta), Evolve, func(s State) ([]events.Event, error) {
		return decideDelete(s, c, h.operatorTenantID)
	})
}

func (h *Handler) SetSettings(ctx context.Context, c commands.SetTenantSettings) (handlers.Result, error) {
	c, err := checkSetSettings(c)
	if err != nil {
		return handlers.Result{}, err
	}
	t, err := target(c.TenantID)
	if err != nil {
		return handlers.Result{}, err
	}
	decide := func(s State) ([]events.Event, error) { return decideSetSettings(s, c) }
	if space, claims := requestedSpace(c.Settings); claims {
		return h.claiming(ctx, t, info(c.Meta), space, decide)
	}
	return handlers.Execute(ctx, h.store, t, info(c.Meta), Evolve, decide)
}

// claiming runs a command that sets a space: its event is appended only if
// no tenant event was stored since the spaces it was checked against (see
// Spaces), and it is decided again otherwise.
func (h *Handler) claiming(ctx context.Context, t handlers.Target, cmd handlers.CommandInfo, space Space,
	decide func(State) ([]events.Event, error)) (handlers.Result, error) {
	if err := reservedForDefaults(space.ILPAddress, h.operatorILPAddress, t.AggregateID); err != nil {
		return handlers.Result{}, err
	}
	if t.AggregateID != h.operatorTenantID && h.operatorWalletAddressURL != "" && space.WalletAddressURL != "" &&
		valid.URLWithin(h.operatorWalletAddressURL, space.WalletAddressURL) {
		// The operator's addresses, made under OPEN_PAYMENTS_URL, would
		// lie in the tenant's space, and its look-ups there go to it.
		return handlers.Result{}, apperr.E(apperr.InvalidInput, "Wallet Address Url holds the operator's OPEN_PAYMENTS_URL")
	}
	select {
	case h.claims <- struct{}{}:
		defer func() { <-h.claims }()
	case <-ctx.Done():
		return handlers.Result{}, fmt.Errorf("wait to claim a space for tenant %s: %w", t.AggregateID, ctx.Err())
	}
	return handlers.Retry(ctx, func() (handlers.Result, error) {
		claimed, err := h.spaces.Load(ctx, h.store)
		if err != nil {
			return handlers.Result{}, err
		}
		state, own, done, err := handlers.LoadFor(ctx, h.store, t.Subject, cmd.ID, Evolve)
		if err != nil {
			return handlers.Result{}, err
		}
		if done != nil {
			return *done, nil
		}
		evs, err := decide(state)
		if err != nil || len(evs) == 0 {
			return handlers.Result{Sequence: own}, err
		}
		if len(evs) != 1 {
			return handlers.Result{}, fmt.Errorf("tenant %s: %d events claim a space, want one", t.AggregateID, len(evs))
		}
		if err := h.spaces.Overlap(t.AggregateID, space); err != nil {
			return handlers.Result{}, err
		}
		msgs, err := handlers.Messages(t.Subject, own, handlers.Meta(t, cmd), cmd.ID, 0, evs...)
		if err != nil {
			return handlers.Result{}, err
		}
		// The claim comes first, so that the tenant's event is at or after
		// the claim's sequence, which Spaces.Load reads up to.
		claim := eventstore.Message{Subject: SpacesClaimed, MsgID: "spaces:" + cmd.ID,
			Data: []byte(t.AggregateID), ExpectedSequence: claimed}
		seqs, err := h.store.Append(ctx, append([]eventstore.Message{claim}, msgs...))
		if err != nil {
			return handlers.Result{}, err
		}
		return handlers.Result{Sequence: seqs[len(seqs)-1]}, nil
	})
}

// EnsureOperator seeds the operator tenant at start and keeps its secret
// equal to the configured ADMIN_API_SECRET.
func (h *Handler) EnsureOperator(ctx context.Context, secret string) (handlers.Result, error) {
	cmd := handlers.CommandInfo{ID: "operator-seed:" + uuid.NewString()}
	t, err := target(h.operatorTenantID)
	if err != nil {
		return handlers.Result{}, fmt.Errorf("OPERATOR_TENANT_ID: %w", err)
	}
	return handlers.Execute(ctx, h.store, t, cmd, Evolve, func(s State) ([]events.Event, error) {
		return decideEnsureOperator(s, h.operatorTenantID, secret, h.operatorILPAddress)
	})
}
