package projections_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/projections"
)

// A Quiet projection (webhooks) lets events that make no statement pass
// without a transaction, writes its checkpoint as it stops, and writes it at
// once with the next event that makes a statement.
func TestQuietProjectionWritesItsCheckpointLess(t *testing.T) {
	defer projections.SetQuietInterval(time.Hour)()
	e := setup(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	p := projections.Webhooks{}
	if err := projections.Prepare(ctx, e.pool, p); err != nil {
		t.Fatal(err)
	}
	followed := func(r *projections.Runner, seq uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for r.Status().Checkpoint < seq {
			if time.Now().After(deadline) {
				t.Fatalf("runner at %d, want %d", r.Status().Checkpoint, seq)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	runner := projections.NewRunner(e.pool, e.nats.JS, "EVENTS", p, log)
	stop := runUntil(runner)
	last := load(t, e, 50, 1) // tenants: no webhook
	followed(runner, last)
	if got := checkpoint(t, e.pool, p.Name()); got != 0 {
		t.Fatalf("events that make no webhook were written: checkpoint %d, want 0", got)
	}
	stop()
	if got := checkpoint(t, e.pool, p.Name()); got != last {
		t.Fatalf("the runner stopped with checkpoint %d written, want %d", got, last)
	}

	runner = projections.NewRunner(e.pool, e.nats.JS, "EVENTS", p, log)
	defer runUntil(runner)()
	more := loadFrom(t, e, 50, 20, 0)
	followed(runner, more)
	if got := checkpoint(t, e.pool, p.Name()); got != last {
		t.Fatalf("checkpoint %d, want %d: the events since make no webhook", got, last)
	}
	tenantID, paymentID := uuid.NewString(), uuid.NewString()
	subject, err := handlers.Subject(tenantID, "incoming_payment", paymentID)
	if err != nil {
		t.Fatal(err)
	}
	target := handlers.Target{Subject: subject, AggregateType: "incoming_payment", AggregateID: paymentID, TenantID: tenantID}
	res, err := handlers.AppendEvents(ctx, e.store, subject, 0, handlers.Meta(target, handlers.CommandInfo{ID: "create-payment"}), "create-payment",
		&events.IncomingPaymentCreated{WalletAddressID: uuid.NewString(), AssetID: uuid.NewString(), AssetCode: "USD", AssetScale: 2,
			ExpiresAt: time.Now().Add(time.Hour), InitiatedBy: events.InitiatedByAdmin})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for checkpoint(t, e.pool, p.Name()) != res.Sequence {
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint %d, want %d: an event that makes a webhook is written at once", checkpoint(t, e.pool, p.Name()), res.Sequence)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var webhooks int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM rm_webhooks.webhook_events WHERE incoming_payment_id = $1`, paymentID).Scan(&webhooks); err != nil || webhooks != 1 {
		t.Fatalf("%d webhook events for the payment (%v), want 1", webhooks, err)
	}
}
