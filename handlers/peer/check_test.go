package peer

import (
	"strings"
	"testing"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
)

func TestCheckCommands(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func() error
		ok    bool
	}{
		{"create", func() error { _, err := checkCreate(create(owner, nil)); return err }, true},
		{"create asset *", func() error {
			_, err := checkCreate(create(owner, func(c *commands.CreatePeer) { c.AssetID = "*" }))
			return err
		}, false},
		{"create name with NUL", func() error {
			_, err := checkCreate(create(owner, func(c *commands.CreatePeer) { c.Name = str("a\x00") }))
			return err
		}, false},
		{"create outgoing token with a line break", func() error {
			_, err := checkCreate(create(owner, func(c *commands.CreatePeer) { c.HTTP.Outgoing.AuthToken = "t\r\nX-Evil: 1" }))
			return err
		}, false},
		{"create empty outgoing token", func() error {
			_, err := checkCreate(create(owner, func(c *commands.CreatePeer) { c.HTTP.Outgoing.AuthToken = "" }))
			return err
		}, false},
		{"create route not an address", func() error {
			_, err := checkCreate(create(owner, func(c *commands.CreatePeer) { c.Routes = []string{"test.ok", "*"} }))
			return err
		}, false},
		{"create too many routes", func() error {
			_, err := checkCreate(create(owner, func(c *commands.CreatePeer) { c.Routes = make([]string, routesMax+1) }))
			return err
		}, false},
		{"update", func() error { _, err := checkUpdate(commands.UpdatePeer{PeerID: peerID, Name: str("n")}); return err }, true},
		{"update id >", func() error { _, err := checkUpdate(commands.UpdatePeer{PeerID: ">"}); return err }, false},
		{"update long name", func() error {
			_, err := checkUpdate(commands.UpdatePeer{PeerID: peerID, Name: str(strings.Repeat("n", 256))})
			return err
		}, false},
		{"delete", func() error { _, err := checkDelete(commands.DeletePeer{PeerID: strings.ToUpper(peerID)}); return err }, true},
		{"delete empty id", func() error { _, err := checkDelete(commands.DeletePeer{}); return err }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check()
			if tc.ok != (err == nil) || (!tc.ok && apperr.KindOf(err) != apperr.InvalidInput) {
				t.Fatalf("got %v, want ok %v", err, tc.ok)
			}
		})
	}
	if err := validateTokens([]string{"in\x00"}); apperr.KindOf(err) != apperr.InvalidInput {
		t.Fatalf("incoming token with NUL: %v", err)
	}
}
