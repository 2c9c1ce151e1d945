package peers

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/peer"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/testkit"
)

const (
	tenantA = "00000000-0000-4000-8000-00000000000a"
	tenantB = "00000000-0000-4000-8000-00000000000b"
)

// table folds the events, one sequence each, in order.
func table(t testing.TB, steps ...func(seq uint64) (events.Envelope, events.Event)) *Table {
	t.Helper()
	tb := NewTable()
	for i, step := range steps {
		env, ev := step(uint64(i + 1))
		if err := tb.Apply(env, ev); err != nil {
			t.Fatal(err)
		}
	}
	return tb
}

func created(id, tenantID, assetID, address string, routes []string, tokens ...string) func(uint64) (events.Envelope, events.Event) {
	return func(seq uint64) (events.Envelope, events.Event) {
		return events.Envelope{AggregateID: id, TenantID: tenantID, Sequence: seq}, &events.PeerCreated{
			AssetID: assetID, StaticILPAddress: address, Routes: routes, IncomingAuthTokens: tokens,
			OutgoingAuthToken: "out-" + id, OutgoingEndpoint: "http://" + id + ".example/ilp"}
	}
}

func updated(id, tenantID string, e events.PeerUpdated) func(uint64) (events.Envelope, events.Event) {
	return func(seq uint64) (events.Envelope, events.Event) {
		return events.Envelope{AggregateID: id, TenantID: tenantID, Sequence: seq}, &e
	}
}

func deleted(id, tenantID string) func(uint64) (events.Envelope, events.Event) {
	return func(seq uint64) (events.Envelope, events.Event) {
		return events.Envelope{AggregateID: id, TenantID: tenantID, Sequence: seq}, &events.PeerDeleted{}
	}
}

func TestRoute(t *testing.T) {
	tb := table(t,
		created("p1", tenantA, "usd", "test.alice", []string{"test.alice", "test.shared"}, "tok-1"),
		created("p2", tenantA, "usd", "test.alice.bob", []string{"test.alice.bob"}, "tok-2"),
		created("p3", tenantA, "eur", "test.eu", []string{"test.eu", "test.shared"}),
		created("p4", tenantB, "usd", "test.alice", []string{"test.alice"}),
		created("p5", tenantA, "usd", "test.static", nil),
	)
	for _, c := range []struct {
		name, tenant, destination, from, asset string
		want                                   string
	}{
		{"exact prefix", tenantA, "test.alice", "", "", "p1"},
		{"under a prefix", tenantA, "test.alice.x.y", "", "", "p1"},
		{"longest prefix", tenantA, "test.alice.bob.z", "", "", "p2"},
		{"segments, not characters", tenantA, "test.alicex", "", "", ""},
		{"never back to the sender", tenantA, "test.alice.bob.z", "p2", "", "p1"},
		{"by asset", tenantA, "test.shared.q", "", "eur", "p3"},
		{"asset nobody has", tenantA, "test.alice", "", "gbp", ""},
		{"other tenant", tenantB, "test.alice.bob", "", "", "p4"},
		{"tenant with no routes", "00000000-0000-4000-8000-00000000000c", "test.alice", "", "", ""},
		{"static address without routes", tenantA, "test.static.s", "", "", "p5"},
		{"no route", tenantA, "g.elsewhere", "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, ok := tb.Route(c.tenant, c.destination, c.from, c.asset)
			if ok != (c.want != "") || p.ID != c.want {
				t.Fatalf("route to %s = %q %v, want %q", c.destination, p.ID, ok, c.want)
			}
		})
	}
	seen := map[string]int{}
	for range 200 {
		p, _ := tb.Route(tenantA, "test.shared.x", "", "")
		seen[p.ID]++
	}
	if seen["p1"] == 0 || seen["p3"] == 0 || len(seen) != 2 {
		t.Fatalf("equal routes chosen %v, want both at random", seen)
	}
}

func TestUpdatesAndDeletions(t *testing.T) {
	newRoutes := []string{"test.moved"}
	newTokens := []string{"tok-new"}
	newMax := uint64(99)
	tb := table(t,
		created("p1", tenantA, "usd", "test.alice", []string{"test.alice"}, "tok-1", "tok-2"),
		created("p2", tenantA, "usd", "test.bob", []string{"test.bob"}, "tok-3"),
		updated("p1", tenantA, events.PeerUpdated{Routes: &newRoutes, IncomingAuthTokens: &newTokens, MaxPacketAmount: &newMax}),
		deleted("p2", tenantA),
		updated("p2", tenantA, events.PeerUpdated{Routes: &newRoutes}),
		created("p1", tenantA, "usd", "test.again", []string{"test.again"}, "tok-again"),
	)
	if _, ok := tb.Route(tenantA, "test.alice", "", ""); ok {
		t.Fatal("a replaced route still routes")
	}
	if p, ok := tb.Route(tenantA, "test.moved.x", "", ""); !ok || p.ID != "p1" || *p.MaxPacketAmount != 99 {
		t.Fatalf("new route: %+v %v", p, ok)
	}
	for token, want := range map[string]string{"tok-1": "", "tok-2": "", "tok-new": "p1", "tok-3": "", "tok-again": "", "": ""} {
		if p, ok := tb.ByIncomingToken(token); ok != (want != "") || p.ID != want {
			t.Errorf("token %q: %q %v, want %q", token, p.ID, ok, want)
		}
	}
	if _, ok := tb.ByID("p2"); ok {
		t.Fatal("a deleted peer is still held")
	}
	if _, ok := tb.Route(tenantA, "test.bob", "", ""); ok {
		t.Fatal("a deleted peer still routes")
	}
	if tb.Applied() != 6 {
		t.Fatalf("applied %d, want 6", tb.Applied())
	}
	if err := tb.Apply(events.Envelope{Type: "tenant.created"}, &events.TenantCreated{}); err == nil {
		t.Fatal("a tenant event was applied to the peer table")
	}
	// A deposit on a peer's subject moves money, not routes.
	if err := tb.Apply(events.Envelope{Type: "liquidity.deposited", Sequence: 7}, &events.LiquidityDeposited{}); err != nil || tb.Applied() != 7 {
		t.Fatalf("a deposit: %v, applied %d", err, tb.Applied())
	}
}

