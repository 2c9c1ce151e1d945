package events

// Liquidity events: what the ledger is asked to do for an asset, a peer or a
// wallet address, and what it did, recorded on that object's own stream so
// that its history shows every movement of its liquidity. A movement is
// requested (…_requested) before the ledger moves anything, and its outcome
// follows: every ledger transfer is thus explained by an event written
// before it. Amounts are decimal strings.

// LiquidityDepositRequested: a deposit from the asset's settlement account
// (ledger Ledger, asset liquidity account AssetID) into the object's
// liquidity account is to be made; LiquidityDeposited or
// LiquidityRequestFailed follows.
type LiquidityDepositRequested struct {
	TransferID string `json:"transferId"`
	Amount     uint64 `json:"amount,string"`
	AssetID    string `json:"assetId"`
	Ledger     uint32 `json:"ledger"`
}

// LiquidityWithdrawalRequested: a withdrawal is to be made, pending for
// TimeoutSeconds (then the ledger voids it by itself), or posted at once when
// 0; LiquidityWithdrawalCreated or LiquidityRequestFailed follows.
type LiquidityWithdrawalRequested struct {
	TransferID     string `json:"transferId"`
	Amount         uint64 `json:"amount,string"`
	TimeoutSeconds uint64 `json:"timeoutSeconds,string"`
	AssetID        string `json:"assetId"`
	Ledger         uint32 `json:"ledger"`
}

// LiquidityWithdrawalPostRequested and LiquidityWithdrawalVoidRequested: a
// pending withdrawal is to be posted or voided; LiquidityWithdrawalPosted,
// LiquidityWithdrawalVoided or LiquidityRequestFailed follows.
type LiquidityWithdrawalPostRequested struct {
	TransferID string `json:"transferId"`
}

type LiquidityWithdrawalVoidRequested struct {
	TransferID string `json:"transferId"`
}

// LiquidityRequestFailed: the ledger refused the transfer's last request and
// moved nothing; Error is the ledger's error (as Rafiki names it), which a
// retry of the request answers again.
type LiquidityRequestFailed struct {
	TransferID string `json:"transferId"`
	Error      string `json:"error"`
}

// LiquidityDeposited: money moved from the asset's settlement account into
// the object's liquidity account.
type LiquidityDeposited struct {
	TransferID string `json:"transferId"`
	Amount     uint64 `json:"amount,string"`
}

// LiquidityWithdrawalCreated: money held for a withdrawal, pending until
// posted or voided, or posted at once when TimeoutSeconds is 0.
type LiquidityWithdrawalCreated struct {
	TransferID     string `json:"transferId"`
	Amount         uint64 `json:"amount,string"`
	TimeoutSeconds uint64 `json:"timeoutSeconds,string"`
}

type LiquidityWithdrawalPosted struct {
	TransferID string `json:"transferId"`
}

// LiquidityWithdrawalVoided: the withdrawal was voided on request or, with
// no request before it, expired (the ledger voided it at its timeout).
type LiquidityWithdrawalVoided struct {
	TransferID string `json:"transferId"`
}

// LiquidityLow: after a movement the balance is at or below the object's
// liquidity threshold. The asset of the account is the one the webhook
// tells of (none in events written before it was recorded).
type LiquidityLow struct {
	Balance    uint64 `json:"balance,string"`
	Threshold  uint64 `json:"threshold,string"`
	AssetID    string `json:"assetId,omitempty"`
	AssetCode  string `json:"assetCode,omitempty"`
	AssetScale uint8  `json:"assetScale,omitempty"`
}

func (LiquidityDepositRequested) EventType() string { return "liquidity.deposit_requested" }
func (LiquidityWithdrawalRequested) EventType() string {
	return "liquidity.withdrawal_requested"
}
func (LiquidityWithdrawalPostRequested) EventType() string {
	return "liquidity.withdrawal_post_requested"
}
func (LiquidityWithdrawalVoidRequested) EventType() string {
	return "liquidity.withdrawal_void_requested"
}
func (LiquidityRequestFailed) EventType() string     { return "liquidity.request_failed" }
func (LiquidityDeposited) EventType() string         { return "liquidity.deposited" }
func (LiquidityWithdrawalCreated) EventType() string { return "liquidity.withdrawal_created" }
func (LiquidityWithdrawalPosted) EventType() string  { return "liquidity.withdrawal_posted" }
func (LiquidityWithdrawalVoided) EventType() string  { return "liquidity.withdrawal_voided" }
func (LiquidityLow) EventType() string               { return "liquidity.low" }

func (LiquidityDepositRequested) SchemaVersion() int        { return 1 }
func (LiquidityWithdrawalRequested) SchemaVersion() int     { return 1 }
func (LiquidityWithdrawalPostRequested) SchemaVersion() int { return 1 }
func (LiquidityWithdrawalVoidRequested) SchemaVersion() int { return 1 }
func (LiquidityRequestFailed) SchemaVersion() int           { return 1 }
func (LiquidityDeposited) SchemaVersion() int               { return 1 }
func (LiquidityWithdrawalCreated) SchemaVersion() int       { return 1 }
func (LiquidityWithdrawalPosted) SchemaVersion() int        { return 1 }
func (LiquidityWithdrawalVoided) SchemaVersion() int        { return 1 }
func (LiquidityLow) SchemaVersion() int                     { return 1 }

func init() {
	register(
		func() Event { return &LiquidityDepositRequested{} },
		func() Event { return &LiquidityWithdrawalRequested{} },
		func() Event { return &LiquidityWithdrawalPostRequested{} },
		func() Event { return &LiquidityWithdrawalVoidRequested{} },
		func() Event { return &LiquidityRequestFailed{} },
		func() Event { return &LiquidityDeposited{} },
		func() Event { return &LiquidityWithdrawalCreated{} },
		func() Event { return &LiquidityWithdrawalPosted{} },
		func() Event { return &LiquidityWithdrawalVoided{} },
		func() Event { return &LiquidityLow{} },
	)
}
