package peer

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/asset"
)

const (
	tenantID = "00000000-0000-4000-8000-000000000002"
	assetID  = "00000000-0000-4000-8000-0000000000a1"
	peerID   = "00000000-0000-4000-8000-0000000000b1"
	otherID  = "00000000-0000-4000-8000-0000000000b2"
)

var (
	owner    = commands.Actor{TenantID: tenantID}
	stranger = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000003"}
	operator = commands.Actor{TenantID: "00000000-0000-4000-8000-000000000001", Operator: true}

	liveAsset = asset.State{Exists: true, ID: assetID, TenantID: tenantID, Code: "USD", Scale: 2, Ledger: 7}
	goneAsset = func() asset.State { a := liveAsset; now := time.Now(); a.DeletedAt = &now; return a }()

	livePeer = State{
		Exists: true, ID: peerID, TenantID: tenantID, AssetID: assetID, StaticILPAddress: "test.peer",
		IncomingAuthTokens: []string{"in-1", "in-2"}, OutgoingAuthToken: "out", OutgoingEndpoint: "http://peer.example/ilp",
		Routes: []string{"test.peer", "test.other"},
	}
	gonePeer = func() State { s := livePeer; now := time.Now(); s.DeletedAt = &now; return s }()
)

func u64(v uint64) *uint64 { return &v }
func str(v string) *string { return &v }

func create(actor commands.Actor, mod func(*commands.CreatePeer)) commands.CreatePeer {
	c := commands.CreatePeer{
		Meta: commands.Meta{ID: "cmd", Actor: actor}, AssetID: assetID, StaticILPAddress: "test.peer",
		HTTP: commands.PeerHTTP{
			Incoming: &commands.PeerHTTPIncoming{AuthTokens: []string{"in-1"}},
			Outgoing: commands.PeerHTTPOutgoing{AuthToken: "out", Endpoint: "https://peer.example/ilp"},
		},
	}
	if mod != nil {
		mod(&c)
	}
	return c
}

func TestDecideCreate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		state   State
		asset   asset.State
		cmd     commands.CreatePeer
		holders Holders
		want    apperr.Kind
		message string
	}{
		{name: "new", asset: liveAsset, cmd: create(owner, nil)},
		{name: "operator for a tenant", asset: liveAsset, cmd: create(operator, nil)},
		{name: "no incoming tokens", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.HTTP.Incoming = nil })},
		{name: "invalid address", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.StaticILPAddress = "nope.peer" }),
			want: apperr.InvalidInput, message: "invalid ILP address"},
		{name: "address with one segment", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.StaticILPAddress = "test" }),
			want: apperr.InvalidInput, message: "invalid ILP address"},
		{name: "address ending in a dot", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.StaticILPAddress = "test.peer." }),
			want: apperr.InvalidInput, message: "invalid ILP address"},
		{name: "address too long", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.StaticILPAddress = "test." + strings.Repeat("a", 1020) }),
			want: apperr.InvalidInput, message: "invalid ILP address"},
		{name: "invalid address wins over unknown asset", cmd: create(owner, func(c *commands.CreatePeer) { c.StaticILPAddress = "" }),
			want: apperr.InvalidInput, message: "invalid ILP address"},
		{name: "endpoint not a URL", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.HTTP.Outgoing.Endpoint = "peer.example" }),
			want: apperr.InvalidInput, message: "invalid HTTP endpoint"},
		{name: "endpoint not http", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.HTTP.Outgoing.Endpoint = "ftp://peer.example" }),
			want: apperr.InvalidInput, message: "invalid HTTP endpoint"},
		{name: "endpoint with an empty label", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.HTTP.Outgoing.Endpoint = "http://peer..example" }),
			want: apperr.InvalidInput, message: "invalid HTTP endpoint"},
		{name: "unknown asset", cmd: create(owner, nil), want: apperr.NotFound, message: "unknown asset"},
		{name: "deleted asset", asset: goneAsset, cmd: create(owner, nil), want: apperr.NotFound, message: "unknown asset"},
		{name: "another tenant's asset", asset: liveAsset, cmd: create(stranger, nil), want: apperr.NotFound, message: "unknown asset"},
		{name: "empty incoming token", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.HTTP.Incoming.AuthTokens = []string{""} }),
			want: apperr.InvalidInput},
		{name: "incoming token too long", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.HTTP.Incoming.AuthTokens = []string{strings.Repeat("x", 256)} }),
			want: apperr.InvalidInput},
		{name: "too many incoming tokens", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) {
			c.HTTP.Incoming.AuthTokens = make([]string, incomingTokensMax+1)
		}), want: apperr.InvalidInput},
		{name: "incoming token twice in the request", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.HTTP.Incoming.AuthTokens = []string{"a", "a"} }),
			want: apperr.Duplicate, message: "duplicate incoming token"},
		{name: "incoming token of another peer", asset: liveAsset, cmd: create(owner, nil), holders: Holders{Tokens: map[string]string{"in-1": otherID}},
			want: apperr.Duplicate, message: "duplicate incoming token"},
		{name: "released incoming token", asset: liveAsset, cmd: create(owner, nil), holders: Holders{Tokens: map[string]string{"in-1": ""}}},
		{name: "same asset and address", asset: liveAsset, cmd: create(owner, nil), holders: Holders{Address: otherID},
			want: apperr.Duplicate, message: "duplicate peer found for same ILP address and asset"},
		{name: "duplicate peer is found before duplicate token", asset: liveAsset, cmd: create(owner, nil),
			holders: Holders{Address: otherID, Tokens: map[string]string{"in-1": otherID}},
			want:    apperr.Duplicate, message: "duplicate peer found for same ILP address and asset"},
		{name: "initial liquidity", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.InitialLiquidity = u64(100) })},
		{name: "initial liquidity beyond the ledger", asset: liveAsset, cmd: create(owner, func(c *commands.CreatePeer) { c.InitialLiquidity = u64(1 << 63) }),
			want: apperr.InvalidInput, message: "invalid initial liquidity for peer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := decideCreate(tc.state, tc.asset, tc.cmd, tc.holders)
			if tc.want != "" {
				if apperr.KindOf(err) != tc.want || evs != nil {
					t.Fatalf("got %v %v, want %s", evs, err, tc.want)
				}
				if tc.message != "" && err.Error() != tc.message {
					t.Fatalf("message %q, want %q", err.Error(), tc.message)
				}
				return
			}
			if err != nil || len(evs) != 1 || evs[0].EventType() != "peer.created" {
				t.Fatalf("got %v %v", evs, err)
			}
		})
	}
}

