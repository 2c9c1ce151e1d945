package quote

import (
	"reflect"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
)

const tenantID = "00000000-0000-4000-8000-000000000002"

var (
	now      = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lifespan = 5 * time.Minute
	owner    = commands.Actor{TenantID: tenantID}
	stranger = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000003"}

	usd     = asset.State{Exists: true, ID: "asset-usd", TenantID: tenantID, Code: "USD", Scale: 2}
	withFee = func() asset.State {
		a := usd
		a.SendingFee = &asset.Fee{ID: "fee-1", Fixed: 10, BasisPoints: 100}
		return a
	}()
	wa       = walletaddress.State{Exists: true, ID: "wa-1", TenantID: tenantID, AssetID: "asset-usd"}
	inactive = func() walletaddress.State { w := wa; w.DeactivatedAt = &now; return w }()

	soon = now.Add(time.Minute)
	eur  = Receiver{URL: "https://op.example/t/incoming-payments/1", LocalPaymentID: "1", AssetCode: "EUR", AssetScale: 2,
		IncomingAmount: u64(1000), ReceivedAmount: 200, Active: true}
	open      = Receiver{URL: "https://op.example/t/incoming-payments/2", LocalPaymentID: "2", AssetCode: "EUR", AssetScale: 2, Active: true, ExpiresAt: &soon}
	elsewhere = Receiver{URL: "https://other.example/t/incoming-payments/3", AssetCode: "EUR", AssetScale: 2, Active: true,
		ILPAddress: "test.other.x", SharedSecret: []byte("secret")}
	finished = func() Receiver { r := eur; r.Active = false; return r }()
)

func u64(v uint64) *uint64 { return &v }

func amount(v uint64, code string) *commands.Amount {
	return &commands.Amount{Value: v, AssetCode: code, AssetScale: 2}
}

// rate converts at 0.5 EUR a USD, rounding as the rates service does.
func rate(q ask) priced {
	if q.fixedSend {
		return priced{amount: q.amount / 2, rate: 0.5}
	}
	return priced{amount: q.amount * 2, rate: 0.5}
}

