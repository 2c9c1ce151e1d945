package quote

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/connector/stream/sender"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
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

// Prober probes the path from a wallet address (its tenant and asset) to
// STREAM credentials elsewhere with unfulfillable packets: the rate its
// packets arrive at and the largest it carries.
type Prober interface {
	Probe(ctx context.Context, tenantID, walletAddressID string, asset rates.Asset, destination string, sharedSecret []byte) (sender.Probe, error)
}

// Handler runs quote commands against the event store.
type Handler struct {
	store     handlers.Store
	locator   *handlers.Locator
	receivers Receivers
	rates     Converter
	prober    Prober
	slippage  float64
	lifespan  time.Duration
	// The wallet address paying and its asset (its sending fee), read as
	// incoming payment creation reads them.
	walletAddresses *walletaddress.WithAsset
	known           known
}

// NewHandler builds a handler; prober quotes receivers elsewhere with
// SLIPPAGE, lifespan is QUOTE_LIFESPAN.
func NewHandler(store handlers.Store, receivers Receivers, converter Converter, prober Prober, slippage float64, lifespan time.Duration) *Handler {
	if store == nil || receivers == nil || converter == nil || prober == nil || lifespan <= 0 {
		panic("quote: NewHandler needs a store, receivers, exchange rates, a prober and a lifespan")
	}
	return &Handler{store: store, locator: handlers.NewLocator(store), receivers: receivers, rates: converter, prober: prober, slippage: slippage, lifespan: lifespan,
		walletAddresses: walletaddress.NewWithAsset(store)}
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
	tenantID, found, err := h.locator.Locate(ctx, walletaddress.AggregateType, c.WalletAddressID)
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
	res, err := handlers.CreateNew(ctx, h.store, t.Subject, c.ID, Evolve, func(s State) bool { return s.Exists },
		fmt.Errorf("quote %s exists but command %s did not make it", quoteID, c.ID), func(version uint64) (handlers.Result, error) {
			evs, err := h.decide(ctx, tenantID, c)
			if err != nil {
				return handlers.Result{}, err
			}
			return handlers.AppendEvents(ctx, h.store, t.Subject, version,
				handlers.Meta(t, handlers.Info(c.Meta)), c.ID, evs...)
		})
	if err != nil {
		return "", handlers.Result{}, err
	}
	h.remember(t.Subject, res)
	return quoteID, res, nil
}

// decide reads what a quote depends on, converts its amount and decides.
func (h *Handler) decide(ctx context.Context, tenantID string, c commands.CreateQuote) ([]events.Event, error) {
	wa, a, err := h.walletAddresses.Load(ctx, tenantID, c.WalletAddressID)
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
	converted, err := h.price(ctx, tenantID, wa.ID, r, q)
	if err != nil {
		return nil, err
	}
	return decideCreate(wa, a, r, c, q, converted, time.Now(), h.lifespan)
}

// errRates is Rafiki's CouldNotFetchRates; an amount whose conversion
// does not fit 64 bits is the caller's invalid amount.
func errRates(err error) error {
	if errors.Is(err, rates.ErrAmountTooLarge) {
		return fmt.Errorf("%w: %w", errInvalidAmount(), err)
	}
	return fmt.Errorf("%w: %w", apperr.E(apperr.Internal, "could not convert between assets"), err)
}

// price converts what a quote asks at the rates for a receiver of this
// instance, as Rafiki's local payment method quotes; for one elsewhere it
// probes the path and quotes what the packets are sure to deliver at the
// rates expected less SLIPPAGE, as Rafiki's ILP payment method does.
func (h *Handler) price(ctx context.Context, tenantID, walletAddressID string, r Receiver, q ask) (priced, error) {
	convert := h.rates.ConvertDestination
	if q.fixedSend {
		convert = h.rates.ConvertSource
	}
	if r.Local() {
		converted, err := convert(ctx, tenantID, q.amount, q.from, q.to)
		if err != nil {
			return priced{}, errRates(err)
		}
		return priced{amount: converted.Amount, rate: converted.ScaledExchangeRate}, nil
	}
	if q.fixedSend && q.amount == 0 {
		// All fees: nothing to send, which delivers nothing.
		return priced{}, nil
	}
	expected, err := h.rates.ConvertSource(ctx, tenantID, 1, q.from, q.to)
	if err != nil {
		return priced{}, errRates(err)
	}
	probe, err := h.prober.Probe(ctx, tenantID, walletAddressID, q.from, r.ILPAddress, r.SharedSecret)
	if err != nil {
		return priced{}, fmt.Errorf("%w: %w", apperr.E(apperr.Internal, "could not probe the path to the receiver"), err)
	}
	terms := sender.Terms{Slippage: h.slippage, Rate: new(big.Rat).SetFloat64(expected.ScaledExchangeRate)}
	rate, _ := probe.RateLow.Float64()
	quote, amount := sender.QuoteDelivery, func(q sender.Quote) uint64 { return q.SourceAmount }
	if q.fixedSend {
		quote, amount = sender.QuoteSend, func(q sender.Quote) uint64 { return q.DeliveryAmount }
	}
	quoted, err := quote(probe, q.amount, terms)
	switch {
	case errors.Is(err, sender.ErrInsufficientRate):
		return priced{}, fmt.Errorf("%w: %w", apperr.E(apperr.Internal, "the path's exchange rate is below the minimum"), err)
	case err != nil:
		return priced{}, fmt.Errorf("%w: %w", errInvalidAmount(), err)
	}
	return priced{amount: amount(quoted), rate: rate}, nil
}

// Load reads a quote; found is false when it has no events.
func (h *Handler) Load(ctx context.Context, id string) (s State, found bool, err error) {
	id, ok := valid.ID(id)
	if !ok {
		return State{}, false, nil
	}
	tenantID, found, err := h.locator.Locate(ctx, AggregateType, id)
	if err != nil || !found {
		return State{}, false, err
	}
	subject, err := handlers.Subject(tenantID, AggregateType, id)
	if err != nil {
		return State{}, false, err
	}
	s, err = h.load(ctx, subject)
	return s, err == nil && s.Exists, err
}

// TrustWalletAddresses lets the handler use a wallet address and its asset
// read less than ttl ago while changes shows no change of them
// (walletaddress.WithAsset.Trust).
func (h *Handler) TrustWalletAddresses(changes func() (walletaddress.Progress, bool), ttl time.Duration) {
	h.walletAddresses.Trust(changes, ttl)
}
