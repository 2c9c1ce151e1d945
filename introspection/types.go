package introspection

import (
	"encoding/json"

	"github.com/rafiki-go/rafiki/events"
)

// Request asks about a token and, optionally, the access a resource server
// needs from it.
type Request struct {
	AccessToken string               `json:"access_token"`
	Access      []events.GrantAccess `json:"access,omitempty"`
}

// ClientIdentity is the client a grant was issued to: its wallet address,
// or the key it gave inline (directed identity).
type ClientIdentity struct {
	WalletAddress string          `json:"walletAddress,omitempty"`
	JWK           json.RawMessage `json:"jwk,omitempty"`
}

// Info is the answer: inactive, or the grant, the granted access items that
// cover the requested ones, the client, the tenant whose authorization
// server issued the grant, and when the token expires. Rafiki's answer has
// neither tenant nor expiry; this server's tells the tenant, so that a
// resource server lets a token into its own tenant's routes only, and the
// expiry as RFC 7662's exp (Unix seconds), so that a resource server keeps
// the answer no later than that.
type Info struct {
	Active    bool                 `json:"active"`
	Grant     string               `json:"grant,omitempty"`
	Access    []events.GrantAccess `json:"access,omitempty"`
	Client    *ClientIdentity      `json:"client,omitempty"`
	TenantID  string               `json:"tenantId,omitempty"`
	ExpiresAt int64                `json:"exp,omitempty"`
}

// MarshalJSON writes an active answer with every field the specification
// requires (access may be empty), an inactive one as {"active":false}.
func (i Info) MarshalJSON() ([]byte, error) {
	if !i.Active {
		return []byte(`{"active":false}`), nil
	}
	access := i.Access
	if access == nil {
		access = []events.GrantAccess{}
	}
	return json.Marshal(struct {
		Active    bool                 `json:"active"`
		Grant     string               `json:"grant"`
		Access    []events.GrantAccess `json:"access"`
		Client    *ClientIdentity      `json:"client"`
		TenantID  string               `json:"tenantId,omitempty"`
		ExpiresAt int64                `json:"exp,omitempty"`
	}{true, i.Grant, access, i.Client, i.TenantID, i.ExpiresAt})
}
