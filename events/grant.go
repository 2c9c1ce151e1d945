package events

import "encoding/json"

// Grant events: a GNAP grant, its interaction with the resource owner and
// the access tokens issued under it, all on the grant's one subject. Field
// names follow Rafiki's GNAP JSON and its auth database columns.
//
// No event holds a token's value. The continuation token and each access
// token are random values of 160 bits handed to the client once, in the
// answer to the command that made them; events keep their SHA-256 (hex). A
// presented token is found by hashing it and looking the hash up, which is
// all a server ever does with a token, so the value itself is never needed
// again. Since the values are random and long, the hash cannot be reversed
// by guessing, and whoever reads the log cannot present a token.

// Grant states and finalization reasons, as Rafiki names them.
const (
	GrantStatePending   = "PENDING"
	GrantStateApproved  = "APPROVED"
	GrantStateFinalized = "FINALIZED"

	FinalizationIssued   = "ISSUED"
	FinalizationRevoked  = "REVOKED"
	FinalizationRejected = "REJECTED"
)

// Interaction states, as Rafiki names them.
const (
	InteractionStatePending  = "PENDING"
	InteractionStateApproved = "APPROVED"
	InteractionStateDenied   = "DENIED"
)

// GrantAmount is an Open Payments amount: an unsigned 64-bit integer in
// decimal, in an asset's minor unit.
type GrantAmount struct {
	Value      string `json:"value"`
	AssetCode  string `json:"assetCode"`
	AssetScale uint8  `json:"assetScale"`
}

// GrantLimits bound an outgoing-payment access: at most one of the amounts,
// a receiver, and an ISO 8601 repeating interval the amount applies to.
type GrantLimits struct {
	Receiver      string       `json:"receiver,omitempty"`
	DebitAmount   *GrantAmount `json:"debitAmount,omitempty"`
	ReceiveAmount *GrantAmount `json:"receiveAmount,omitempty"`
	Interval      string       `json:"interval,omitempty"`
}

// GrantAccess is one item of a grant's access list.
type GrantAccess struct {
	Type       string       `json:"type"`
	Actions    []string     `json:"actions"`
	Identifier string       `json:"identifier,omitempty"`
	Limits     *GrantLimits `json:"limits,omitempty"`
}

// GrantClient identifies the client: its wallet address URL, or (directed
// identity, non-interactive grants only) a public key given inline.
type GrantClient struct {
	WalletAddress string          `json:"walletAddress,omitempty"`
	JWK           json.RawMessage `json:"jwk,omitempty"`
}

// GrantFinish is how the client is told that the interaction ended.
type GrantFinish struct {
	Method string `json:"method"`
	URI    string `json:"uri"`
	Nonce  string `json:"nonce"`
}

// GrantInteract is the client's request to interact with the resource owner.
type GrantInteract struct {
	Start  []string     `json:"start"`
	Finish *GrantFinish `json:"finish,omitempty"`
}

// GrantSubjectID is a subject identifier the grant asks about.
type GrantSubjectID struct {
	ID     string `json:"id"`
	Format string `json:"format"`
}

// GrantRequested creates a grant. A non-interactive grant starts APPROVED
// with its access token (AccessToken); an interactive one PENDING with its
// interaction started (Interaction). A request is one event, so that it is
// stored as one message: a write of several messages must be an atomic
// batch, which costs the server far more than a message.
type GrantRequested struct {
	State             string              `json:"state"`
	Access            []GrantAccess       `json:"access,omitempty"`
	Subject           []GrantSubjectID    `json:"subject,omitempty"`
	Client            GrantClient         `json:"client"`
	Interact          *GrantInteract      `json:"interact,omitempty"`
	ContinueID        string              `json:"continueId"`
	ContinueTokenHash string              `json:"continueTokenHash"`
	Interaction       *InteractionStarted `json:"interaction,omitempty"`
	AccessToken       *AccessTokenIssued  `json:"accessToken,omitempty"`
}

// GrantPolled records a continuation poll of a pending grant: the next one
// may come no sooner than the wait after it.
type GrantPolled struct{}

// GrantApproved records the resource owner's approval, seen when the
// interaction finished.
type GrantApproved struct{}

// GrantDenied finalizes a grant the resource owner rejected (REJECTED).
type GrantDenied struct{}

