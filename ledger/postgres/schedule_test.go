package postgres

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
)

func TestPickKeepsConflictingRequestsForTheNextBatch(t *testing.T) {
	a, b, c, d := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	req := func(skipped int, accounts ...uuid.UUID) *request {
		return &request{accounts: accounts, skipped: skipped}
	}
	tests := []struct {
		name      string
		held      []uuid.UUID
		pending   []*request
		wantBatch []int // indexes into pending
	}{
		{"nothing held", nil, []*request{req(0, a, b), req(0, b, c)}, []int{0, 1}},
		{"one held account keeps its request back", []uuid.UUID{b}, []*request{req(0, a, b), req(0, c, d)}, []int{1}},
		{"unknown accounts go", []uuid.UUID{a}, []*request{req(0), req(0, a, c)}, []int{0}},
		{"skipped too often goes anyway", []uuid.UUID{a}, []*request{req(skipsMax, a, b), req(0, a, c)}, []int{0}},
		{"everything held: no batch", []uuid.UUID{a, c}, []*request{req(0, a, b), req(0, c, d)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held := map[uuid.UUID]int{}
			for _, id := range tt.held {
				held[id]++
			}
			skippedBefore := make([]int, len(tt.pending))
			for i, r := range tt.pending {
				skippedBefore[i] = r.skipped
			}
			batch, rest := pick(tt.pending, held)
			if len(batch) != len(tt.wantBatch) || len(batch)+len(rest) != len(tt.pending) {
				t.Fatalf("batch of %d, rest %d; want batch %v", len(batch), len(rest), tt.wantBatch)
			}
			for i, want := range tt.wantBatch {
				if batch[i] != tt.pending[want] {
					t.Fatalf("batch[%d] is not pending[%d]", i, want)
				}
			}
			for _, r := range rest {
				i := indexOf(tt.pending, r)
				want := skippedBefore[i]
				if len(batch) > 0 {
					want++
				}
				if r.skipped != want {
					t.Fatalf("pending[%d] skipped %d, want %d", i, r.skipped, want)
				}
			}
		})
	}
}

func TestHoldCountsOverlappingBatches(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	held := map[uuid.UUID]int{}
	first := []*request{{accounts: []uuid.UUID{a, b}}}
	second := []*request{{accounts: []uuid.UUID{a}}}
	hold(held, first, 1)
	hold(held, second, 1)
	hold(held, first, -1)
	if held[a] != 1 || held[b] != 0 || len(held) != 1 {
		t.Fatalf("after the first batch finished: %v", held)
	}
	hold(held, second, -1)
	if len(held) != 0 {
		t.Fatalf("after both finished: %v", held)
	}
}

func indexOf(rs []*request, r *request) int {
	for i := range rs {
		if rs[i] == r {
			return i
		}
	}
	return -1
}

func TestLegAccountsFollowPendingLegs(t *testing.T) {
	k := legAccounts{byLeg: map[uuid.UUID][2]uuid.UUID{}}
	debit, credit, pending, posted := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	create := &operation{kind: kindCreate, legs: []leg{
		{id: pending, debit: debit, credit: credit, timeout: time.Minute},
		{id: posted, debit: credit, credit: debit},
	}}
	if got := k.accountsOf(create); len(got) != 4 {
		t.Fatalf("a create locks its legs' accounts: %v", got)
	}
	post := &operation{kind: kindPost, ids: []uuid.UUID{pending}}
	if got := k.accountsOf(post); len(got) != 0 {
		t.Fatalf("before the create is applied: %v", got)
	}
	k.remember([]*operation{create}, []error{nil})
	if got := k.accountsOf(post); len(got) != 2 || got[0] != debit || got[1] != credit {
		t.Fatalf("after the create: %v", got)
	}
	if _, ok := k.byLeg[posted]; ok {
		t.Fatal("a leg posted at once is remembered")
	}
	k.remember([]*operation{post}, []error{ledger.ErrAlreadyPosted})
	if got := k.accountsOf(post); len(got) != 0 || len(k.byLeg) != 0 {
		t.Fatalf("after the post: %v", got)
	}
	failed := &operation{kind: kindCreate, legs: []leg{{id: uuid.New(), debit: debit, credit: credit, timeout: time.Minute}}}
	k.remember([]*operation{failed}, []error{ledger.ErrInsufficientBalance})
	if len(k.byLeg) != 0 {
		t.Fatal("a failed create is remembered")
	}
}

func TestLingerFor(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		inFlight int
		pending  int
		waited   time.Duration
		want     time.Duration
	}{
		{name: "nothing in flight: go at once", inFlight: 0, pending: 1, want: 0},
		{name: "a batch in flight, one request: wait", inFlight: 1, pending: 1, want: lingerMaxUs * time.Microsecond},
		{name: "part of the wait spent", inFlight: 1, pending: 3, waited: 400 * time.Microsecond, want: lingerMaxUs*time.Microsecond - 400*time.Microsecond},
		{name: "waited long enough", inFlight: 1, pending: 3, waited: 2 * lingerMaxUs * time.Microsecond, want: 0},
		{name: "enough company", inFlight: 1, pending: lingerRequestsMin, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lingerFor(tt.inFlight, tt.pending, now.Add(-tt.waited), now); got != tt.want {
				t.Errorf("lingerFor = %s, want %s", got, tt.want)
			}
		})
	}
}
