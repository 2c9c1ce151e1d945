// Package peer handles the peer aggregate's commands: the Interledger nodes
// this instance exchanges packets with, each in one asset.
package peer

import (
	"slices"
	"time"

	"github.com/rafiki-go/rafiki/events"
)

// AggregateType names peers in subjects and envelopes.
const AggregateType = "peer"

// State is a peer as its events leave it.
type State struct {
	Exists             bool
	ID                 string
	TenantID           string
	AssetID            string
	StaticILPAddress   string
	Name               *string
	MaxPacketAmount    *uint64
	LiquidityThreshold *uint64
	IncomingAuthTokens []string
	OutgoingAuthToken  string
	OutgoingEndpoint   string
	Routes             []string
	// InitialLiquidity is what the peer was created with, kept so that a
	// retried create reports it again.
	InitialLiquidity *uint64
	CreatedAt        time.Time
	UpdatedAt        time.Time
	DeletedAt        *time.Time
}

// Evolve applies one event to the state.
func Evolve(s State, env events.Envelope, ev events.Event) State {
	switch e := ev.(type) {
	case *events.PeerCreated:
		s = State{
			Exists: true, ID: env.AggregateID, TenantID: env.TenantID, AssetID: e.AssetID,
			StaticILPAddress: e.StaticILPAddress, Name: e.Name,
			MaxPacketAmount: e.MaxPacketAmount, LiquidityThreshold: e.LiquidityThreshold,
			IncomingAuthTokens: slices.Clone(e.IncomingAuthTokens),
			OutgoingAuthToken:  e.OutgoingAuthToken, OutgoingEndpoint: e.OutgoingEndpoint,
			Routes: slices.Clone(e.Routes), InitialLiquidity: e.InitialLiquidity,
			CreatedAt: env.Time, UpdatedAt: env.Time,
		}
	case *events.PeerUpdated:
		if e.StaticILPAddress != nil {
			s.StaticILPAddress = *e.StaticILPAddress
		}
		if e.Name != nil {
			s.Name = e.Name
		}
		if e.MaxPacketAmount != nil {
			s.MaxPacketAmount = e.MaxPacketAmount
		}
		if e.LiquidityThreshold != nil {
			s.LiquidityThreshold = e.LiquidityThreshold
		}
		if e.IncomingAuthTokens != nil {
			s.IncomingAuthTokens = slices.Clone(*e.IncomingAuthTokens)
		}
		if e.OutgoingAuthToken != nil {
			s.OutgoingAuthToken = *e.OutgoingAuthToken
		}
		if e.OutgoingEndpoint != nil {
			s.OutgoingEndpoint = *e.OutgoingEndpoint
		}
		if e.Routes != nil {
			s.Routes = slices.Clone(*e.Routes)
		}
		s.UpdatedAt = env.Time
	case *events.PeerDeleted:
		at := env.Time
		s.DeletedAt = &at
		s.UpdatedAt = at
	}
	return s
}

// Active is a peer that exists and is not deleted.
func (s State) Active() bool { return s.Exists && s.DeletedAt == nil }
