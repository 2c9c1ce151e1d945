package events

// Wallet address events. A wallet address's keys are aggregates of their
// own, so that a key can be revoked by its id alone.

// Property is an additional property of a wallet address.
type Property struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Visible bool   `json:"visibleInOpenPayments"`
}

type WalletAddressCreated struct {
	AssetID              string     `json:"assetId"`
	Address              string     `json:"address"`
	PublicName           string     `json:"publicName,omitempty"`
	AdditionalProperties []Property `json:"additionalProperties,omitempty"`
}

// WalletAddressUpdated changes the public name when set, and replaces the
// additional properties when ReplaceProperties is set.
type WalletAddressUpdated struct {
	PublicName           *string    `json:"publicName,omitempty"`
	ReplaceProperties    bool       `json:"replaceProperties,omitempty"`
	AdditionalProperties []Property `json:"additionalProperties,omitempty"`
}

type WalletAddressDeactivated struct{}

type WalletAddressActivated struct{}

// WalletAddressKeyAdded is an Ed25519 public key (JWK) a wallet address
// signs its requests with.
type WalletAddressKeyAdded struct {
	WalletAddressID string `json:"walletAddressId"`
	Kid             string `json:"kid"`
	X               string `json:"x"`
	Alg             string `json:"alg"`
	Kty             string `json:"kty"`
	Crv             string `json:"crv"`
}

type WalletAddressKeyRevoked struct{}

func (WalletAddressCreated) EventType() string     { return "wallet_address.created" }
func (WalletAddressUpdated) EventType() string     { return "wallet_address.updated" }
func (WalletAddressDeactivated) EventType() string { return "wallet_address.deactivated" }
func (WalletAddressActivated) EventType() string   { return "wallet_address.activated" }
func (WalletAddressKeyAdded) EventType() string    { return "wallet_address_key.added" }
func (WalletAddressKeyRevoked) EventType() string  { return "wallet_address_key.revoked" }

func (WalletAddressCreated) SchemaVersion() int     { return 1 }
func (WalletAddressUpdated) SchemaVersion() int     { return 1 }
func (WalletAddressDeactivated) SchemaVersion() int { return 1 }
func (WalletAddressActivated) SchemaVersion() int   { return 1 }
func (WalletAddressKeyAdded) SchemaVersion() int    { return 1 }
func (WalletAddressKeyRevoked) SchemaVersion() int  { return 1 }

func init() {
	register(
		func() Event { return &WalletAddressCreated{} },
		func() Event { return &WalletAddressUpdated{} },
		func() Event { return &WalletAddressDeactivated{} },
		func() Event { return &WalletAddressActivated{} },
		func() Event { return &WalletAddressKeyAdded{} },
		func() Event { return &WalletAddressKeyRevoked{} },
	)
}
