package quote

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/testkit"
	"github.com/rafiki-go/rafiki/testkit/readcount"
)

// A quote made or read once is read from memory after: it never changes.
// One that does not exist is read again each time, since it may be made.
func TestQuotesReadOnce(t *testing.T) {
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(context.Background(), n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	counting := &readcount.Store{Store: store}
	h := &Handler{store: counting}
	ctx := context.Background()
	tenantID := uuid.NewString()
	appendQuote := func(id string) handlers.Result {
		t.Helper()
		target, err := handlers.NewTarget(tenantID, AggregateType, id)
		if err != nil {
			t.Fatal(err)
		}
		res, err := handlers.AppendEvents(ctx, counting, target.Subject, 0, handlers.Meta(target, handlers.CommandInfo{ID: id}), id,
			&events.QuoteCreated{WalletAddressID: uuid.NewString(), DebitAmount: 500, ReceiveAmount: 490, ExpiresAt: time.Now().Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	made := uuid.NewString()
	subject, err := handlers.Subject(tenantID, AggregateType, made)
	if err != nil {
		t.Fatal(err)
	}
	h.remember(subject, appendQuote(made))
	if q, err := h.LoadIn(ctx, tenantID, made); err != nil || !q.Exists || q.ID != made || q.DebitAmount != 500 || counting.Loads.Load() != 0 {
		t.Fatalf("a quote made here: %+v, %v after %d reads; want it without a read", q, err, counting.Loads.Load())
	}

	elsewhere := uuid.NewString()
	appendQuote(elsewhere)
	for range 3 {
		if q, err := h.LoadIn(ctx, tenantID, elsewhere); err != nil || !q.Exists || q.ReceiveAmount != 490 {
			t.Fatalf("a quote made elsewhere: %+v, %v", q, err)
		}
	}
	if got := counting.Loads.Load(); got != 1 {
		t.Fatalf("a quote made elsewhere read %d times, want once", got)
	}

	unknown := uuid.NewString()
	for range 2 {
		if q, err := h.LoadIn(ctx, tenantID, unknown); err != nil || q.Exists {
			t.Fatalf("no quote: %+v, %v", q, err)
		}
	}
	if got := counting.Loads.Load(); got != 3 {
		t.Fatalf("a quote not found is read each time: %d reads in all, want 3", got)
	}
}
