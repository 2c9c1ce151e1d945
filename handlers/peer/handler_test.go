package peer_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/peer"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/testkit"
)

const tenantID = "00000000-0000-4000-8000-000000000002"

var (
	owner    = commands.Actor{TenantID: tenantID}
	stranger = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000003"}
	operator = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000001", Operator: true}
)

type fixture struct {
	t      *testing.T
	store  *eventstore.Store
	assets *asset.Handler
	peers  *peer.Handler
	n      int
}

func setup(t *testing.T) *fixture {
	t.Helper()
	n := testkit.StartNATS(t, false)
	store, err := eventstore.Open(context.Background(), n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	f := &fixture{t: t, store: store, assets: asset.NewHandler(store, notInUse), peers: peer.NewHandler(store)}
	tenants := tenant.NewHandler(store, operator.TenantID, "test.rafiki", "")
	if _, _, err := tenants.Create(context.Background(), commands.CreateTenant{
		Meta: f.meta(operator), TenantID: tenantID, APISecret: "secret",
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) meta(actor commands.Actor) commands.Meta {
	f.n++
	return commands.Meta{ID: fmt.Sprintf("cmd-%d", f.n), Actor: actor}
}

func (f *fixture) asset(code string) string {
	f.t.Helper()
	id, _, err := f.assets.Create(context.Background(), commands.CreateAsset{Meta: f.meta(operator), TenantID: tenantID, Code: code, Scale: 2})
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func peerCmd(assetID, address string, tokens ...string) commands.CreatePeer {
	return commands.CreatePeer{
		AssetID: assetID, StaticILPAddress: address,
		HTTP: commands.PeerHTTP{
			Incoming: &commands.PeerHTTPIncoming{AuthTokens: tokens},
			Outgoing: commands.PeerHTTPOutgoing{AuthToken: "out", Endpoint: "http://peer.example/ilp"},
		},
	}
}

func (f *fixture) create(c commands.CreatePeer) (peer.Created, error) {
	if c.ID == "" {
		c.Meta = f.meta(owner)
	}
	return f.peers.Create(context.Background(), c)
}

func (f *fixture) mustCreate(c commands.CreatePeer) peer.Created {
	f.t.Helper()
	p, err := f.create(c)
	if err != nil {
		f.t.Fatalf("create %s %v: %v", c.StaticILPAddress, c.HTTP.Incoming, err)
	}
	return p
}

func (f *fixture) setTokens(peerID string, tokens ...string) error {
	_, err := f.peers.Update(context.Background(), commands.UpdatePeer{Meta: f.meta(owner), PeerID: peerID, HTTP: &commands.PeerHTTP{
		Incoming: &commands.PeerHTTPIncoming{AuthTokens: tokens},
		Outgoing: commands.PeerHTTPOutgoing{AuthToken: "out", Endpoint: "http://peer.example/ilp"},
	}})
	return err
}

// claimHistory lists the data of every claim message of an incoming token.
func (f *fixture) claimHistory(token string) []string {
	f.t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256([]byte(token))
	subject := handlers.GlobalClaimSubject("peer_incoming_token", string(sum[:]))
	stream, err := f.store.JetStream().Stream(ctx, f.store.Stream())
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for seq := uint64(1); ; {
		msg, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out
		}
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, string(msg.Data))
		seq = msg.Sequence + 1
	}
}

func want(t *testing.T, err error, kind apperr.Kind, message string) {
	t.Helper()
	if apperr.KindOf(err) != kind || err.Error() != message {
		t.Fatalf("got %v (%s), want %s %q", err, apperr.KindOf(err), kind, message)
	}
}

func TestPeerUniqueKeys(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	usd := f.asset("USD")

	first := f.mustCreate(peerCmd(usd, "test.alice", "a", "b"))
	if first.TenantID != tenantID || first.AssetID != usd || first.Ledger != 1 || first.InitialLiquidity != nil || first.Sequence == 0 {
		t.Fatalf("created %+v", first)
	}

	_, err := f.create(peerCmd(usd, "test.bob", "b"))
	want(t, err, apperr.Duplicate, "duplicate incoming token")
	_, err = f.create(peerCmd(usd, "test.alice", "c"))
	want(t, err, apperr.Duplicate, "duplicate peer found for same ILP address and asset")

	// The same address in another asset is another peer.
	eur := f.asset("EUR")
	f.mustCreate(peerCmd(eur, "test.alice", "eur-token"))

	// Replacing the tokens frees the dropped ones.
	if err := f.setTokens(first.PeerID, "b", "c"); err != nil {
		t.Fatal(err)
	}
	bob := f.mustCreate(peerCmd(usd, "test.bob", "a"))
	_, err = f.create(peerCmd(usd, "test.carol", "c"))
	want(t, err, apperr.Duplicate, "duplicate incoming token")
	// A peer may keep its own tokens in a replacement.
	if err := f.setTokens(first.PeerID, "c", "b", "d"); err != nil {
		t.Fatal(err)
	}
	want(t, f.setTokens(first.PeerID, "a"), apperr.Duplicate, "duplicate incoming token")

	// The token's claim subject shows its history: taken, released, taken
	// again, each holder named by its id and a release by no data.
	if got, want := f.claimHistory("a"), []string{first.PeerID, "", bob.PeerID}; !slices.Equal(got, want) {
		t.Fatalf("claims of token a: %q, want %q", got, want)
	}

	// Deleting a peer frees its tokens and its address.
	if _, err := f.peers.Delete(ctx, commands.DeletePeer{Meta: f.meta(owner), PeerID: bob.PeerID}); err != nil {
		t.Fatal(err)
	}
	_, err = f.peers.Delete(ctx, commands.DeletePeer{Meta: f.meta(owner), PeerID: bob.PeerID})
	want(t, err, apperr.NotFound, "unknown peer")
	f.mustCreate(peerCmd(usd, "test.bob", "a"))

	// Moving a peer to another address frees the old one.
	moveTo := func(address string) error {
		_, err := f.peers.Update(ctx, commands.UpdatePeer{Meta: f.meta(owner), PeerID: first.PeerID, StaticILPAddress: &address})
		return err
	}
	want(t, moveTo("test.bob"), apperr.Duplicate, "duplicate peer found for same ILP address and asset")
	if err := moveTo("test.alice2"); err != nil {
		t.Fatal(err)
	}
	f.mustCreate(peerCmd(usd, "test.alice", "e"))
	s, found, err := f.peers.Load(ctx, first.PeerID)
	if err != nil || !found || s.StaticILPAddress != "test.alice2" || len(s.Routes) != 1 || s.Routes[0] != "test.alice2" {
		t.Fatalf("moved peer %+v %v %v", s, found, err)
	}

	// Other tenants see neither the asset nor the peer.
	c := peerCmd(usd, "test.dave", "f")
	c.Meta = f.meta(stranger)
	_, err = f.create(c)
	want(t, err, apperr.NotFound, "unknown asset")
	_, err = f.peers.Update(ctx, commands.UpdatePeer{Meta: f.meta(stranger), PeerID: first.PeerID, Name: new("x")})
	want(t, err, apperr.NotFound, "unknown peer")
	_, err = f.peers.Delete(ctx, commands.DeletePeer{Meta: f.meta(stranger), PeerID: first.PeerID})
	want(t, err, apperr.NotFound, "unknown peer")
	_, err = f.peers.Delete(ctx, commands.DeletePeer{Meta: f.meta(owner), PeerID: "not-a-uuid"})
	want(t, err, apperr.InvalidInput, "invalid peer id")

	// A deleted asset takes no peers.
	if _, err := f.assets.Delete(ctx, commands.DeleteAsset{Meta: f.meta(owner), AssetID: eur}); err != nil {
		t.Fatal(err)
	}
	_, err = f.create(peerCmd(eur, "test.erin", "g"))
	want(t, err, apperr.NotFound, "unknown asset")
	_, err = f.create(peerCmd("7c0e4bd4-52a4-4c1b-9a4e-9d0e0d4c2f11", "test.erin", "g"))
	want(t, err, apperr.NotFound, "unknown asset")
	_, err = f.create(peerCmd(eur, "nope", "g"))
	want(t, err, apperr.InvalidInput, "invalid ILP address")
}

func TestCreateIsIdempotentAndReportsItsDeposit(t *testing.T) {
	f := setup(t)
	usd := f.asset("USD")
	c := peerCmd(usd, "test.alice", "a")
	c.Meta = f.meta(operator)
	amount := uint64(500)
	c.InitialLiquidity = &amount
	first := f.mustCreate(c)
	again := f.mustCreate(c)
	if again.PeerID != first.PeerID || again.InitialLiquidity == nil || *again.InitialLiquidity != 500 ||
		again.Sequence != first.Sequence || again.Ledger != first.Ledger {
		t.Fatalf("retry reported %+v, first %+v", again, first)
	}
	if *first.InitialLiquidity != 500 || first.TenantID != tenantID {
		t.Fatalf("created %+v", first)
	}
	// The peer's event is the last thing stored; claims come after it in
	// the batch but readers wait for the event's sequence.
	subject, err := peer.Subject(tenantID, first.PeerID)
	if err != nil {
		t.Fatal(err)
	}
	envs, version, err := f.store.Load(context.Background(), subject)
	if err != nil || len(envs) != 1 || version != first.Sequence {
		t.Fatalf("stream holds %d events at %d (%v), result says %d", len(envs), version, err, first.Sequence)
	}
}

func TestRacingPeersTakeAReleasedTokenOnce(t *testing.T) {
	f := setup(t)
	usd := f.asset("USD")
	holder := f.mustCreate(peerCmd(usd, "test.holder", "contested"))
	if err := f.setTokens(holder.PeerID); err != nil {
		t.Fatal(err)
	}
	const racers = 20
	cmds := make([]commands.CreatePeer, racers)
	for i := range cmds {
		cmds[i] = peerCmd(usd, fmt.Sprintf("test.racer%d", i), "contested")
		cmds[i].Meta = f.meta(owner)
	}
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range cmds {
		wg.Go(func() {
			<-start
			_, errs[i] = f.peers.Create(context.Background(), cmds[i])
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case apperr.KindOf(err) == apperr.Duplicate:
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d peers took the token, want 1", wins)
	}
}

// notInUse stands in for the read-model check these tests do not run.
func notInUse(context.Context, string) (bool, error) { return false, nil }