// TestFollow builds the table from peers made by the peer handler, their
// tokens sealed in the log, then follows what changes after it started.
func TestFollow(t *testing.T) {
	n := testkit.StartNATS(t, false)
	ctx := context.Background()
	store, err := eventstore.Open(ctx, n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	keys := testkit.Keyring(t, n.JS)
	sealed := handlers.SealSecrets(store, keys)
	operator := commands.Actor{TenantID: tenantA, Operator: true}
	meta := func() commands.Meta { return commands.Meta{ID: uuid.NewString(), Actor: operator} }
	if _, _, err := tenant.NewHandler(sealed, tenantA, "test.rafiki", "").Create(ctx, commands.CreateTenant{Meta: meta(), TenantID: tenantA, APISecret: "s"}); err != nil {
		t.Fatal(err)
	}
	assetID, _, err := asset.NewHandler(store, func(context.Context, string) (bool, error) { return false, nil }).
		Create(ctx, commands.CreateAsset{Meta: meta(), TenantID: tenantA, Code: "USD", Scale: 2})
	if err != nil {
		t.Fatal(err)
	}
	peers := peer.NewHandler(sealed)
	create := func(address, token string) string {
		p, err := peers.Create(ctx, commands.CreatePeer{Meta: meta(), AssetID: assetID, StaticILPAddress: address,
			HTTP: commands.PeerHTTP{Incoming: &commands.PeerHTTPIncoming{AuthTokens: []string{token}},
				Outgoing: commands.PeerHTTPOutgoing{AuthToken: "out-" + token, Endpoint: "http://peer.example/ilp"}}})
		if err != nil {
			t.Fatal(err)
		}
		return p.PeerID
	}
	first := create("test.first", "incoming-1")

	tb := NewTable()
	followCtx, stop := context.WithCancel(ctx)
	defer stop()
	last := func(ctx context.Context, subject string) (uint64, error) {
		_, seq, _, err := store.Last(ctx, subject)
		return seq, err
	}
	if err := tb.Follow(followCtx, n.JS, "EVENTS", keys, last, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if a, ok := tb.Asset(assetID); !ok || a.Code != "USD" || a.Scale != 2 || a.Ledger == 0 {
		t.Fatalf("the peers' asset: %+v %v", a, ok)
	}
	p, ok := tb.ByIncomingToken("incoming-1")
	if !ok || p.ID != first || p.OutgoingToken != "out-incoming-1" || p.TenantID != tenantA {
		t.Fatalf("a peer stored before Follow: %+v %v (tokens must be opened)", p, ok)
	}

	second := create("test.second", "incoming-2")
	testkit.Eventually(t, 5*time.Second, func() bool {
		p, ok := tb.Route(tenantA, "test.second.x", "", "")
		return ok && p.ID == second
	}, "a peer created after Follow started is not routed to")
	if _, err := peers.Delete(ctx, commands.DeletePeer{Meta: meta(), PeerID: first}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, func() bool {
		_, ok := tb.ByIncomingToken("incoming-1")
		return !ok
	}, "a deleted peer's token is still accepted")
}

// BenchmarkRoute routes among 1,000 peers of one tenant, each with its own
// prefix, to a destination four segments below one of them.
func BenchmarkRoute(b *testing.B) {
	tb := NewTable()
	for i := range 1000 {
		address := "test.peer" + uuid.NewString()[:8]
		if i == 500 {
			address = "test.target"
		}
		env := events.Envelope{AggregateID: uuid.NewString(), TenantID: tenantA, Sequence: uint64(i + 1)}
		if err := tb.Apply(env, &events.PeerCreated{AssetID: "usd", StaticILPAddress: address, Routes: []string{address},
			IncomingAuthTokens: []string{"tok-" + address}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := tb.Route(tenantA, "test.target.a.b.c", "", ""); !ok {
			b.Fatal("no route")
		}
	}
}

func BenchmarkByIncomingToken(b *testing.B) {
	tb := table(b, created("p1", tenantA, "usd", "test.alice", nil, "a-token-of-some-length-0123456789"))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := tb.ByIncomingToken("a-token-of-some-length-0123456789"); !ok {
			b.Fatal("no peer")
		}
	}
}
