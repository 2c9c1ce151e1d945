package apperr

import (
	"context"
	"fmt"
	"testing"
)

func TestEveryKindIsInTheTable(t *testing.T) {
	kinds := []Kind{InvalidInput, Unauthenticated, Forbidden, NotFound, Duplicate, Conflict, Inactive, Timeout, Unavailable, Internal}
	ids := map[int]bool{}
	for _, k := range kinds {
		r, ok := table[k]
		if !ok {
			t.Fatalf("kind %s missing from errors.json", k)
		}
		if ids[r.ID] || r.GraphQL == "" || r.HTTP == 0 {
			t.Fatalf("row %+v: duplicate id or missing code", r)
		}
		ids[r.ID] = true
	}
	if len(Rows()) != len(kinds) {
		t.Fatalf("errors.json has %d rows, Go names %d", len(Rows()), len(kinds))
	}
}

func TestKindOfUnwrapsAndHidesOthers(t *testing.T) {
	wrapped := fmt.Errorf("create asset: %w", E(Duplicate, "Asset already exists"))
	if KindOf(wrapped) != Duplicate || Message(wrapped) != "Asset already exists" {
		t.Fatalf("got %s %q", KindOf(wrapped), Message(wrapped))
	}
	late := fmt.Errorf("append events.t.asset.a: %w", context.DeadlineExceeded)
	if KindOf(late) != Unavailable || Message(late) == late.Error() || Message(late) == "Internal error." {
		t.Fatalf("a passed deadline: got %s %q", KindOf(late), Message(late))
	}
	other := fmt.Errorf("dial tcp: refused")
	if KindOf(other) != Internal || Message(other) != "Internal error." {
		t.Fatalf("got %s %q", KindOf(other), Message(other))
	}
}
