package outgoingpayment_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/testkit/readcount"
)

// oneQuote answers the one quote a test made.
type oneQuote struct {
	outgoingpayment.Quoter
	q quote.State
}

func (o oneQuote) LoadIn(_ context.Context, tenantID, id string) (quote.State, error) {
	if id != o.q.ID || tenantID != o.q.TenantID {
		return quote.State{}, nil
	}
	return o.q, nil
}

type activeReceivers struct{ outgoingpayment.Receivers }

func (activeReceivers) Active(context.Context, string) (bool, error) { return true, nil }

// A payment made by a handler is funded by id alone without a search of
// the stream for its tenant.
func TestPaymentMadeIsFoundWithoutASearch(t *testing.T) {
	store := &readcount.Store{Store: natsStore(t)}
	ctx := context.Background()
	operator := commands.Actor{TenantID: uuid.NewString(), Operator: true}
	meta := func(id string) commands.Meta { return commands.Meta{ID: id, Actor: operator} }
	if _, _, err := tenant.NewHandler(store, operator.TenantID, "test.rafiki", "").Create(ctx, commands.CreateTenant{
		Meta: meta("tenant"), TenantID: operator.TenantID, APISecret: "secret",
		Settings: []events.Setting{{Key: tenant.SettingWalletAddressURL, Value: "https://wallet.example"}}}); err != nil {
		t.Fatal(err)
	}
	assetID, _, err := asset.NewHandler(store, func(context.Context, string) (bool, error) { return false, nil }).Create(ctx,
		commands.CreateAsset{Meta: meta("asset"), TenantID: operator.TenantID, Code: "USD", Scale: 2})
	if err != nil {
		t.Fatal(err)
	}
	walletID, _, err := walletaddress.NewHandler(store, "https://op.example").Create(ctx, commands.CreateWalletAddress{
		Meta: meta("wallet"), TenantID: operator.TenantID, AssetID: assetID, Address: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	q := quote.State{Exists: true, ID: uuid.NewString(), TenantID: operator.TenantID, QuoteCreated: events.QuoteCreated{
		WalletAddressID: walletID, AssetID: assetID, AssetCode: "USD", AssetScale: 2, Receiver: "https://op.example/x/incoming-payments/y",
		DebitAmount: 500, DebitAmountMinusFees: 500, ReceiveAmount: 500, ExpiresAt: time.Now().Add(time.Minute)}}
	enqueue := func(context.Context, string, string, time.Time, any) error { return nil }
	h := outgoingpayment.NewHandler(store, untouchedLedger{t: t}, activeReceivers{}, oneQuote{q: q}, noPayer{}, enqueue, 3)
	id, _, err := h.Create(ctx, commands.CreateOutgoingPayment{Meta: meta("pay"), WalletAddressID: walletID, QuoteID: q.ID,
		InitiatedBy: events.InitiatedByAdmin})
	if err != nil {
		t.Fatal(err)
	}
	before := store.Searches.Load()
	if _, err := h.Fund(ctx, commands.FundOutgoingPayment{Meta: meta("fund"), OutgoingPaymentID: id}); err != nil {
		t.Fatal(err)
	}
	if n := store.Searches.Load() - before; n != 0 {
		t.Fatalf("%d searches of the stream to fund the payment just made", n)
	}
}
