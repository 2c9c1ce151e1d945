package ilp

import (
	"regexp"
	"strings"
	"testing"
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
	// RFC 15's grammar as a pattern: an independent reading to compare with.
	rfc15 := regexp.MustCompile(`^(g|private|example|peer|self|test[1-3]?|local)([.][a-zA-Z0-9_~-]+)+$`)
	f.Fuzz(func(t *testing.T, a string) {
		want := len(a) <= 1023 && rfc15.MatchString(a)
		if ok := ValidateAddress(a) == nil; ok != want {
			t.Fatalf("%q: ValidateAddress says %v, RFC 15's grammar %v", a, ok, want)
		}
	})
}
