package commands

type CreateAsset struct {
	Meta
	TenantID            string
	Code                string
	Scale               uint8
	WithdrawalThreshold *uint64
	LiquidityThreshold  *uint64
}

// UpdateAsset replaces both thresholds; nil clears one.
type UpdateAsset struct {
	Meta
	AssetID             string
	WithdrawalThreshold *uint64
	LiquidityThreshold  *uint64
}

type DeleteAsset struct {
	Meta
	AssetID string
}

type SetFee struct {
	Meta
	AssetID     string
	Type        string // SENDING or RECEIVING
	Fixed       uint64
	BasisPoints int
}
