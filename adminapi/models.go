package adminapi

import "github.com/rafiki-go/rafiki/adminapi/scalars"

// Asset is the GraphQL Asset; TenantID lets its tenant field resolve.
type Asset struct {
	ID                  string
	Code                string
	Scale               scalars.UInt8
	WithdrawalThreshold *scalars.BigInt
	LiquidityThreshold  *scalars.BigInt
	CreatedAt           string
	TenantID            string
}

// WalletAddress is the GraphQL WalletAddress; the ids let its object fields
// resolve.
type WalletAddress struct {
	ID         string
	Address    string
	PublicName *string
	CreatedAt  string
	Status     WalletAddressStatus
	AssetID    string
	TenantID   string
}
