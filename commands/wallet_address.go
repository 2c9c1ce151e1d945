package commands

import "github.com/rafiki-go/rafiki/events"

// CreateWalletAddress makes a wallet address. Address is a full URL or a
// path under the tenant's wallet address base URL.
type CreateWalletAddress struct {
	Meta
	TenantID             string
	AssetID              string
	Address              string
	PublicName           string
	AdditionalProperties []events.Property
}

// UpdateWalletAddress changes what is set. Status is "", "ACTIVE" or
// "INACTIVE"; AdditionalProperties replaces all of them when not nil.
type UpdateWalletAddress struct {
	Meta
	WalletAddressID      string
	PublicName           *string
	Status               string
	AdditionalProperties *[]events.Property
}

// JWK is an Ed25519 public key in JSON Web Key form.
type JWK struct {
	Kid, X, Alg, Kty, Crv string
}

type CreateWalletAddressKey struct {
	Meta
	WalletAddressID string
	JWK             JWK
}

type RevokeWalletAddressKey struct {
	Meta
	KeyID string
}
