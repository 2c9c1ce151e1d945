package commands

import "github.com/rafiki-go/rafiki/events"

// Grant commands (GNAP). Each names its grant by id: the HTTP layer finds
// the id from what the client presents (a continue id, a token's management
// id, an interaction id) in the grants read model.

// RequestGrant is a client's grant request (POST /<tenant id>).
type RequestGrant struct {
	Meta
	TenantID string
	Access   []events.GrantAccess
	Subject  []events.GrantSubjectID
	Client   events.GrantClient
	Interact *events.GrantInteract
}

// ContinueGrant is a continuation request (POST /continue/<continue id>): a
// poll when InteractRef is empty, otherwise the continuation after the
// interaction finished.
type ContinueGrant struct {
	Meta
	GrantID       string
	ContinueID    string
	ContinueToken string
	InteractRef   string
}

// RevokeGrant revokes a grant. The client revokes with its continuation
// (DELETE /continue/<continue id>); without one the actor must be the
// grant's tenant or the operator (the admin API's revokeGrant).
type RevokeGrant struct {
	Meta
	GrantID       string
	ContinueID    string
	ContinueToken string
}

// InteractionChoice is the identity provider's answer for the resource
// owner (POST /grant/<id>/<nonce>/accept|reject).
type InteractionChoice struct {
	Meta
	GrantID       string
	InteractionID string
	Nonce         string
}

// FinishInteraction is the resource owner's browser coming back from the
// identity provider (GET /interact/<id>/<nonce>/finish).
type FinishInteraction struct {
	Meta
	GrantID       string
	InteractionID string
	Nonce         string
}

// ExpireInteraction records that a pending interaction passed its expiry.
type ExpireInteraction struct {
	Meta
	GrantID string
}

// RotateToken replaces an access token by a new one (POST /token/<id>);
// the client presents the token it rotates.
type RotateToken struct {
	Meta
	GrantID    string
	TokenID    string
	TokenValue string
}

// RevokeToken revokes an access token (DELETE /token/<id>).
type RevokeToken struct {
	Meta
	GrantID    string
	TokenID    string
	TokenValue string
}
