package grant_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
)

// queued is a command the handler enqueued.
type queued struct {
	subject, id string
	at          time.Time
	command     any
}

// queue records what the handler enqueues; fail, when set, refuses them.
type queue struct {
	mu   sync.Mutex
	fail error
	all  []queued
}

func (q *queue) enqueue(_ context.Context, subject, id string, at time.Time, command any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
	q.all = append(q.all, queued{subject: subject, id: id, at: at, command: command})
	return nil
}

func (q *queue) commands() []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]queued(nil), q.all...)
}

// run hands a queued command to the worker's entry point, as JSON.
func (f *fixture) run(c queued) time.Duration {
	f.t.Helper()
	data, err := json.Marshal(c.command)
	if err != nil {
		f.t.Fatal(err)
	}
	wait, err := f.grants.ExpireInteraction(context.Background(), data)
	if err != nil {
		f.t.Fatalf("expire interaction: %v", err)
	}
	return wait
}

func (f *fixture) interactive(id string) grant.Requested {
	f.t.Helper()
	req, err := f.grants.Request(context.Background(), commands.RequestGrant{
		Meta: commands.Meta{ID: id}, TenantID: tenantID, Client: events.GrantClient{WalletAddress: wallet},
		Access:   []events.GrantAccess{{Type: grant.TypeOutgoingPayment, Actions: []string{grant.ActionCreate}, Identifier: wallet}},
		Interact: &events.GrantInteract{Start: []string{"redirect"}},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return req
}

// An interaction started schedules its expiry, once per grant, for when it
// expires; the command waits until then, records the expiry once, and does
// nothing for an interaction the resource owner answered.
func TestInteractionExpiryIsScheduled(t *testing.T) {
	expiry := 1500 * time.Millisecond
	f := setupWith(t, func(p *grant.Policy) { p.InteractionExpiry = expiry })
	ctx := context.Background()

	before := time.Now()
	left := f.interactive("left-alone")
	f.interactive("left-alone") // a retried request decides nothing, and enqueues nothing more
	answered := f.interactive("answered")
	if _, err := f.grants.Request(ctx, commands.RequestGrant{Meta: commands.Meta{ID: "direct"}, TenantID: tenantID,
		Client: events.GrantClient{WalletAddress: wallet},
		Access: []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{grant.ActionCreate}}}}); err != nil {
		t.Fatal(err)
	}
	queued := f.queue.commands()
	if len(queued) != 2 {
		t.Fatalf("enqueued %+v, want one command for each interactive grant", queued)
	}
	for i, grantID := range []string{left.GrantID, answered.GrantID} {
		q := queued[i]
		if q.subject != commands.ExpireInteractionSubject || q.id != "expire_interaction:"+grantID ||
			q.at.Before(before.Add(expiry)) || q.at.After(time.Now().Add(expiry+2*time.Second)) {
			t.Fatalf("enqueued %+v for grant %s", q, grantID)
		}
		if c, ok := q.command.(commands.ExpireInteraction); !ok || c.GrantID != grantID || c.ID != q.id {
			t.Fatalf("command %+v", q.command)
		}
	}
	if _, err := f.grants.Accept(ctx, commands.InteractionChoice{Meta: f.meta(), GrantID: answered.GrantID,
		InteractionID: answered.InteractionID, Nonce: answered.InteractNonce}); err != nil {
		t.Fatal(err)
	}

	// Run early (a clock behind), it asks to come back when due and
	// records nothing.
	if wait := f.run(queued[0]); wait <= 0 || wait > expiry {
		t.Fatalf("early command waits %s", wait)
	}
	time.Sleep(time.Until(queued[0].at))
	for range 2 {
		if wait := f.run(queued[0]); wait != 0 {
			t.Fatalf("due command waits %s", wait)
		}
		if wait := f.run(queued[1]); wait != 0 {
			t.Fatalf("command on an answered interaction waits %s", wait)
		}
	}
	want := map[string][]string{
		left.GrantID:     {"grant.requested", "grant.interaction_expired"},
		answered.GrantID: {"grant.requested", "grant.interaction_approved"},
	}
	for id, w := range want {
		if got := f.events(id); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Fatalf("grant %s: events %v, want %v", id, got, w)
		}
	}
}

// A request whose expiry cannot be scheduled stores nothing: no
// interaction is left that would never be recorded expired. A command for
// a grant never stored, or undecodable, changes nothing.
func TestInteractionExpiryUnscheduled(t *testing.T) {
	f := setup(t)
	refused := errors.New("queue down")
	f.queue.fail = refused
	_, err := f.grants.Request(context.Background(), commands.RequestGrant{
		Meta: commands.Meta{ID: "unscheduled"}, TenantID: tenantID, Client: events.GrantClient{WalletAddress: wallet},
		Access:   []events.GrantAccess{{Type: grant.TypeOutgoingPayment, Actions: []string{grant.ActionCreate}, Identifier: wallet}},
		Interact: &events.GrantInteract{Start: []string{"redirect"}},
	})
	if !errors.Is(err, refused) {
		t.Fatalf("request with the queue down: %v", err)
	}
	grantID := grant.DerivedGrantID("unscheduled")
	if got := f.events(grantID); len(got) != 0 {
		t.Fatalf("stored %v", got)
	}
	if wait := f.run(queued{command: commands.ExpireInteraction{Meta: commands.Meta{ID: "expire_interaction:" + grantID}, GrantID: grantID}}); wait != 0 {
		t.Fatalf("command on a grant never stored waits %s", wait)
	}
	if _, err := f.grants.ExpireInteraction(context.Background(), []byte("{")); !errors.Is(err, commands.ErrUnprocessable) {
		t.Fatalf("undecodable command: %v", err)
	}
}
