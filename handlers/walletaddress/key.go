package walletaddress

import (
	"encoding/base64"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

const kidLengthMax = 255

// decideAddKey adds an Ed25519 public key to a wallet address.
func decideAddKey(wa State, c commands.CreateWalletAddressKey) ([]events.Event, error) {
	if err := visible(wa, c.Actor); err != nil {
		return nil, err
	}
	k := c.JWK
	if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" {
		return nil, apperr.E(apperr.InvalidInput, "only Ed25519 keys are supported: kty OKP, crv Ed25519, alg EdDSA")
	}
	if x, err := base64.RawURLEncoding.DecodeString(k.X); err != nil || len(x) != 32 {
		return nil, apperr.E(apperr.InvalidInput, "x must be a base64url-encoded 32-byte Ed25519 public key")
	}
	return []events.Event{&events.WalletAddressKeyAdded{
		WalletAddressID: wa.ID, Kid: k.Kid, X: k.X, Alg: k.Alg, Kty: k.Kty, Crv: k.Crv,
	}}, nil
}

// decideRevokeKey revokes a key; revoking it again changes nothing.
func decideRevokeKey(k KeyState, c commands.RevokeWalletAddressKey) ([]events.Event, error) {
	if !k.Exists || !c.Actor.CanActFor(k.TenantID) {
		return nil, apperr.E(apperr.NotFound, "Wallet address key not found")
	}
	if k.Revoked {
		return nil, nil
	}
	return []events.Event{&events.WalletAddressKeyRevoked{}}, nil
}