// GrantFinalized finalizes a grant whose access token was issued on
// continuation (ISSUED).
type GrantFinalized struct{}

// GrantRevoked finalizes a grant the client or an operator revoked
// (REVOKED); its access tokens are revoked with it.
type GrantRevoked struct{}

// InteractionStarted opens the interaction with the resource owner: the
// client sends them to the redirect URL naming the interaction's id and
// nonce. Nonce and ref are not tokens: the nonce goes in the redirect URL and
// the ref to the client's finish URI, and the finish hash needs both.
type InteractionStarted struct {
	InteractionID    string `json:"interactionId"`
	Nonce            string `json:"nonce"`
	Ref              string `json:"ref"`
	ExpiresInSeconds int64  `json:"expiresIn"`
}

// InteractionApproved: the identity provider accepted on the owner's behalf.
type InteractionApproved struct{}

// InteractionRejected: the identity provider rejected (state DENIED).
type InteractionRejected struct{}

// InteractionExpired: the interaction passed its expiry while pending.
type InteractionExpired struct{}

// AccessTokenIssued makes an access token. TokenID is its management id
// (the token's URL is AUTH_SERVER_URL/token/<id>).
type AccessTokenIssued struct {
	TokenID          string `json:"tokenId"`
	ValueHash        string `json:"valueHash"`
	ExpiresInSeconds int64  `json:"expiresIn"`
}

// AccessTokenRotated revokes a token and issues its successor in one step.
type AccessTokenRotated struct {
	PreviousTokenID  string `json:"previousTokenId"`
	TokenID          string `json:"tokenId"`
	ValueHash        string `json:"valueHash"`
	ExpiresInSeconds int64  `json:"expiresIn"`
}

// AccessTokenRevoked revokes one access token.
type AccessTokenRevoked struct {
	TokenID string `json:"tokenId"`
}

func (GrantRequested) EventType() string      { return "grant.requested" }
func (GrantPolled) EventType() string         { return "grant.polled" }
func (GrantApproved) EventType() string       { return "grant.approved" }
func (GrantDenied) EventType() string         { return "grant.denied" }
func (GrantFinalized) EventType() string      { return "grant.finalized" }
func (GrantRevoked) EventType() string        { return "grant.revoked" }
func (InteractionStarted) EventType() string  { return "grant.interaction_started" }
func (InteractionApproved) EventType() string { return "grant.interaction_approved" }
func (InteractionRejected) EventType() string { return "grant.interaction_rejected" }
func (InteractionExpired) EventType() string  { return "grant.interaction_expired" }
func (AccessTokenIssued) EventType() string   { return "grant.access_token_issued" }
func (AccessTokenRotated) EventType() string  { return "grant.access_token_rotated" }
func (AccessTokenRevoked) EventType() string  { return "grant.access_token_revoked" }

func (GrantRequested) SchemaVersion() int      { return 1 }
func (GrantPolled) SchemaVersion() int         { return 1 }
func (GrantApproved) SchemaVersion() int       { return 1 }
func (GrantDenied) SchemaVersion() int         { return 1 }
func (GrantFinalized) SchemaVersion() int      { return 1 }
func (GrantRevoked) SchemaVersion() int        { return 1 }
func (InteractionStarted) SchemaVersion() int  { return 1 }
func (InteractionApproved) SchemaVersion() int { return 1 }
func (InteractionRejected) SchemaVersion() int { return 1 }
func (InteractionExpired) SchemaVersion() int  { return 1 }
func (AccessTokenIssued) SchemaVersion() int   { return 1 }
func (AccessTokenRotated) SchemaVersion() int  { return 1 }
func (AccessTokenRevoked) SchemaVersion() int  { return 1 }

func init() {
	register(
		func() Event { return &GrantRequested{} },
		func() Event { return &GrantPolled{} },
		func() Event { return &GrantApproved{} },
		func() Event { return &GrantDenied{} },
		func() Event { return &GrantFinalized{} },
		func() Event { return &GrantRevoked{} },
		func() Event { return &InteractionStarted{} },
		func() Event { return &InteractionApproved{} },
		func() Event { return &InteractionRejected{} },
		func() Event { return &InteractionExpired{} },
		func() Event { return &AccessTokenIssued{} },
		func() Event { return &AccessTokenRotated{} },
		func() Event { return &AccessTokenRevoked{} },
	)
}
