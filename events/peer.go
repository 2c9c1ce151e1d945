package events

// Peer events. A peer is another Interledger node this instance exchanges
// packets with over ILP-over-HTTP, in one asset; its tenant is the asset's.
// Amounts are decimal strings of unsigned 64-bit integers so that JSON never
// rounds them.

// PeerCreated records a new peer. Routes are the peer's routes as Rafiki
// keeps them: its static ILP address first, then the requested ones.
// InitialLiquidity, when set, is what the peer's liquidity account is to be
// credited with once the account exists (the ledger does that, not the
// event store). IncomingAuthTokens and OutgoingAuthToken are sealed in the
// log (see Secretive).
type PeerCreated struct {
	AssetID            string   `json:"assetId"`
	StaticILPAddress   string   `json:"staticIlpAddress"`
	Name               *string  `json:"name,omitempty"`
	MaxPacketAmount    *uint64  `json:"maxPacketAmount,string,omitempty"`
	LiquidityThreshold *uint64  `json:"liquidityThreshold,string,omitempty"`
	IncomingAuthTokens []string `json:"incomingAuthTokens,omitempty"`
	OutgoingAuthToken  string   `json:"outgoingAuthToken"`
	OutgoingEndpoint   string   `json:"outgoingEndpoint"`
	Routes             []string `json:"routes"`
	InitialLiquidity   *uint64  `json:"initialLiquidity,string,omitempty"`
}

// PeerUpdated carries only what changed; nil means unchanged. A set
// IncomingAuthTokens replaces all of the peer's incoming tokens (an empty
// list removes them); a set Routes replaces the routes, static address
// first.
type PeerUpdated struct {
	StaticILPAddress   *string   `json:"staticIlpAddress,omitempty"`
	Name               *string   `json:"name,omitempty"`
	MaxPacketAmount    *uint64   `json:"maxPacketAmount,string,omitempty"`
	LiquidityThreshold *uint64   `json:"liquidityThreshold,string,omitempty"`
	IncomingAuthTokens *[]string `json:"incomingAuthTokens,omitempty"`
	OutgoingAuthToken  *string   `json:"outgoingAuthToken,omitempty"`
	OutgoingEndpoint   *string   `json:"outgoingEndpoint,omitempty"`
	Routes             *[]string `json:"routes,omitempty"`
}

// PeerDeleted removes a peer. Rafiki deletes the row; here the peer stays
// in its stream and the read model marks it deleted.
type PeerDeleted struct{}

func (PeerCreated) EventType() string { return "peer.created" }
func (PeerUpdated) EventType() string { return "peer.updated" }
func (PeerDeleted) EventType() string { return "peer.deleted" }

func (PeerCreated) SchemaVersion() int { return SealedSecretsVersion }
func (PeerUpdated) SchemaVersion() int { return SealedSecretsVersion }
func (PeerDeleted) SchemaVersion() int { return 1 }

func (e PeerCreated) MapSecrets(f func(field, value string) (string, error)) (Event, error) {
	var err error
	if e.IncomingAuthTokens, err = mapSecretList(f, "incomingAuthTokens", e.IncomingAuthTokens); err != nil {
		return nil, err
	}
	if err := mapSecret(f, "outgoingAuthToken", &e.OutgoingAuthToken); err != nil {
		return nil, err
	}
	return &e, nil
}

func (e PeerUpdated) MapSecrets(f func(field, value string) (string, error)) (Event, error) {
	if e.IncomingAuthTokens != nil {
		tokens, err := mapSecretList(f, "incomingAuthTokens", *e.IncomingAuthTokens)
		if err != nil {
			return nil, err
		}
		e.IncomingAuthTokens = &tokens
	}
	if err := mapSecretPtr(f, "outgoingAuthToken", &e.OutgoingAuthToken); err != nil {
		return nil, err
	}
	return &e, nil
}

func init() {
	register(
		func() Event { return &PeerCreated{} },
		func() Event { return &PeerUpdated{} },
		func() Event { return &PeerDeleted{} },
	)
}
