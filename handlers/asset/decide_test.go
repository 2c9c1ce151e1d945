package asset

import (
	"math"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

var (
	owner    = commands.Actor{TenantID: "t1"}
	stranger = commands.Actor{TenantID: "t2"}
	operator = commands.Actor{TenantID: "op", Operator: true}
	live     = State{Exists: true, ID: "a1", TenantID: "t1", Code: "USD", Scale: 2}
	gone     = func() State { s := live; now := time.Now(); s.DeletedAt = &now; return s }()
)

func TestDecideCreate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing State
		cmd      commands.CreateAsset
		ledger   uint32
		want     apperr.Kind
		wantType string
	}{
		{"new", State{}, commands.CreateAsset{Meta: commands.Meta{Actor: owner}, TenantID: "t1", Code: "USD", Scale: 2}, 1, "", "asset.created"},
		{"operator for a tenant", State{}, commands.CreateAsset{Meta: commands.Meta{Actor: operator}, TenantID: "t1", Code: "USD"}, 1, "", "asset.created"},
		{"for another tenant", State{}, commands.CreateAsset{Meta: commands.Meta{Actor: stranger}, TenantID: "t1", Code: "USD"}, 1, apperr.InvalidInput, ""},
		{"duplicate", live, commands.CreateAsset{Meta: commands.Meta{Actor: owner}, TenantID: "t1", Code: "USD", Scale: 2}, 0, apperr.Duplicate, ""},
		{"re-activate", gone, commands.CreateAsset{Meta: commands.Meta{Actor: owner}, TenantID: "t1", Code: "USD", Scale: 2}, 0, "", "asset.reactivated"},
		{"ledgers exhausted", State{}, commands.CreateAsset{Meta: commands.Meta{Actor: owner}, TenantID: "t1", Code: "USD"}, ledgerMax + 1, apperr.InvalidInput, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := decideCreate(tc.existing, tc.cmd, tc.ledger)
			if tc.want != "" {
				if apperr.KindOf(err) != tc.want {
					t.Fatalf("got %v, want %s", err, tc.want)
				}
				return
			}
			if err != nil || len(evs) != 1 || evs[0].EventType() != tc.wantType {
				t.Fatalf("got %v %v, want %s", evs, err, tc.wantType)
			}
		})
	}
}

func TestDecideOnExistingAsset(t *testing.T) {
	if _, err := decideUpdate(live, commands.UpdateAsset{Meta: commands.Meta{Actor: stranger}}); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("stranger updating: %v", err)
	}
	if _, err := decideUpdate(gone, commands.UpdateAsset{Meta: commands.Meta{Actor: owner}}); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("updating a deleted asset: %v", err)
	}
	if evs, err := decideUpdate(live, commands.UpdateAsset{Meta: commands.Meta{Actor: operator}}); err != nil || len(evs) != 1 {
		t.Fatalf("operator updating: %v %v", evs, err)
	}
	if _, err := decideDelete(gone, commands.DeleteAsset{Meta: commands.Meta{Actor: owner}}, false); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := decideDelete(live, commands.DeleteAsset{Meta: commands.Meta{Actor: owner}}, true); apperr.KindOf(err) != apperr.Forbidden {
		t.Fatalf("deleting an asset in use: %v", err)
	}
	if evs, err := decideDelete(live, commands.DeleteAsset{Meta: commands.Meta{Actor: owner}}, false); err != nil || len(evs) != 1 {
		t.Fatalf("deleting an unused asset: %v %v", evs, err)
	}
	for _, tc := range []struct {
		cmd  commands.SetFee
		want apperr.Kind
	}{
		{commands.SetFee{Meta: commands.Meta{Actor: owner}, Type: FeeSending, BasisPoints: 10000}, ""},
		{commands.SetFee{Meta: commands.Meta{Actor: owner}, Type: FeeReceiving, BasisPoints: 0}, ""},
		{commands.SetFee{Meta: commands.Meta{Actor: stranger}, Type: FeeSending}, apperr.NotFound},
	} {
		evs, err := decideSetFee(live, tc.cmd, "f1")
		if tc.want == "" && (err != nil || evs[0].(*events.FeeSet).FeeID != "f1") {
			t.Fatalf("%+v: %v %v", tc.cmd, evs, err)
		}
		if tc.want != "" && apperr.KindOf(err) != tc.want {
			t.Fatalf("%+v: %v, want %s", tc.cmd, err, tc.want)
		}
	}
}

func TestFeeCalculate(t *testing.T) {
	for _, tc := range []struct {
		fee       *Fee
		principal uint64
		want      uint64
	}{
		{nil, 1000, 0},
		{&Fee{BasisPoints: 100}, 1000, 10},
		{&Fee{BasisPoints: 100}, 1001, 11},
		{&Fee{BasisPoints: 100, Fixed: 5}, 1001, 16},
		{&Fee{BasisPoints: 0, Fixed: 5}, 0, 5},
		{&Fee{BasisPoints: 1}, 1, 1},
		{&Fee{BasisPoints: 10_000}, math.MaxUint64, math.MaxUint64},
		{&Fee{BasisPoints: 5_000}, math.MaxUint64, math.MaxUint64/2 + 1},
		{&Fee{BasisPoints: 5_000, Fixed: math.MaxUint64}, 2, math.MaxUint64},
	} {
		if got := tc.fee.Calculate(tc.principal); got != tc.want {
			t.Errorf("%+v on %d: %d, want %d", tc.fee, tc.principal, got, tc.want)
		}
	}
}

// The sending fee set last is the one quotes apply; a receiving fee is not
// one.
func TestEvolveKeepsTheLatestSendingFee(t *testing.T) {
	env := events.Envelope{AggregateID: "a1", TenantID: "t1"}
	s := Evolve(State{}, env, &events.AssetCreated{Code: "USD", Scale: 2})
	s = Evolve(s, env, &events.FeeSet{FeeID: "f1", Type: FeeSending, Fixed: 1, BasisPoints: 10})
	s = Evolve(s, env, &events.FeeSet{FeeID: "f2", Type: FeeReceiving, Fixed: 2, BasisPoints: 20})
	if s.SendingFee == nil || *s.SendingFee != (Fee{ID: "f1", Fixed: 1, BasisPoints: 10}) || s.Fees != 2 {
		t.Fatalf("after a sending and a receiving fee: %+v (%d fees)", s.SendingFee, s.Fees)
	}
	s = Evolve(s, env, &events.FeeSet{FeeID: "f3", Type: FeeSending, BasisPoints: 30})
	if s.SendingFee == nil || s.SendingFee.ID != "f3" {
		t.Fatalf("after another sending fee: %+v", s.SendingFee)
	}
}
