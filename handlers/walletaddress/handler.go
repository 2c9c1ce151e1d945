package walletaddress

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/tenant"
)

// Handler runs wallet address and key commands against the event store.
type Handler struct {
	store           handlers.Store
	openPaymentsURL string
	tenants         *handlers.StateCache[tenant.State]
	assets          *handlers.StateCache[asset.State]
	spaces          *tenant.Spaces
}

// NewHandler builds a handler; openPaymentsURL (OPEN_PAYMENTS_URL) is the
// operator's base for wallet addresses given as paths.
func NewHandler(store handlers.Store, openPaymentsURL string) *Handler {
	if store == nil {
		panic("walletaddress: NewHandler needs a store")
	}
	return &Handler{store: store, openPaymentsURL: openPaymentsURL,
		tenants: handlers.NewStateCache(tenant.Evolve), assets: handlers.NewStateCache(asset.Evolve), spaces: tenant.NewSpaces()}
}

// Subject is where a wallet address's events live.
func Subject(tenantID, id string) (string, error) {
	return handlers.Subject(tenantID, AggregateType, id)
}

// KeySubject is where a key's events live.
func KeySubject(tenantID, id string) (string, error) {
	return handlers.Subject(tenantID, KeyAggregateType, id)
}

func kidClaim(tenantID, walletAddressID, kid string) (string, error) {
	return handlers.ClaimSubject(tenantID, "wallet_address_kid", walletAddressID+"/"+kid)
}

func info(m commands.Meta) handlers.CommandInfo {
	return handlers.Info(m)
}

// Create makes a wallet address and returns its id. The id is derived from
// the address, so the aggregate's subject being empty under every tenant is
// the check that the address is not taken, done by the server at the append.
func (h *Handler) Create(ctx context.Context, c commands.CreateWalletAddress) (string, handlers.Result, error) {
	c, err := checkCreate(c)
	if err != nil {
		return "", handlers.Result{}, err
	}
	tenantSubject, err := tenant.Subject(c.TenantID)
	if err != nil {
		return "", handlers.Result{}, err
	}
	assetSubject, err := asset.Subject(c.TenantID, c.AssetID)
	if err != nil {
		return "", handlers.Result{}, err
	}
	// Whether the tenant, the asset or any tenant's space changed since
	// the caches last looked is one read of their subjects' last sequences.
	last, err := h.store.LastSequences(ctx, []string{tenantSubject, assetSubject, tenant.SpacesClaimed})
	if err != nil {
		return "", handlers.Result{}, err
	}
	t, _, err := h.tenants.LoadAt(ctx, h.store, tenantSubject, last[tenantSubject])
	if err != nil {
		return "", handlers.Result{}, err
	}
	a, _, err := h.assets.LoadAt(ctx, h.store, assetSubject, last[assetSubject])
	if err != nil {
		return "", handlers.Result{}, err
	}
	address, evs, err := decideCreate(t, a, c, h.openPaymentsURL)
	if err != nil {
		return "", handlers.Result{}, err
	}
	if t.Settings[tenant.SettingWalletAddressURL] == "" {
		if err := h.outsideOtherSpaces(ctx, c.TenantID, address, last[tenant.SpacesClaimed]); err != nil {
			return "", handlers.Result{}, err
		}
	}
	if err := h.notUnderOthers(ctx, c.TenantID, address); err != nil {
		return "", handlers.Result{}, err
	}
	id := AddressID(address)
	target, err := handlers.NewTarget(c.TenantID, AggregateType, id)
	if err != nil {
		return "", handlers.Result{}, err
	}
	msgs, err := handlers.Messages(target.Subject, 0, handlers.Meta(target, info(c.Meta)), c.ID, 0, evs...)
	if err != nil {
		return "", handlers.Result{}, err
	}
	if msgs[0].ExpectedSubject, err = handlers.AnyTenantSubject(AggregateType, id); err != nil {
		return "", handlers.Result{}, err
	}
	seqs, err := h.store.Append(ctx, msgs)
	if errors.Is(err, eventstore.ErrConflict) {
		return "", handlers.Result{}, apperr.E(apperr.Duplicate, "Duplicate wallet address found with the same url")
	}
	if err != nil {
		return "", handlers.Result{}, err
	}
	return id, handlers.Result{Sequence: seqs[len(seqs)-1]}, nil
}

// outsideOtherSpaces checks that an address made under the operator's
// OPEN_PAYMENTS_URL does not lie in another tenant's WALLET_ADDRESS_URL. It
// is checked against the spaces held when the address is made: a tenant
// claiming the space at that very moment may still find the address there.
func (h *Handler) outsideOtherSpaces(ctx context.Context, tenantID, address string, claimed uint64) error {
	if _, err := h.spaces.LoadAt(ctx, h.store, claimed); err != nil {
		return err
	}
	if holder, held := h.spaces.Holder(address); held && holder != tenantID {
		return errInvalidURL()
	}
	return nil
}

