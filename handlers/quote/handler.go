package quote

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/rates"
	"github.com/rafiki-go/rafiki/valid"
)

// Receivers finds the incoming payment a URL names; found is false when
// there is none it can read.
type Receivers interface {
	Receiver(ctx context.Context, url string) (r Receiver, found bool, err error)
}

// Converter converts amounts between assets with a tenant's exchange rates
// (rates.Service).
type Converter interface {
	ConvertSource(ctx context.Context, tenantID string, amount uint64, source, destination rates.Asset) (rates.Converted, error)
	ConvertDestination(ctx context.Context, tenantID string, amount uint64, source, destination rates.Asset) (rates.Converted, error)
}

// Handler runs quote commands against the event store.
type Handler struct {
	store     handlers.Store
	receivers Receivers
	rates     Converter
	lifespan  time.Duration
	// The wallet address paying and its asset (its sending fee), read as
	// incoming payment creation reads them.
	walletAddresses *handlers.StateCache[walletaddress.State]
	assets          *handlers.StateCache[asset.State]
}

// NewHandler builds a handler; lifespan is QUOTE_LIFESPAN.
func NewHandler(store handlers.Store, receivers Receivers, converter Converter, lifespan time.Duration) *Handler {
	if store == nil || receivers == nil || converter == nil || lifespan <= 0 {
		panic("quote: NewHandler needs a store, receivers, exchange rates and a lifespan")
	}
	return &Handler{store: store, receivers: receivers, rates: converter, lifespan: lifespan,
		walletAddresses: handlers.NewStateCache(walletaddress.Evolve), assets: handlers.NewStateCache(asset.Evolve)}
}

// QuoteID is the id of the quote a create command makes, so that a
// retried command finds the quote it made the first time.
func QuoteID(commandID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("rafiki:quote:"+commandID)).String()
}

// receiverLengthMax bounds a receiver's URL.
const receiverLengthMax = 2048

// Create makes a quote and returns its id.
func (h *Handler) Create(ctx context.Context, c commands.CreateQuote) (string, handlers.Result, error) {
	id, ok := valid.ID(c.WalletAddressID)
	if !ok {
		return "", handlers.Result{}, errUnknownWalletAddress()
	}
	c.WalletAddressID = id
	if !valid.HTTPURL(c.Receiver, receiverLengthMax) {
		return "", handlers.Result{}, errInvalidReceiver()
	}
	for _, a := range []*commands.Amount{c.DebitAmount, c.ReceiveAmount} {
		if a != nil && !valid.Text(a.AssetCode, valid.TextLengthMax) {
			return "", handlers.Result{}, errInvalidAmount()
		}
	}
	tenantID, found, err := handlers.Locate(ctx, h.store, walletaddress.AggregateType, c.WalletAddressID)
	if err != nil {
		return "", handlers.Result{}, err
	}
	if !found {
		return "", handlers.Result{}, errUnknownWalletAddress()
	}
	quoteID := QuoteID(c.ID)
	t, err := handlers.NewTarget(tenantID, AggregateType, quoteID)
	if err != nil {
		return "", handlers.Result{}, err
	}
	res, err := handlers.Retry(ctx, func() (handlers.Result, error) {
		s, version, done, err := handlers.LoadFor(ctx, h.store, t.Subject, c.ID, Evolve)
		if err != nil {
			return handlers.Result{}, err
		}
		if done != nil {
			return *done, nil
		}
		if s.Exists {
			return handlers.Result{}, fmt.Errorf("quote %s exists but command %s did not make it", quoteID, c.ID)
		}
		evs, err := h.decide(ctx, tenantID, c)
		if err != nil {
			return handlers.Result{}, err
		}
		return handlers.AppendEvents(ctx, h.store, t.Subject, version,
			handlers.Meta(t, handlers.CommandInfo{ID: c.ID, CorrelationID: c.CorrelationID}), c.ID, evs...)
	})
	if err != nil {
		return "", handlers.Result{}, err
	}
	return quoteID, res, nil
}

// decide reads what a quote depends on, converts its amount and decides.
func (h *Handler) decide(ctx context.Context, tenantID string, c commands.CreateQuote) ([]events.Event, error) {
	wa, a, err := h.walletAddressAndAsset(ctx, tenantID, c.WalletAddressID)
	if err != nil {
		return nil, err
	}
	r, found, err := h.receivers.Receiver(ctx, c.Receiver)
	if err != nil {
		return nil, err
	}
	q, err := checkCreate(wa, a, r, found, c)
	if err != nil {
		return nil, err
	}
	convert := h.rates.ConvertDestination
	if q.fixedSend {
		convert = h.rates.ConvertSource
	}
	converted, err := convert(ctx, tenantID, q.amount, q.from, q.to)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", apperr.E(apperr.Internal, "could not convert between assets"), err)
	}
	return decideCreate(wa, a, r, c, q, converted, time.Now(), h.lifespan)
}

// walletAddressAndAsset reads a wallet address and its asset.
func (h *Handler) walletAddressAndAsset(ctx context.Context, tenantID, walletAddressID string) (walletaddress.State, asset.State, error) {
	subject, err := walletaddress.Subject(tenantID, walletAddressID)
	if err != nil {
		return walletaddress.State{}, asset.State{}, err
	}
	wa, _, err := h.walletAddresses.Load(ctx, h.store, subject)
	if err != nil || !wa.Exists {
		return wa, asset.State{}, err
	}
	assetSubject, err := asset.Subject(wa.TenantID, wa.AssetID)
	if err != nil {
		return walletaddress.State{}, asset.State{}, err
	}
	a, _, err := h.assets.Load(ctx, h.store, assetSubject)
	return wa, a, err
}

// Load reads a quote; found is false when it has no events.
func (h *Handler) Load(ctx context.Context, id string) (s State, found bool, err error) {
	id, ok := valid.ID(id)
	if !ok {
		return State{}, false, nil
	}
	tenantID, found, err := handlers.Locate(ctx, h.store, AggregateType, id)
	if err != nil || !found {
		return State{}, false, err
	}
	subject, err := handlers.Subject(tenantID, AggregateType, id)
	if err != nil {
		return State{}, false, err
	}
	s, _, err = handlers.Load(ctx, h.store, subject, Evolve)
	return s, err == nil && s.Exists, err
}
