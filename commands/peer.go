package commands

// PeerHTTP is a peer's ILP-over-HTTP settings, as Rafiki's HttpInput.
type PeerHTTP struct {
	// Incoming, when set, lists the tokens the peer authenticates with
	// when it sends to us. On create nil means none; on update nil keeps
	// the current tokens and a set value replaces them all (an empty list
	// removes them).
	Incoming *PeerHTTPIncoming
	Outgoing PeerHTTPOutgoing
}

type PeerHTTPIncoming struct {
	AuthTokens []string
}

// PeerHTTPOutgoing is how we reach the peer: its endpoint and the token we
// present.
type PeerHTTPOutgoing struct {
	AuthToken string
	Endpoint  string
}

// CreatePeer adds a peer in an asset. The peer's tenant is the asset's; the
// actor must be allowed to act for it (or be the operator).
type CreatePeer struct {
	Meta
	AssetID            string
	StaticILPAddress   string
	HTTP               PeerHTTP
	Name               *string
	MaxPacketAmount    *uint64
	LiquidityThreshold *uint64
	// InitialLiquidity is deposited into the peer's liquidity account
	// after it is created; nil or 0 deposits nothing.
	InitialLiquidity *uint64
	// Routes are ILP address prefixes reached through the peer, besides
	// its static address.
	Routes []string
}

// UpdatePeer changes a peer; nil fields are left as they are. HTTP, when
// set, replaces the outgoing settings and, when its Incoming is set, the
// incoming tokens. Routes, when non-nil (even empty), replaces the extra
// routes.
type UpdatePeer struct {
	Meta
	PeerID             string
	StaticILPAddress   *string
	HTTP               *PeerHTTP
	Name               *string
	MaxPacketAmount    *uint64
	LiquidityThreshold *uint64
	Routes             []string
}

type DeletePeer struct {
	Meta
	PeerID string
}
