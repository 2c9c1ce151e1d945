package projections_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/peer"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/readmodel"
	"github.com/rafiki-go/rafiki/secrets"
	"github.com/rafiki-go/rafiki/testkit"
)

const peersFilter = "events.*.peer.>"

var (
	peersOperator = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000001", Operator: true}
	peersTenantA  = "00000000-0000-4000-8000-00000000000a"
	peersTenantB  = "00000000-0000-4000-8000-00000000000b"
)

// peersConsumer makes sure the peers projection's durable consumer exists,
// as streams.yaml declares it once the projection is registered.
func peersConsumer(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	name := projections.ConsumerName(projections.Peers{})
	_, err := js.Consumer(ctx, "EVENTS", name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		_, err = js.CreateConsumer(ctx, "EVENTS", jetstream.ConsumerConfig{
			Durable: name, FilterSubjects: []string{peersFilter}, AckPolicy: jetstream.AckAllPolicy,
			AckWait: 30 * time.Second, MaxAckPending: 1000,
		})
	}
	if err != nil {
		t.Fatal(err)
	}
}

type peersEnv struct {
	t      *testing.T
	nats   *testkit.NATS
	pool   *pgxpool.Pool
	read   *readmodel.Reader
	waiter *projections.Waiter
	assets *asset.Handler
	peers  *peer.Handler
	keys   *secrets.Keyring
	cmds   int
	last   uint64
}

