package events

// Liquidity events: what the ledger did for an asset, a peer or a wallet
// address, recorded on that object's own stream so that its history shows
// every movement of its liquidity. Amounts are decimal strings.

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

type LiquidityWithdrawalVoided struct {
	TransferID string `json:"transferId"`
}

// LiquidityLow: after a movement the balance is at or below the object's
// liquidity threshold.
type LiquidityLow struct {
	Balance   uint64 `json:"balance,string"`
	Threshold uint64 `json:"threshold,string"`
}

func (LiquidityDeposited) EventType() string         { return "liquidity.deposited" }
func (LiquidityWithdrawalCreated) EventType() string { return "liquidity.withdrawal_created" }
func (LiquidityWithdrawalPosted) EventType() string  { return "liquidity.withdrawal_posted" }
func (LiquidityWithdrawalVoided) EventType() string  { return "liquidity.withdrawal_voided" }
func (LiquidityLow) EventType() string               { return "liquidity.low" }

func (LiquidityDeposited) SchemaVersion() int         { return 1 }
func (LiquidityWithdrawalCreated) SchemaVersion() int { return 1 }
func (LiquidityWithdrawalPosted) SchemaVersion() int  { return 1 }
func (LiquidityWithdrawalVoided) SchemaVersion() int  { return 1 }
func (LiquidityLow) SchemaVersion() int               { return 1 }

func init() {
	register(
		func() Event { return &LiquidityDeposited{} },
		func() Event { return &LiquidityWithdrawalCreated{} },
		func() Event { return &LiquidityWithdrawalPosted{} },
		func() Event { return &LiquidityWithdrawalVoided{} },
		func() Event { return &LiquidityLow{} },
	)
}
