package events

import "time"

// WalletAddressWebMonetization: the wallet address told its account
// servicing entity of the money it received outside incoming payments (Web
// Monetization, STREAM into the wallet address) since it last told, which
// the entity withdraws (Rafiki's wallet_address.web_monetization webhook).
// Amount is this event's; the wallet address's total told is the sum of
// its events'. The asset and the wallet address's creation time are what
// the webhook shows.
type WalletAddressWebMonetization struct {
	Amount     uint64    `json:"amount,string"`
	AssetID    string    `json:"assetId"`
	AssetCode  string    `json:"assetCode"`
	AssetScale uint8     `json:"assetScale"`
	CreatedAt  time.Time `json:"walletAddressCreatedAt"`
}

func (WalletAddressWebMonetization) EventType() string  { return "wallet_address.web_monetization" }
func (WalletAddressWebMonetization) SchemaVersion() int { return 1 }

func init() {
	register(func() Event { return &WalletAddressWebMonetization{} })
}
