package walletaddress

import (
	"fmt"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/asset"
)

func TestDecideWebMonetization(t *testing.T) {
	created := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	usd := asset.State{Exists: true, ID: assetID, Code: "USD", Scale: 2}
	wallet := func(told uint64) State {
		return State{Exists: true, ID: "w", TenantID: tenantID, AssetID: assetID, CreatedAt: created, Told: told}
	}
	for _, c := range []struct {
		name     string
		state    State
		received uint64
		want     string // the event, "" for none
	}{
		{"nothing received", wallet(0), 0, ""},
		{"first money", wallet(0), 120, "120 USD 2"},
		{"more since told", wallet(120), 150, "30 USD 2"},
		{"nothing new", wallet(150), 150, ""},
		{"told more than the ledger read (an older read)", wallet(150), 140, ""},
		{"no such wallet address", State{}, 10, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			evs := decideWebMonetization(c.state, usd, c.received)
			got := ""
			if len(evs) == 1 {
				e := evs[0].(*events.WalletAddressWebMonetization)
				if e.AssetID != assetID || !e.CreatedAt.Equal(created) {
					t.Fatalf("event %+v", e)
				}
				got = fmt.Sprintf("%d %s %d", e.Amount, e.AssetCode, e.AssetScale)
			}
			if len(evs) > 1 || got != c.want {
				t.Fatalf("%d events (%q), want %q", len(evs), got, c.want)
			}
		})
	}
	// Each event adds to what the wallet address told.
	s := Evolve(wallet(0), events.Envelope{}, &events.WalletAddressWebMonetization{Amount: 120})
	if s = Evolve(s, events.Envelope{}, &events.WalletAddressWebMonetization{Amount: 30}); s.Told != 150 {
		t.Fatalf("told %d, want 150", s.Told)
	}
}
