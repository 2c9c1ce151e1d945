package asset

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
)

// ledgerCounterSubject holds the last ledger number given to an asset. Each
// new asset appends the next number expecting the last one, so no two
// assets ever share a ledger.
const ledgerCounterSubject = "claims._.asset_ledger"

// InUse tells whether peers or wallet addresses hold an asset.
type InUse func(ctx context.Context, assetID string) (bool, error)

// Handler runs asset commands against the event store.
type Handler struct {
	store handlers.Store
	inUse InUse
	// newAssets serialises new assets within this process: they all take
	// the next ledger number, so running them at once only makes them
	// conflict. Processes still race, and the loser retries.
	newAssets sync.Mutex
}

// NewHandler builds a handler; inUse answers from the read models, which
// are what Rafiki consults too: a peer or wallet address created at the very
// moment of the deletion may still slip through.
func NewHandler(store handlers.Store, inUse InUse) *Handler {
	if store == nil || inUse == nil {
		panic("asset: NewHandler needs a store and an in-use check")
	}
	return &Handler{store: store, inUse: inUse}
}

// Subject is where an asset's events live.
func Subject(tenantID, assetID string) (string, error) {
	return handlers.Subject(tenantID, AggregateType, assetID)
}

func codeClaim(tenantID, code string, scale uint8) (string, error) {
	return handlers.ClaimSubject(tenantID, "asset_code_scale", code+"/"+strconv.Itoa(int(scale)))
}

func info(m commands.Meta) handlers.CommandInfo {
	return handlers.Info(m)
}

func target(tenantID, assetID string) (handlers.Target, error) {
	return handlers.NewTarget(tenantID, AggregateType, assetID)
}

// Create makes an asset, or re-activates a deleted one with the same code
// and scale. It returns the asset's id.
func (h *Handler) Create(ctx context.Context, c commands.CreateAsset) (string, handlers.Result, error) {
	var id string
	c, err := checkCreate(c)
	if err != nil {
		return "", handlers.Result{}, err
	}
	if err := h.tenantActive(ctx, c.TenantID); err != nil {
		return "", handlers.Result{}, err
	}
	claim, err := codeClaim(c.TenantID, c.Code, c.Scale)
	if err != nil {
		return "", handlers.Result{}, err
	}
	res, err := handlers.Retry(ctx, func() (handlers.Result, error) {
		owner, _, claimed, err := h.store.Last(ctx, claim)
		if err != nil {
			return handlers.Result{}, err
		}
		if claimed {
			id = string(owner)
			return h.reactivate(ctx, c, id)
		}
		id = uuid.NewSHA1(uuid.NameSpaceURL, []byte("rafiki:asset:"+c.ID)).String()
		return h.createNew(ctx, c, id, claim)
	})
	return id, res, err
}

// tenantActive checks that assets can be made for a tenant: its id names a
// live tenant.
func (h *Handler) tenantActive(ctx context.Context, tenantID string) error {
	subject, err := tenant.Subject(tenantID)
	if err != nil {
		return err
	}
	t, _, err := handlers.Load(ctx, h.store, subject, tenant.Evolve)
	if err != nil {
		return err
	}
	if !t.Active() {
		return apperr.E(apperr.NotFound, "Tenant not found")
	}
	return nil
}

// reactivate runs a create whose code and scale are claimed by asset id:
// the claim may be this command's own, taken when it ran before.
func (h *Handler) reactivate(ctx context.Context, c commands.CreateAsset, id string) (handlers.Result, error) {
	t, err := target(c.TenantID, id)
	if err != nil {
		return handlers.Result{}, err
	}
	state, version, done, err := handlers.LoadFor(ctx, h.store, t.Subject, c.ID, Evolve)
	if err != nil {
		return handlers.Result{}, err
	}
	if done != nil {
		return *done, nil
	}
	evs, err := decideCreate(state, c, 0)
	if err != nil {
		return handlers.Result{Sequence: version}, err
	}
	return handlers.AppendEvents(ctx, h.store, t.Subject, version, handlers.Meta(t, info(c.Meta)), c.ID, evs...)
}

