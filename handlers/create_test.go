package handlers_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/testkit/readcount"
)

// A create appends without reading its new subject first; only a failed
// first attempt reads it, to answer the command's own earlier result, refuse
// an aggregate another command made, or let the attempt's refusal stand.
func TestCreateNew(t *testing.T) {
	ctx := context.Background()
	id := uuid.NewString()
	store, subject, _ := tenantHistory(t, id)
	counting := &readcount.Store{Store: store}
	target := handlers.Target{Subject: subject, AggregateType: tenant.AggregateType, AggregateID: id, TenantID: id}
	taken := errors.New("taken")
	refused := apperr.E(apperr.InvalidInput, "refused")
	exists := func(s tenant.State) bool { return s.Exists }
	create := func(commandID string, refuse bool) (handlers.Result, []uint64, error) {
		var versions []uint64
		res, err := handlers.CreateNew(ctx, counting, subject, commandID, tenant.Evolve, exists, taken,
			func(version uint64) (handlers.Result, error) {
				versions = append(versions, version)
				if refuse {
					return handlers.Result{}, refused
				}
				return handlers.AppendEvents(ctx, counting, subject, version, handlers.Meta(target, handlers.CommandInfo{ID: commandID}),
					commandID, &events.TenantCreated{APISecret: "s", PublicName: commandID})
			})
		return res, versions, err
	}
	stored := func() int {
		t.Helper()
		envs, _, err := store.Load(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		return len(envs)
	}

	if _, versions, err := create("other", true); !errors.Is(err, refused) || len(versions) != 1 || counting.Lasts.Load() != 1 {
		t.Fatalf("a refusal on an empty subject: %v after attempts at %v and %d reads, want it answered after one", err, versions, counting.Lasts.Load())
	}
	counting.Lasts.Store(0)
	first, versions, err := create("c1", false)
	if err != nil || first.Sequence == 0 || len(versions) != 1 || versions[0] != 0 || counting.Lasts.Load() != 0 {
		t.Fatalf("first create: %+v, %v after attempts at %v and %d reads; want one attempt at 0 and no read", first, err, versions, counting.Lasts.Load())
	}
	if res, _, err := create("c1", false); err != nil || res.Sequence != first.Sequence || stored() != 1 {
		t.Fatalf("the same command again: %+v, %v, %d events stored; want %+v and one event", res, err, stored(), first)
	}
	// The command again when its decision would now refuse it (a time it
	// names has passed): its first result, read from the subject.
	if res, _, err := create("c1", true); err != nil || res.Sequence != first.Sequence {
		t.Fatalf("the same command, refused now: %+v, %v; want %+v", res, err, first)
	}
	if _, _, err := create("c2", false); !errors.Is(err, taken) || stored() != 1 {
		t.Fatalf("another command on a made aggregate: %v, %d events stored; want taken and one event", err, stored())
	}
	if _, _, err := create("c3", true); !errors.Is(err, taken) {
		t.Fatalf("another command refused on a made aggregate: %v, want taken", err)
	}
}