func peersSetup(t *testing.T) *peersEnv {
	t.Helper()
	n := testkit.StartNATS(t, false)
	peersConsumer(t, n.JS)
	store, err := eventstore.Open(context.Background(), n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	keys := testkit.Keyring(t, n.JS)
	sealing := handlers.SealSecrets(store, keys)
	dbURL := testkit.NewDatabase(t)
	if err := migrations.Up(dbURL); err != nil {
		t.Fatal(err)
	}
	pool := testkit.Pool(t, dbURL)
	// Cleanups run last first: the runner and waiter stop before the pool
	// closes.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)
	if err := projections.Prepare(ctx, pool, projections.Peers{}); err != nil {
		t.Fatal(err)
	}
	waiter := projections.NewWaiter(pool, log)
	go waiter.Run(ctx)
	go projections.NewRunner(pool, n.JS, "EVENTS", projections.Peers{Secrets: keys}, log).Run(ctx)
	e := &peersEnv{t: t, nats: n, pool: pool, read: readmodel.NewReader(pool, nil), waiter: waiter,
		assets: asset.NewHandler(store, notInUse), peers: peer.NewHandler(sealing), keys: keys}
	tenants := tenant.NewHandler(sealing, peersOperator.TenantID, "test.rafiki", "")
	for _, id := range []string{peersTenantA, peersTenantB} {
		if _, _, err := tenants.Create(ctx, commands.CreateTenant{Meta: e.meta(peersOperator), TenantID: id, APISecret: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *peersEnv) meta(actor commands.Actor) commands.Meta {
	e.cmds++
	return commands.Meta{ID: fmt.Sprintf("peers-test-%d", e.cmds), Actor: actor}
}

func (e *peersEnv) asset(tenantID, code string) string {
	e.t.Helper()
	id, _, err := e.assets.Create(context.Background(), commands.CreateAsset{Meta: e.meta(peersOperator), TenantID: tenantID, Code: code, Scale: 2})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *peersEnv) peer(assetID, address string, routes []string, tokens ...string) string {
	e.t.Helper()
	created, err := e.peers.Create(context.Background(), commands.CreatePeer{
		Meta: e.meta(peersOperator), AssetID: assetID, StaticILPAddress: address, Routes: routes,
		HTTP: commands.PeerHTTP{
			Incoming: &commands.PeerHTTPIncoming{AuthTokens: tokens},
			Outgoing: commands.PeerHTTPOutgoing{AuthToken: "out-" + address, Endpoint: "https://" + address + ".example/ilp"},
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.last = max(e.last, created.Sequence)
	return created.PeerID
}

func (e *peersEnv) wrote(res error, seq uint64) {
	e.t.Helper()
	if res != nil {
		e.t.Fatal(res)
	}
	e.last = max(e.last, seq)
}

// caughtUp waits until the projection applied everything written so far.
func (e *peersEnv) caughtUp() {
	e.t.Helper()
	if err := e.waiter.Wait(context.Background(), projections.Peers{}.Name(), e.last, 10*time.Second); err != nil {
		e.t.Fatal(err)
	}
}

func TestPeersReadModel(t *testing.T) {
	e := peersSetup(t)
	ctx := context.Background()
	usdA, eurA := e.asset(peersTenantA, "USD"), e.asset(peersTenantA, "EUR")
	usdB := e.asset(peersTenantB, "USD")

	alice := e.peer(usdA, "test.alice", []string{"test.wonderland"}, "alice-in", "alice-in-2")
	aliceSub := e.peer(usdA, "test.alice.sub", nil, "alice-sub-in")
	var tenantA []string
	tenantA = append(tenantA, alice, aliceSub)
	for i := range 3 {
		tenantA = append(tenantA, e.peer(usdA, fmt.Sprintf("test.a%d", i), nil, fmt.Sprintf("a%d-in", i)))
	}
	eurPeer := e.peer(eurA, "test.alice", nil)
	tenantA = append(tenantA, eurPeer)
	bob := e.peer(usdB, "test.bob", nil, "bob-in")
	gone := e.peer(usdB, "test.gone", nil, "gone-in")

	name, maxPacket, threshold := "Alice", uint64(18446744073709551615), uint64(100)
	res, err := e.peers.Update(ctx, commands.UpdatePeer{Meta: e.meta(peersOperator), PeerID: alice, Name: &name,
		MaxPacketAmount: &maxPacket, LiquidityThreshold: &threshold,
		HTTP: &commands.PeerHTTP{
			Incoming: &commands.PeerHTTPIncoming{AuthTokens: []string{"alice-in-2", "alice-new"}},
			Outgoing: commands.PeerHTTPOutgoing{AuthToken: "alice-out-2", Endpoint: "https://alice.example/v2"},
		}})
	e.wrote(err, res.Sequence)
	res, err = e.peers.Delete(ctx, commands.DeletePeer{Meta: e.meta(peersOperator), PeerID: gone})
	e.wrote(err, res.Sequence)
	// A freed token goes to another peer: the read model must apply the
	// release before the take.
	bob2 := e.peer(usdB, "test.bob2", nil, "gone-in", "alice-in")
	e.caughtUp()

	// One peer, scoped.
	p, err := e.read.Peer(ctx, alice, nil)
	if err != nil || p == nil {
		t.Fatalf("alice: %v %v", p, err)
	}
	if p.TenantID != peersTenantA || p.AssetID != usdA || p.StaticILPAddress != "test.alice" || *p.Name != "Alice" ||
		*p.MaxPacketAmount != maxPacket || *p.LiquidityThreshold != 100 || p.OutgoingAuthToken != "alice-out-2" ||
		p.OutgoingEndpoint != "https://alice.example/v2" || !slices.Equal(p.Routes, []string{"test.alice", "test.wonderland"}) ||
		!p.UpdatedAt.After(p.CreatedAt) {
		t.Fatalf("alice %+v", p)
	}
	if p, err := e.read.Peer(ctx, alice, &peersTenantB); p != nil || err != nil {
		t.Fatalf("tenant B sees alice: %v %v", p, err)
	}
	if p, err := e.read.Peer(ctx, alice, &peersTenantA); p == nil || err != nil {
		t.Fatalf("tenant A does not see alice: %v %v", p, err)
	}
	if p, err := e.read.Peer(ctx, gone, nil); p != nil || err != nil {
		t.Fatalf("deleted peer: %v %v", p, err)
	}
	if p, err := e.read.Peer(ctx, "nope", nil); p != nil || err != nil {
		t.Fatalf("bad id: %v %v", p, err)
	}

	// Incoming tokens.
	for token, want := range map[string]string{
		"alice-new": alice, "alice-in-2": alice, "alice-in": bob2, "gone-in": bob2, "bob-in": bob, "none": "",
	} {
		p, err := e.read.PeerByIncomingToken(ctx, token)
		if err != nil || (want == "") != (p == nil) || (p != nil && p.ID != want) {
			t.Fatalf("token %s: %+v %v, want %s", token, p, err, want)
		}
	}

	// Addresses route by longest prefix within the asset.
	for _, tc := range []struct {
		address, asset string
		scope          *string
		want           string
	}{
		{"test.alice", usdA, nil, alice},
		{"test.alice.x.y", usdA, nil, alice},
		{"test.alice.sub", usdA, nil, aliceSub},
		{"test.alice.sub.x", usdA, &peersTenantA, aliceSub},
		{"test.wonderland.rabbit", usdA, nil, alice},
		{"test.alicex", usdA, nil, ""},
		{"test.alice", eurA, nil, eurPeer},
		{"test.alice", usdA, &peersTenantB, ""},
		{"test.gone", usdB, nil, ""},
		{"test.bob", usdB, &peersTenantB, bob},
		{"test.bob", "nope", nil, ""},
	} {
		p, err := e.read.PeerByAddressAndAsset(ctx, tc.address, tc.asset, tc.scope)
		if err != nil || (tc.want == "") != (p == nil) || (p != nil && p.ID != tc.want) {
			t.Fatalf("%s in %s: %+v %v, want %q", tc.address, tc.asset, p, err, tc.want)
		}
	}

	// Lists, scoped, a page at a time both ways.
	all, _, err := e.read.Peers(ctx, nil, readmodel.Page{})
	if err != nil || len(all) != 8 {
		t.Fatalf("all peers: %d %v", len(all), err)
	}
	two := 2
	var walked []string
	page := readmodel.Page{First: &two}
	for {
		rows, info, err := e.read.Peers(ctx, &peersTenantA, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			walked = append(walked, r.ID)
		}
		if !info.HasNextPage {
			break
		}
		page.After = info.EndCursor
	}
	if !slices.Equal(walked, tenantA) {
		t.Fatalf("tenant A pages: %v, want %v", walked, tenantA)
	}
	rows, info, err := e.read.Peers(ctx, &peersTenantA, readmodel.Page{Last: &two, Before: &tenantA[4]})
	if err != nil || len(rows) != 2 || rows[0].ID != tenantA[2] || rows[1].ID != tenantA[3] || !info.HasPreviousPage || !info.HasNextPage {
		t.Fatalf("page before the fifth: %v %+v %v", rows, info, err)
	}
	rows, _, err = e.read.Peers(ctx, &peersTenantB, readmodel.Page{})
	if err != nil || len(rows) != 2 || rows[0].ID != bob || rows[1].ID != bob2 {
		t.Fatalf("tenant B: %v %v", rows, err)
	}
	rows, _, err = e.read.Peers(ctx, &peersTenantB, readmodel.Page{Descending: true})
	if err != nil || len(rows) != 2 || rows[0].ID != bob2 {
		t.Fatalf("tenant B descending: %v %v", rows, err)
	}

	// A replay from the stream builds the same tables.
	peersEqualToReplay(t, e)
}

func peersEqualToReplay(t *testing.T, e *peersEnv) {
	t.Helper()
	testkit.ReplayMatchesLive(t, e.pool, e.nats.JS, "EVENTS", projections.Peers{Secrets: e.keys}, peersFilter)
}

// notInUse stands in for the read-model check these tests do not exercise.
func notInUse(context.Context, string) (bool, error) { return false, nil }
