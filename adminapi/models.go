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