func TestDecideCreateRecordsThePeer(t *testing.T) {
	c := create(owner, func(c *commands.CreatePeer) {
		c.Name, c.MaxPacketAmount, c.LiquidityThreshold = str("Peer"), u64(1000), u64(10)
		c.Routes = []string{"test.other", "test.more"}
	})
	evs, err := decideCreate(State{}, liveAsset, c, Holders{})
	if err != nil {
		t.Fatal(err)
	}
	want := &events.PeerCreated{
		AssetID: assetID, StaticILPAddress: "test.peer", Name: str("Peer"), MaxPacketAmount: u64(1000), LiquidityThreshold: u64(10),
		IncomingAuthTokens: []string{"in-1"}, OutgoingAuthToken: "out", OutgoingEndpoint: "https://peer.example/ilp",
		Routes: []string{"test.peer", "test.other", "test.more"},
	}
	if !reflect.DeepEqual(evs[0], want) {
		t.Fatalf("got %+v\nwant %+v", evs[0], want)
	}
	// Zero initial liquidity is no deposit, as in Rafiki.
	evs, _ = decideCreate(State{}, liveAsset, create(owner, func(c *commands.CreatePeer) { c.InitialLiquidity = u64(0) }), Holders{})
	if evs[0].(*events.PeerCreated).InitialLiquidity != nil {
		t.Fatal("zero initial liquidity recorded")
	}
	// A command that already created its peer decides nothing, even though
	// the peer now holds the keys.
	evs, err = decideCreate(livePeer, liveAsset, create(owner, nil), Holders{Address: peerID, Tokens: map[string]string{"in-1": peerID}})
	if err != nil || evs != nil {
		t.Fatalf("retried create: %v %v", evs, err)
	}
}