// notUnderOthers refuses an address below another tenant's wallet address
// (https://w.example/alice/tips below https://w.example/alice): it would
// read as an account of that address's owner. Each address above it on
// its path is looked for under every tenant, in the event stream, so an
// address made a moment ago counts.
func (h *Handler) notUnderOthers(ctx context.Context, tenantID, address string) error {
	scheme, rest, found := strings.Cut(address, "://")
	if !found {
		return errInvalidURL()
	}
	// parts[0] is the host, which no wallet address is (validAddress).
	parts := strings.Split(rest, "/")
	for n := 2; n < len(parts); n++ {
		holder, found, err := handlers.Locate(ctx, h.store, AggregateType, AddressID(scheme+"://"+strings.Join(parts[:n], "/")))
		if err != nil {
			return err
		}
		if found && holder != tenantID {
			return apperr.E(apperr.InvalidInput, "invalid url: it lies below a wallet address of another tenant")
		}
	}
	return nil
}

// AddressID is the id of the wallet address at a (lower-case) address.
func AddressID(address string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("rafiki:wallet_address:"+address)).String()
}

// Update changes a wallet address.
func (h *Handler) Update(ctx context.Context, c commands.UpdateWalletAddress) (handlers.Result, error) {
	c, err := checkUpdate(c)
	if err != nil {
		return handlers.Result{}, err
	}
	t, err := h.locate(ctx, AggregateType, c.WalletAddressID, "unknown wallet address")
	if err != nil {
		return handlers.Result{}, err
	}
	target, err := handlers.NewTarget(t, AggregateType, c.WalletAddressID)
	if err != nil {
		return handlers.Result{}, err
	}
	return handlers.Execute(ctx, h.store, target, info(c.Meta), Evolve, func(s State) ([]events.Event, error) {
		return decideUpdate(s, c)
	})
}

// CreateKey adds a key to a wallet address and returns the key's id.
func (h *Handler) CreateKey(ctx context.Context, c commands.CreateWalletAddressKey) (string, handlers.Result, error) {
	c, err := checkCreateKey(c)
	if err != nil {
		return "", handlers.Result{}, err
	}
	tenantID, err := h.locate(ctx, AggregateType, c.WalletAddressID, "unknown wallet address")
	if err != nil {
		return "", handlers.Result{}, err
	}
	keyID := uuid.NewSHA1(uuid.NameSpaceURL, []byte("rafiki:wallet_address_key:"+c.ID)).String()
	subject, err := Subject(tenantID, c.WalletAddressID)
	if err != nil {
		return "", handlers.Result{}, err
	}
	claim, err := kidClaim(tenantID, c.WalletAddressID, c.JWK.Kid)
	if err != nil {
		return "", handlers.Result{}, err
	}
	target, err := handlers.NewTarget(tenantID, KeyAggregateType, keyID)
	if err != nil {
		return "", handlers.Result{}, err
	}
	res, err := handlers.Retry(ctx, func() (handlers.Result, error) {
		wa, _, err := handlers.Load(ctx, h.store, subject, Evolve)
		if err != nil {
			return handlers.Result{}, err
		}
		evs, err := decideAddKey(wa, c)
		if err != nil {
			return handlers.Result{}, err
		}
		holder, _, taken, err := h.store.Last(ctx, claim)
		if err != nil {
			return handlers.Result{}, err
		}
		if taken {
			return h.keyAddedBefore(ctx, target, string(holder), c.ID)
		}
		msgs, err := handlers.Messages(target.Subject, 0, handlers.Meta(target, info(c.Meta)), c.ID, 0, evs...)
		if err != nil {
			return handlers.Result{}, err
		}
		seqs, err := h.store.Append(ctx, append([]eventstore.Message{handlers.Claim(claim, keyID, c.ID)}, msgs...))
		if err != nil {
			return handlers.Result{}, err
		}
		return handlers.Result{Sequence: seqs[len(seqs)-1]}, nil
	})
	return keyID, res, err
}

// keyAddedBefore answers a key create whose kid is claimed by holder: the
// claim is this command's own when it ran before, as the key's id derives
// from the command id.
func (h *Handler) keyAddedBefore(ctx context.Context, t handlers.Target, holder, commandID string) (handlers.Result, error) {
	if holder == t.AggregateID {
		_, _, done, err := handlers.LoadFor(ctx, h.store, t.Subject, commandID, EvolveKey)
		if err != nil {
			return handlers.Result{}, err
		}
		if done != nil {
			return *done, nil
		}
	}
	return handlers.Result{}, apperr.E(apperr.Duplicate, "Key already exists")
}

// RevokeKey revokes a key.
func (h *Handler) RevokeKey(ctx context.Context, c commands.RevokeWalletAddressKey) (handlers.Result, error) {
	c, err := checkRevokeKey(c)
	if err != nil {
		return handlers.Result{}, err
	}
	tenantID, err := h.locate(ctx, KeyAggregateType, c.KeyID, "Wallet address key not found")
	if err != nil {
		return handlers.Result{}, err
	}
	target, err := handlers.NewTarget(tenantID, KeyAggregateType, c.KeyID)
	if err != nil {
		return handlers.Result{}, err
	}
	return handlers.Execute(ctx, h.store, target, info(c.Meta), EvolveKey, func(s KeyState) ([]events.Event, error) {
		return decideRevokeKey(s, c)
	})
}

func (h *Handler) locate(ctx context.Context, aggregateType, id, notFound string) (string, error) {
	tenantID, found, err := handlers.Locate(ctx, h.store, aggregateType, id)
	if err != nil {
		return "", err
	}
	if !found {
		return "", apperr.E(apperr.NotFound, "%s", notFound)
	}
	return tenantID, nil
}
