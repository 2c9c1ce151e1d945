package events

import (
	"testing"
	"time"
)

func TestPeerEventsRoundTrip(t *testing.T) {
	amount := uint64(18446744073709551615)
	none := []string{}
	meta := Meta{AggregateType: "peer", AggregateID: "p1", TenantID: "t1", Time: time.Now()}
	envs, err := Seal(meta, "cmd-1", 0,
		&PeerCreated{AssetID: "a1", StaticILPAddress: "test.peer", MaxPacketAmount: &amount, InitialLiquidity: &amount,
			IncomingAuthTokens: []string{"in"}, OutgoingAuthToken: "out", OutgoingEndpoint: "http://peer.example", Routes: []string{"test.peer"}},
		&PeerUpdated{IncomingAuthTokens: &none},
		&PeerDeleted{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"assetId":"a1","staticIlpAddress":"test.peer","maxPacketAmount":"18446744073709551615","incomingAuthTokens":["in"],` +
		`"outgoingAuthToken":"out","outgoingEndpoint":"http://peer.example","routes":["test.peer"],"initialLiquidity":"18446744073709551615"}`
	if string(envs[0].Data) != want {
		t.Fatalf("created: %s", envs[0].Data)
	}
	if string(envs[1].Data) != `{"incomingAuthTokens":[]}` {
		t.Fatalf("removing every token must survive encoding: %s", envs[1].Data)
	}
	for i, typ := range []string{"peer.created", "peer.updated", "peer.deleted"} {
		ev, err := Decode(envs[i])
		if err != nil || ev.EventType() != typ {
			t.Fatalf("%s: %v %v", typ, ev, err)
		}
	}
	ev, _ := Decode(envs[0])
	if c := ev.(*PeerCreated); *c.MaxPacketAmount != amount || *c.InitialLiquidity != amount || c.LiquidityThreshold != nil {
		t.Fatalf("decoded %+v", c)
	}
	ev, _ = Decode(envs[1])
	if u := ev.(*PeerUpdated); u.IncomingAuthTokens == nil || len(*u.IncomingAuthTokens) != 0 || u.Routes != nil {
		t.Fatalf("decoded %+v", u)
	}
}
