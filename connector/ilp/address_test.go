package ilp

import (
	"strings"
	"testing"

	"github.com/rafiki-go/rafiki/valid"
)

func TestValidateAddress(t *testing.T) {
	valid := []string{
		"g.acme.bob", "private.x", "example.alice", "peer.config", "self.a", "test.a", "test1.a", "test2.a", "test3.a", "local.a",
		"g.us-fed.ach.0.acmebank.swx0a0.acmecorp.sales.199.~ipr.cdfa5e16-e759-4ba3-88f6-8b9dc83c1868.2",
		"g.AZaz09_~-", "g." + strings.Repeat("a", 1021),
	}
	for _, a := range valid {
		if err := ValidateAddress(a); err != nil {
			t.Fatalf("%q: %v", a, err)
		}
	}
	invalid := []string{
		"", "g", "g.", ".g.a", "g..a", "g.a.", "test4.a", "G.a", "gg.a", "foo.bar", "g.a b", "g.a/b", "g.a+b", "g.é",
		"g.a\x00", "g." + strings.Repeat("a", 1022), "peer", "test.a..b",
	}
	for _, a := range invalid {
		if err := ValidateAddress(a); err == nil {
			t.Fatalf("%q: valid, want an error", a)
		}
	}
}

// FuzzValidateAddress keeps the hand-written check equal to the pattern
// package valid uses for ILP addresses in admin input.
func FuzzValidateAddress(f *testing.F) {
	for _, a := range []string{"g.a", "g", "test4.a", "g..a", "peer.config", "g.a.", "g.é", "private.~_-"} {
		f.Add(a)
	}
	f.Fuzz(func(t *testing.T, a string) {
		if ok := ValidateAddress(a) == nil; ok != valid.ILPAddress(a) {
			t.Fatalf("%q: ValidateAddress says %v, valid.ILPAddress %v", a, ok, !ok)
		}
	})
}
