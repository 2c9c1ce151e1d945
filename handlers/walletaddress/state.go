// Package walletaddress handles wallet addresses and their keys.
package walletaddress

import (
	"time"

	"github.com/rafiki-go/rafiki/events"
)

// Aggregate types.
const (
	AggregateType    = "wallet_address"
	KeyAggregateType = "wallet_address_key"
)

// State is a wallet address as its events leave it.
type State struct {
	Exists        bool
	ID            string
	TenantID      string
	AssetID       string
	Address       string
	PublicName    string
	Properties    []events.Property
	CreatedAt     time.Time
	DeactivatedAt *time.Time
	// Told is the money received outside incoming payments that its
	// wallet_address.web_monetization events told of.
	Told uint64
}

// Active is a wallet address that exists and is not deactivated.
func (s State) Active() bool { return s.Exists && s.DeactivatedAt == nil }

// Evolve applies one event to a wallet address.
func Evolve(s State, env events.Envelope, ev events.Event) State {
	switch e := ev.(type) {
	case *events.WalletAddressCreated:
		s = State{Exists: true, ID: env.AggregateID, TenantID: env.TenantID, AssetID: e.AssetID,
			Address: e.Address, PublicName: e.PublicName, Properties: e.AdditionalProperties, CreatedAt: env.Time}
	case *events.WalletAddressUpdated:
		if e.PublicName != nil {
			s.PublicName = *e.PublicName
		}
		if e.ReplaceProperties {
			s.Properties = e.AdditionalProperties
		}
	case *events.WalletAddressDeactivated:
		at := env.Time
		s.DeactivatedAt = &at
	case *events.WalletAddressActivated:
		s.DeactivatedAt = nil
	case *events.WalletAddressWebMonetization:
		s.Told += e.Amount
	}
	return s
}

// KeyState is a wallet address key as its events leave it.
type KeyState struct {
	Exists          bool
	ID              string
	TenantID        string
	WalletAddressID string
	Kid             string
	Revoked         bool
}

// EvolveKey applies one event to a key.
func EvolveKey(s KeyState, env events.Envelope, ev events.Event) KeyState {
	switch e := ev.(type) {
	case *events.WalletAddressKeyAdded:
		s = KeyState{Exists: true, ID: env.AggregateID, TenantID: env.TenantID, WalletAddressID: e.WalletAddressID, Kid: e.Kid}
	case *events.WalletAddressKeyRevoked:
		s.Revoked = true
	}
	return s
}
