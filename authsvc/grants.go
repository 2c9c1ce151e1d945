package authsvc

import "context"

// GrantRef names a grant's aggregate: its subject is
// events.<TenantID>.grant.<GrantID>.
type GrantRef struct {
	TenantID string
	GrantID  string
}

// Grants finds a grant from what a client or a browser presents: a
// continuation id, an access token's management id, an interaction id.
//
// An implementation answers everything acknowledged before the call: a
// client may use its continuation or token URL the moment it got them, so a
// lookup that misses catches up with the event stream (bounded by a deadline)
// before it answers not found.
type Grants interface {
	ByContinueID(ctx context.Context, continueID string) (GrantRef, bool, error)
	ByTokenID(ctx context.Context, tokenID string) (GrantRef, bool, error)
	ByInteractionID(ctx context.Context, interactionID string) (GrantRef, bool, error)
}
