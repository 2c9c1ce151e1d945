package app_test

import (
	"context"
	"testing"

	"github.com/rafiki-go/rafiki/app"
)

// Every event records who sent its command: the signing tenant of an admin
// API call; the system's own work records no one.
func TestEventsRecordTheirActor(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	history, err := app.History(ctx, s.running.Deps.JS, usd.ID)
	if err != nil || len(history) == 0 {
		t.Fatalf("history of %s: %v", usd.ID, err)
	}
	for _, env := range history {
		if env.Actor != s.operator.TenantID {
			t.Fatalf("%s recorded actor %q, want the operator %s", env.Type, env.Actor, s.operator.TenantID)
		}
	}
}