func TestDecideUpdate(t *testing.T) {
	httpWith := func(tokens ...string) *commands.PeerHTTP {
		h := &commands.PeerHTTP{Outgoing: commands.PeerHTTPOutgoing{AuthToken: "out", Endpoint: "http://peer.example/ilp"}}
		if tokens != nil {
			h.Incoming = &commands.PeerHTTPIncoming{AuthTokens: tokens}
		}
		return h
	}
	for _, tc := range []struct {
		name    string
		state   State
		cmd     commands.UpdatePeer
		holders Holders
		want    apperr.Kind
		message string
		check   func(*events.PeerUpdated) bool
	}{
		{name: "invalid address", state: livePeer, cmd: commands.UpdatePeer{StaticILPAddress: str("test")},
			want: apperr.InvalidInput, message: "invalid ILP address"},
		{name: "invalid endpoint", state: livePeer, cmd: commands.UpdatePeer{HTTP: &commands.PeerHTTP{Outgoing: commands.PeerHTTPOutgoing{Endpoint: "nope"}}},
			want: apperr.InvalidInput, message: "invalid HTTP endpoint"},
		{name: "invalid input wins over unknown peer", cmd: commands.UpdatePeer{StaticILPAddress: str("x")},
			want: apperr.InvalidInput, message: "invalid ILP address"},
		{name: "unknown peer", cmd: commands.UpdatePeer{Name: str("x")}, want: apperr.NotFound, message: "unknown peer"},
		{name: "deleted peer", state: gonePeer, cmd: commands.UpdatePeer{Name: str("x")}, want: apperr.NotFound, message: "unknown peer"},
		{name: "another tenant's peer", state: livePeer, cmd: commands.UpdatePeer{Meta: commands.Meta{Actor: stranger}, Name: str("x")},
			want: apperr.NotFound, message: "unknown peer"},
		{name: "operator", state: livePeer, cmd: commands.UpdatePeer{Meta: commands.Meta{Actor: operator}, Name: str("x")},
			check: func(e *events.PeerUpdated) bool { return *e.Name == "x" && e.Routes == nil }},
		{name: "token of another peer", state: livePeer, cmd: commands.UpdatePeer{HTTP: httpWith("new")},
			holders: Holders{Tokens: map[string]string{"new": otherID}}, want: apperr.Duplicate, message: "duplicate incoming token"},
		{name: "token twice", state: livePeer, cmd: commands.UpdatePeer{HTTP: httpWith("new", "new")},
			want: apperr.Duplicate, message: "duplicate incoming token"},
		{name: "own tokens kept, one added", state: livePeer, cmd: commands.UpdatePeer{HTTP: httpWith("in-2", "in-1", "new")},
			holders: Holders{Tokens: map[string]string{"in-1": peerID, "in-2": peerID, "new": ""}},
			check:   func(e *events.PeerUpdated) bool { return len(*e.IncomingAuthTokens) == 3 && e.OutgoingAuthToken == nil }},
		{name: "same tokens in another order change nothing", state: livePeer, cmd: commands.UpdatePeer{HTTP: httpWith("in-2", "in-1")}},
		{name: "http without incoming keeps the tokens", state: livePeer,
			cmd:   commands.UpdatePeer{HTTP: &commands.PeerHTTP{Outgoing: commands.PeerHTTPOutgoing{AuthToken: "out2", Endpoint: "http://peer.example/ilp"}}},
			check: func(e *events.PeerUpdated) bool { return e.IncomingAuthTokens == nil && *e.OutgoingAuthToken == "out2" }},
		{name: "empty incoming removes the tokens", state: livePeer, cmd: commands.UpdatePeer{HTTP: httpWith([]string{}...)},
			check: func(e *events.PeerUpdated) bool {
				return e.IncomingAuthTokens != nil && len(*e.IncomingAuthTokens) == 0
			}},
		{name: "address of another peer", state: livePeer, cmd: commands.UpdatePeer{StaticILPAddress: str("test.taken")},
			holders: Holders{Address: otherID}, want: apperr.Duplicate, message: "duplicate peer found for same ILP address and asset"},
		{name: "new address keeps the other routes", state: livePeer, cmd: commands.UpdatePeer{StaticILPAddress: str("test.moved")},
			check: func(e *events.PeerUpdated) bool {
				return *e.StaticILPAddress == "test.moved" && reflect.DeepEqual(*e.Routes, []string{"test.moved", "test.other"})
			}},
		{name: "new routes", state: livePeer, cmd: commands.UpdatePeer{Routes: []string{"test.x"}},
			check: func(e *events.PeerUpdated) bool { return reflect.DeepEqual(*e.Routes, []string{"test.peer", "test.x"}) }},
		{name: "empty routes leave the static address", state: livePeer, cmd: commands.UpdatePeer{Routes: []string{}},
			check: func(e *events.PeerUpdated) bool { return reflect.DeepEqual(*e.Routes, []string{"test.peer"}) }},
		{name: "amounts and name", state: livePeer, cmd: commands.UpdatePeer{MaxPacketAmount: u64(5), LiquidityThreshold: u64(6), Name: str("n")},
			check: func(e *events.PeerUpdated) bool {
				return *e.MaxPacketAmount == 5 && *e.LiquidityThreshold == 6 && *e.Name == "n"
			}},
		{name: "nothing given", state: livePeer, cmd: commands.UpdatePeer{}},
		{name: "same address", state: livePeer, cmd: commands.UpdatePeer{StaticILPAddress: str("test.peer")}, holders: Holders{Address: peerID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cmd.Actor == (commands.Actor{}) {
				tc.cmd.Actor = owner
			}
			evs, err := decideUpdate(tc.state, tc.cmd, tc.holders)
			if tc.want != "" {
				if apperr.KindOf(err) != tc.want || evs != nil {
					t.Fatalf("got %v %v, want %s", evs, err, tc.want)
				}
				if tc.message != "" && err.Error() != tc.message {
					t.Fatalf("message %q, want %q", err.Error(), tc.message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check == nil {
				if evs != nil {
					t.Fatalf("want no change, got %+v", evs[0])
				}
				return
			}
			if len(evs) != 1 || !tc.check(evs[0].(*events.PeerUpdated)) {
				t.Fatalf("got %+v", evs)
			}
		})
	}
}

func TestDecideDelete(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state State
		actor commands.Actor
		want  apperr.Kind
	}{
		{"owner", livePeer, owner, ""},
		{"operator", livePeer, operator, ""},
		{"another tenant", livePeer, stranger, apperr.NotFound},
		{"unknown", State{}, owner, apperr.NotFound},
		{"twice", gonePeer, owner, apperr.NotFound},
	} {
		evs, err := decideDelete(tc.state, commands.DeletePeer{Meta: commands.Meta{Actor: tc.actor}})
		if tc.want != "" && (apperr.KindOf(err) != tc.want || err.Error() != "unknown peer") {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.want == "" && (err != nil || len(evs) != 1) {
			t.Fatalf("%s: %v %v", tc.name, evs, err)
		}
	}
}

func TestEvolveAndKeys(t *testing.T) {
	env := events.Envelope{AggregateID: peerID, TenantID: tenantID, Time: time.Now()}
	s := Evolve(State{}, env, &events.PeerCreated{AssetID: assetID, StaticILPAddress: "test.a", IncomingAuthTokens: []string{"t1"},
		Routes: []string{"test.a"}, InitialLiquidity: u64(9)})
	if !s.Active() || s.ID != peerID || s.TenantID != tenantID || *s.InitialLiquidity != 9 {
		t.Fatalf("created %+v", s)
	}
	address := func(a string) string {
		subject, err := addressClaim(tenantID, assetID, a)
		if err != nil {
			t.Fatal(err)
		}
		return subject
	}
	held := func(s State) map[string]bool {
		out, err := keys(s)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := held(s)
	if len(before) != 2 || !before[tokenClaim("t1")] || !before[address("test.a")] {
		t.Fatalf("keys %v", before)
	}
	tokens := []string{"t2"}
	s = Evolve(s, env, &events.PeerUpdated{StaticILPAddress: str("test.b"), IncomingAuthTokens: &tokens})
	after := held(s)
	if after[tokenClaim("t1")] || !after[tokenClaim("t2")] || !after[address("test.b")] || len(after) != 2 {
		t.Fatalf("keys after update %v", after)
	}
	tokens[0] = "mutated"
	if s.IncomingAuthTokens[0] != "t2" {
		t.Fatal("state shares the event's slice")
	}
	s = Evolve(s, env, &events.PeerDeleted{})
	if s.Active() || held(s) != nil {
		t.Fatalf("deleted peer still holds %v", held(s))
	}
	if got := tokenClaim("secret"); strings.Contains(got, "736563726574") || !strings.HasPrefix(got, "claims._.peer_incoming_token.") || len(got) != len("claims._.peer_incoming_token.")+64 {
		t.Fatalf("token claim subject %s", got)
	}
}
