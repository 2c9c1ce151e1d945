package events

// Asset events. Amounts are decimal strings of unsigned 64-bit integers so
// that JSON never rounds them.

type AssetCreated struct {
	Code                string  `json:"code"`
	Scale               uint8   `json:"scale"`
	Ledger              uint32  `json:"ledger"`
	WithdrawalThreshold *uint64 `json:"withdrawalThreshold,string,omitempty"`
	LiquidityThreshold  *uint64 `json:"liquidityThreshold,string,omitempty"`
}

// AssetThresholdsSet replaces both thresholds; nil clears one.
type AssetThresholdsSet struct {
	WithdrawalThreshold *uint64 `json:"withdrawalThreshold,string,omitempty"`
	LiquidityThreshold  *uint64 `json:"liquidityThreshold,string,omitempty"`
}

type AssetDeleted struct{}

// AssetReactivated brings back a soft-deleted asset when it is created again
// with the same code and scale. It keeps its id, ledger and thresholds.
type AssetReactivated struct{}

// FeeSet records a new fee for the asset; the latest of each type applies.
type FeeSet struct {
	FeeID       string `json:"feeId"`
	Type        string `json:"type"`
	Fixed       uint64 `json:"fixed,string"`
	BasisPoints int    `json:"basisPoints"`
}

func (AssetCreated) EventType() string       { return "asset.created" }
func (AssetThresholdsSet) EventType() string { return "asset.thresholds_set" }
func (AssetDeleted) EventType() string       { return "asset.deleted" }
func (AssetReactivated) EventType() string   { return "asset.reactivated" }
func (FeeSet) EventType() string             { return "asset.fee_set" }

func (AssetCreated) SchemaVersion() int       { return 1 }
func (AssetThresholdsSet) SchemaVersion() int { return 1 }
func (AssetDeleted) SchemaVersion() int       { return 1 }
func (AssetReactivated) SchemaVersion() int   { return 1 }
func (FeeSet) SchemaVersion() int             { return 1 }

func init() {
	register(
		func() Event { return &AssetCreated{} },
		func() Event { return &AssetThresholdsSet{} },
		func() Event { return &AssetDeleted{} },
		func() Event { return &AssetReactivated{} },
		func() Event { return &FeeSet{} },
	)
}
