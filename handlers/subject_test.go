package handlers

import (
	"regexp"
	"testing"
)

// isAggregateType accepts exactly what the pattern of an aggregate type
// matches.
func FuzzIsAggregateType(f *testing.F) {
	pattern := regexp.MustCompile(`^[a-z][a-z_]*$`)
	for _, seed := range []string{"incoming_payment", "tenant", "", "_x", "x_", "Tenant", "a.b", "*", ">", "a b", "é", "a\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, typ string) {
		if got, want := isAggregateType(typ), pattern.MatchString(typ); got != want {
			t.Fatalf("isAggregateType(%q) = %v, the pattern says %v", typ, got, want)
		}
	})
}
