package asset

import (
	"strings"
	"testing"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
)

func TestCheckCommands(t *testing.T) {
	const id = "00000000-0000-4000-8000-0000000000a1"
	for _, tc := range []struct {
		name  string
		check func() error
		ok    bool
	}{
		{"create", func() error { _, err := checkCreate(commands.CreateAsset{TenantID: id, Code: "USD"}); return err }, true},
		{"create for tenant *", func() error { _, err := checkCreate(commands.CreateAsset{TenantID: "*", Code: "USD"}); return err }, false},
		{"create empty code", func() error { _, err := checkCreate(commands.CreateAsset{TenantID: id}); return err }, false},
		{"create space in code", func() error { _, err := checkCreate(commands.CreateAsset{TenantID: id, Code: "U SD"}); return err }, false},
		{"create NUL in code", func() error { _, err := checkCreate(commands.CreateAsset{TenantID: id, Code: "U\x00"}); return err }, false},
		{"update", func() error { _, err := checkUpdate(commands.UpdateAsset{AssetID: id}); return err }, true},
		{"update >", func() error { _, err := checkUpdate(commands.UpdateAsset{AssetID: ">"}); return err }, false},
		{"update upper case", func() error { _, err := checkUpdate(commands.UpdateAsset{AssetID: strings.ToUpper(id)}); return err }, true},
		{"delete a.b", func() error { _, err := checkDelete(commands.DeleteAsset{AssetID: "a.b"}); return err }, false},
		{"fee", func() error {
			_, err := checkSetFee(commands.SetFee{AssetID: id, Type: FeeSending, BasisPoints: 10000})
			return err
		}, true},
		{"fee 0", func() error { _, err := checkSetFee(commands.SetFee{AssetID: id, Type: FeeReceiving}); return err }, true},
		{"fee above 10000", func() error {
			_, err := checkSetFee(commands.SetFee{AssetID: id, Type: FeeSending, BasisPoints: 10001})
			return err
		}, false},
		{"fee negative", func() error {
			_, err := checkSetFee(commands.SetFee{AssetID: id, Type: FeeSending, BasisPoints: -1})
			return err
		}, false},
		{"fee type", func() error { _, err := checkSetFee(commands.SetFee{AssetID: id, Type: "BOTH"}); return err }, false},
		{"fee asset *", func() error { _, err := checkSetFee(commands.SetFee{AssetID: "*", Type: FeeSending}); return err }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check()
			if tc.ok != (err == nil) || (!tc.ok && apperr.KindOf(err) != apperr.InvalidInput) {
				t.Fatalf("got %v, want ok %v", err, tc.ok)
			}
		})
	}
}
