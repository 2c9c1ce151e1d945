package events

// WalletAddressNotFound: an Open Payments client looked up a wallet address
// URL where there is none, which the account servicing entity may create
// on hearing of it (Rafiki's wallet_address.not_found webhook). Its
// aggregate is the missed lookups of that URL, under the tenant whose
// WALLET_ADDRESS_URL holds the URL, else the operator.
type WalletAddressNotFound struct {
	WalletAddressURL string `json:"walletAddressUrl"`
}

func (WalletAddressNotFound) EventType() string  { return "wallet_address.not_found" }
func (WalletAddressNotFound) SchemaVersion() int { return 1 }

func init() {
	register(func() Event { return &WalletAddressNotFound{} })
}
