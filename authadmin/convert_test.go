package authadmin

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/authstore"
	"github.com/rafiki-go/rafiki/events"
)

func TestFilterOf(t *testing.T) {
	tenant := "00000000-0000-4000-8000-000000000001"
	tooMany := make([]GrantState, filterValuesMax+1)
	for i := range tooMany {
		tooMany[i] = GrantStatePending
	}
	cases := []struct {
		name    string
		filter  *GrantFilter
		want    authstore.Filter
		invalid bool
	}{
		{"none", nil, authstore.Filter{TenantID: &tenant}, false},
		{"every list", &GrantFilter{
			Identifier:         &FilterString{In: []string{"https://wallet.test/a"}},
			State:              &FilterGrantState{In: []GrantState{GrantStateApproved}, NotIn: []GrantState{GrantStateFinalized}},
			FinalizationReason: &FilterFinalizationReason{In: []GrantFinalization{GrantFinalizationIssued}, NotIn: []GrantFinalization{GrantFinalizationRevoked}},
		}, authstore.Filter{TenantID: &tenant, Identifiers: []string{"https://wallet.test/a"},
			StateIn: []string{"APPROVED"}, StateNotIn: []string{"FINALIZED"},
			FinalizationReasonIn: []string{"ISSUED"}, FinalizationReasonNotIn: []string{"REVOKED"}}, false},
		{"identifier with a NUL", &GrantFilter{Identifier: &FilterString{In: []string{"a\x00"}}}, authstore.Filter{}, true},
		{"identifier too long", &GrantFilter{Identifier: &FilterString{In: []string{strings.Repeat("a", 256)}}}, authstore.Filter{}, true},
		{"too many states", &GrantFilter{State: &FilterGrantState{NotIn: tooMany}}, authstore.Filter{}, true},
	}
	for _, c := range cases {
		got, err := filterOf(c.filter, &tenant)
		if c.invalid {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.InvalidInput {
				t.Errorf("%s: %v, want invalid input", c.name, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v %v, want %+v", c.name, got, err, c.want)
		}
	}
}

func TestAmountOut(t *testing.T) {
	got, err := amountOut(&events.GrantAmount{Value: "18446744073709551615", AssetCode: "USD", AssetScale: 255})
	if err != nil || uint64(got.Value) != 18446744073709551615 || got.AssetCode != "USD" || got.AssetScale != 255 {
		t.Fatalf("largest amount: %+v %v", got, err)
	}
	for _, v := range []string{"18446744073709551616", "-1", "", "1e3"} {
		if _, err := amountOut(&events.GrantAmount{Value: v, AssetCode: "USD"}); err == nil {
			t.Errorf("amount %q read", v)
		}
	}
}