func TestDecideCreate(t *testing.T) {
	quote := func(r Receiver, debit, minusFees, receive uint64, expires time.Time, fee *string) []events.Event {
		method := events.QuoteILP
		if r.Local() {
			method = events.QuoteLocal
		}
		return []events.Event{&events.QuoteCreated{WalletAddressID: "wa-1", AssetID: "asset-usd", AssetCode: "USD", AssetScale: 2,
			Receiver: r.URL, DebitAmount: debit, DebitAmountMinusFees: minusFees, ReceiveAmount: receive, ReceiveAssetCode: "EUR",
			ReceiveAssetScale: 2, EstimatedExchangeRate: 0.5, FeeID: fee, Method: method, ExpiresAt: expires}}
	}
	feeID := "fee-1"
	for _, tc := range []struct {
		name     string
		wa       walletaddress.State
		asset    asset.State
		receiver Receiver
		found    bool
		c        commands.CreateQuote
		want     []events.Event
		kind     apperr.Kind
		message  string
	}{
		{"fixed send", wa, usd, eur, true, commands.CreateQuote{DebitAmount: amount(400, "USD")},
			quote(eur, 400, 400, 200, now.Add(lifespan), nil), "", ""},
		{"fixed send with a fee", wa, withFee, eur, true, commands.CreateQuote{DebitAmount: amount(410, "USD")},
			// 1 % of 410 rounded up, plus 10: 15; 395 converted.
			quote(eur, 410, 395, 197, now.Add(lifespan), &feeID), "", ""},
		{"fixed send past the remaining", wa, usd, eur, true, commands.CreateQuote{DebitAmount: amount(1602, "USD")}, nil, apperr.InvalidInput, "invalid amount"},
		{"fixed send up to the remaining", wa, usd, eur, true, commands.CreateQuote{DebitAmount: amount(1601, "USD")},
			quote(eur, 1601, 1601, 800, now.Add(lifespan), nil), "", ""},
		{"fixed send of nothing after the fee", wa, withFee, eur, true, commands.CreateQuote{DebitAmount: amount(10, "USD")}, nil, apperr.InvalidInput, "non-positive receive amount"},
		{"fixed send too small to convert", wa, usd, eur, true, commands.CreateQuote{DebitAmount: amount(1, "USD")}, nil, apperr.InvalidInput, "non-positive receive amount"},
		{"fixed send in another asset", wa, usd, eur, true, commands.CreateQuote{DebitAmount: amount(400, "EUR")}, nil, apperr.InvalidInput, "invalid amount"},
		{"fixed send of nothing", wa, usd, eur, true, commands.CreateQuote{DebitAmount: amount(0, "USD")}, nil, apperr.InvalidInput, "invalid amount"},
		{"fixed delivery", wa, usd, eur, true, commands.CreateQuote{ReceiveAmount: amount(300, "EUR")},
			quote(eur, 600, 600, 300, now.Add(lifespan), nil), "", ""},
		{"fixed delivery with a fee", wa, withFee, eur, true, commands.CreateQuote{ReceiveAmount: amount(300, "EUR")},
			quote(eur, 616, 600, 300, now.Add(lifespan), &feeID), "", ""},
		{"fixed delivery past the remaining", wa, usd, eur, true, commands.CreateQuote{ReceiveAmount: amount(801, "EUR")}, nil, apperr.InvalidInput, "invalid amount"},
		{"fixed delivery in another asset", wa, usd, eur, true, commands.CreateQuote{ReceiveAmount: amount(300, "USD")}, nil, apperr.InvalidInput, "invalid amount"},
		{"fixed delivery of nothing", wa, usd, eur, true, commands.CreateQuote{ReceiveAmount: amount(0, "EUR")}, nil, apperr.InvalidInput, "invalid amount"},
		{"what the receiver still expects", wa, usd, eur, true, commands.CreateQuote{},
			quote(eur, 1600, 1600, 800, now.Add(lifespan), nil), "", ""},
		{"a receiver expecting no amount, none asked", wa, usd, open, true, commands.CreateQuote{}, nil, apperr.InvalidInput, "invalid amount"},
		{"a receiver expiring before the lifespan", wa, usd, open, true, commands.CreateQuote{ReceiveAmount: amount(5, "EUR")},
			quote(open, 10, 10, 5, soon, nil), "", ""},
		{"a receiver elsewhere", wa, usd, elsewhere, true, commands.CreateQuote{ReceiveAmount: amount(5, "EUR")},
			quote(elsewhere, 10, 10, 5, now.Add(lifespan), nil), "", ""},
		{"a receiver elsewhere without credentials", wa, usd, func() Receiver { r := elsewhere; r.SharedSecret = nil; return r }(), true,
			commands.CreateQuote{ReceiveAmount: amount(5, "EUR")}, nil, apperr.InvalidInput, "invalid receiver"},
		{"both amounts", wa, usd, eur, true, commands.CreateQuote{DebitAmount: amount(1, "USD"), ReceiveAmount: amount(1, "EUR")}, nil, apperr.InvalidInput, "invalid amount"},
		{"an unknown receiver", wa, usd, Receiver{}, false, commands.CreateQuote{DebitAmount: amount(400, "USD")}, nil, apperr.InvalidInput, "invalid receiver"},
		{"a finished receiver", wa, usd, finished, true, commands.CreateQuote{DebitAmount: amount(400, "USD")}, nil, apperr.InvalidInput, "invalid receiver"},
		{"an unknown wallet address", walletaddress.State{}, usd, eur, true, commands.CreateQuote{DebitAmount: amount(400, "USD")}, nil, apperr.NotFound, "unknown wallet address"},
		{"an inactive wallet address", inactive, usd, eur, true, commands.CreateQuote{DebitAmount: amount(400, "USD")}, nil, apperr.Inactive, "inactive wallet address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.Actor = owner
			q, err := checkCreate(tc.wa, tc.asset, tc.receiver, tc.found, c)
			var got []events.Event
			if err == nil {
				got, err = decideCreate(tc.wa, tc.asset, tc.receiver, c, q, rate(q), now, lifespan)
			}
			if tc.kind != "" {
				if apperr.KindOf(err) != tc.kind || apperr.Message(err) != tc.message {
					t.Fatalf("got %v (%s), want %s %q", err, apperr.KindOf(err), tc.kind, tc.message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got[0], tc.want[0])
			}
		})
	}
	// Another tenant's wallet address is unknown to the caller.
	_, err := checkCreate(wa, usd, eur, true, commands.CreateQuote{Meta: commands.Meta{Actor: stranger}, DebitAmount: amount(400, "USD")})
	if apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("a stranger: %v", err)
	}
}
