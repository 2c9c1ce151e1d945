// Package grant handles GNAP grants: a client's request, the resource
// owner's interaction, continuation, and the access tokens issued under it.
//
// A grant, its interaction and its access tokens are one aggregate, on one
// subject. Every rule ties them together: a token is issued only when the
// grant is approved and not finalized otherwise, the interaction's outcome
// decides the grant's state, revoking the grant revokes its tokens, and a
// rotation must see the token it replaces unrevoked (Rafiki locks the grant
// row for it). With one aggregate each of these is one decision appended at
// one expected version; as separate aggregates each would need a claim or a
// saga. A grant holds one interaction and few live tokens (one issued on
// request or continuation, each rotation replacing one), so its state stays
// small.
package grant

import (
	"time"

	"github.com/rafiki-go/rafiki/events"
)

// AggregateType names grants in subjects and envelopes.
const AggregateType = "grant"

// State is a grant as its events leave it.
type State struct {
	Exists             bool
	ID                 string
	TenantID           string
	State              string
	FinalizationReason string
	Access             []events.GrantAccess
	Subject            []events.GrantSubjectID
	Client             events.GrantClient
	Interact           *events.GrantInteract
	ContinueID         string
	ContinueTokenHash  string
	CreatedAt          time.Time
	LastContinuedAt    time.Time
	Interaction        *Interaction
	// Tokens are the access tokens not revoked, by management id.
	Tokens map[string]Token
}

// Interaction is the grant's interaction with its resource owner.
type Interaction struct {
	ID        string
	Nonce     string
	Ref       string
	State     string
	Expired   bool
	CreatedAt time.Time
	ExpiresIn time.Duration
}

// Token is an access token not revoked.
type Token struct {
	ID        string
	ValueHash string
	CreatedAt time.Time
	ExpiresIn time.Duration
}

// Evolve applies one event to the state.
func Evolve(s State, env events.Envelope, ev events.Event) State {
	switch e := ev.(type) {
	case *events.GrantRequested:
		s = State{
			Exists: true, ID: env.AggregateID, TenantID: env.TenantID, State: e.State,
			Access: e.Access, Subject: e.Subject, Client: e.Client, Interact: e.Interact,
			ContinueID: e.ContinueID, ContinueTokenHash: e.ContinueTokenHash,
			CreatedAt: env.Time, LastContinuedAt: env.Time, Tokens: map[string]Token{},
		}
		if e.Interaction != nil {
			s = Evolve(s, env, e.Interaction)
		}
		if e.AccessToken != nil {
			s = Evolve(s, env, e.AccessToken)
		}
	case *events.GrantPolled:
		s.LastContinuedAt = env.Time
	case *events.GrantApproved:
		s.State = events.GrantStateApproved
	case *events.GrantDenied:
		s.State, s.FinalizationReason = events.GrantStateFinalized, events.FinalizationRejected
	case *events.GrantFinalized:
		s.State, s.FinalizationReason = events.GrantStateFinalized, events.FinalizationIssued
	case *events.GrantRevoked:
		s.State, s.FinalizationReason = events.GrantStateFinalized, events.FinalizationRevoked
		s.Tokens = map[string]Token{}
	case *events.InteractionStarted:
		s.Interaction = &Interaction{
			ID: e.InteractionID, Nonce: e.Nonce, Ref: e.Ref, State: events.InteractionStatePending,
			CreatedAt: env.Time, ExpiresIn: time.Duration(e.ExpiresInSeconds) * time.Second,
		}
	case *events.InteractionApproved:
		s.Interaction = withInteractionState(s.Interaction, events.InteractionStateApproved)
	case *events.InteractionRejected:
		s.Interaction = withInteractionState(s.Interaction, events.InteractionStateDenied)
	case *events.InteractionExpired:
		if s.Interaction != nil {
			i := *s.Interaction
			i.Expired = true
			s.Interaction = &i
		}
	case *events.AccessTokenIssued:
		s.Tokens = withToken(s.Tokens, Token{ID: e.TokenID, ValueHash: e.ValueHash, CreatedAt: env.Time,
			ExpiresIn: time.Duration(e.ExpiresInSeconds) * time.Second}, "")
	case *events.AccessTokenRotated:
		s.Tokens = withToken(s.Tokens, Token{ID: e.TokenID, ValueHash: e.ValueHash, CreatedAt: env.Time,
			ExpiresIn: time.Duration(e.ExpiresInSeconds) * time.Second}, e.PreviousTokenID)
	case *events.AccessTokenRevoked:
		s.Tokens = withToken(s.Tokens, Token{}, e.TokenID)
	}
	return s
}

// withInteractionState copies the interaction so that a state folded
// earlier, shared by reference, never changes under its holder.
func withInteractionState(i *Interaction, state string) *Interaction {
	if i == nil {
		return nil
	}
	c := *i
	c.State = state
	return &c
}

// withToken copies the tokens, dropping removed and adding t when it has an id.
func withToken(tokens map[string]Token, t Token, removed string) map[string]Token {
	out := make(map[string]Token, len(tokens)+1)
	for id, tok := range tokens {
		if id != removed {
			out[id] = tok
		}
	}
	if t.ID != "" {
		out[t.ID] = t
	}
	return out
}

// Continuable is Rafiki's isContinuableGrant: neither rejected nor revoked.
func (s State) Continuable() bool {
	return !(s.State == events.GrantStateFinalized &&
		(s.FinalizationReason == events.FinalizationRejected || s.FinalizationReason == events.FinalizationRevoked))
}

// Revoked is a grant finalized as REVOKED.
func (s State) Revoked() bool {
	return s.State == events.GrantStateFinalized && s.FinalizationReason == events.FinalizationRevoked
}

// Finishable is a grant whose client asked to be sent back when the
// interaction ends (a finish method and URI): it cannot be polled.
func (s State) Finishable() bool {
	return s.Interact != nil && s.Interact.Finish != nil && s.Interact.Finish.Method != "" && s.Interact.Finish.URI != ""
}

// ExpiredAt tells whether the interaction is past its expiry at now, recorded
// or not.
func (i Interaction) ExpiredAt(now time.Time) bool {
	return i.Expired || now.After(i.CreatedAt.Add(i.ExpiresIn))
}

// ExpiredAt tells whether a token is past its lifetime at now (Rafiki's
// isTokenExpired: created + expiresIn before now).
func (t Token) ExpiredAt(now time.Time) bool {
	return now.After(t.CreatedAt.Add(t.ExpiresIn))
}