func (h *Handler) createNew(ctx context.Context, c commands.CreateAsset, id, claim string) (handlers.Result, error) {
	h.newAssets.Lock()
	defer h.newAssets.Unlock()
	last, counterVersion, _, err := h.store.Last(ctx, ledgerCounterSubject)
	if err != nil {
		return handlers.Result{}, err
	}
	var ledger uint64
	if counterVersion > 0 {
		if ledger, err = strconv.ParseUint(string(last), 10, 32); err != nil {
			return handlers.Result{}, fmt.Errorf("ledger counter at %d: %w", counterVersion, err)
		}
	}
	evs, err := decideCreate(State{}, c, uint32(ledger+1))
	if err != nil {
		return handlers.Result{}, err
	}
	t, err := target(c.TenantID, id)
	if err != nil {
		return handlers.Result{}, err
	}
	msgs, err := handlers.Messages(t.Subject, 0, handlers.Meta(t, info(c.Meta)), c.ID, 0, evs...)
	if err != nil {
		return handlers.Result{}, err
	}
	counter := eventstore.Message{
		Subject: ledgerCounterSubject, MsgID: "ledger:" + c.ID, ExpectedSequence: counterVersion,
		Data: []byte(strconv.FormatUint(ledger+1, 10)),
	}
	msgs = append([]eventstore.Message{handlers.Claim(claim, id, c.ID), counter}, msgs...)
	seqs, err := h.store.Append(ctx, msgs)
	if err != nil {
		return handlers.Result{}, err
	}
	return handlers.Result{Sequence: seqs[len(seqs)-1]}, nil
}

// execute runs a command on an existing asset known by id.
func (h *Handler) execute(ctx context.Context, m commands.Meta, assetID string, decide func(State) ([]events.Event, error)) (handlers.Result, error) {
	tenantID, found, err := handlers.Locate(ctx, h.store, AggregateType, assetID)
	if err != nil {
		return handlers.Result{}, err
	}
	if !found {
		return handlers.Result{}, apperr.E(apperr.NotFound, "Asset not found")
	}
	t, err := target(tenantID, assetID)
	if err != nil {
		return handlers.Result{}, err
	}
	return handlers.Execute(ctx, h.store, t, info(m), Evolve, decide)
}

func (h *Handler) Update(ctx context.Context, c commands.UpdateAsset) (handlers.Result, error) {
	c, err := checkUpdate(c)
	if err != nil {
		return handlers.Result{}, err
	}
	return h.execute(ctx, c.Meta, c.AssetID, func(s State) ([]events.Event, error) { return decideUpdate(s, c) })
}

func (h *Handler) Delete(ctx context.Context, c commands.DeleteAsset) (handlers.Result, error) {
	c, err := checkDelete(c)
	if err != nil {
		return handlers.Result{}, err
	}
	return h.execute(ctx, c.Meta, c.AssetID, func(s State) ([]events.Event, error) {
		if err := visible(s, c.Actor); err != nil {
			return nil, err
		}
		used, err := h.inUse(ctx, c.AssetID)
		if err != nil {
			return nil, err
		}
		return decideDelete(s, c, used)
	})
}

// SetFee records a fee and returns its id.
func (h *Handler) SetFee(ctx context.Context, c commands.SetFee) (string, handlers.Result, error) {
	c, err := checkSetFee(c)
	if err != nil {
		return "", handlers.Result{}, err
	}
	feeID := uuid.NewSHA1(uuid.NameSpaceURL, []byte("rafiki:fee:"+c.ID)).String()
	res, err := h.execute(ctx, c.Meta, c.AssetID, func(s State) ([]events.Event, error) { return decideSetFee(s, c, feeID) })
	return feeID, res, err
}
