package events

import "time"

// Quote methods: how the quoted payment reaches its receiver.
const (
	// QuoteLocal pays a receiver of this instance with a ledger transfer.
	QuoteLocal = "LOCAL"
	// QuoteILP pays a receiver elsewhere over Interledger.
	QuoteILP = "ILP"
)

// QuoteCreated is a quote: what paying Receiver from a wallet address costs
// (DebitAmount, in the wallet address's asset, sending fees included) and
// delivers (ReceiveAmount, in the receiver's asset), until ExpiresAt.
type QuoteCreated struct {
	WalletAddressID string `json:"walletAddressId"`
	AssetID         string `json:"assetId"`
	AssetCode       string `json:"assetCode"`
	AssetScale      uint8  `json:"assetScale"`
	// Receiver is the URL of the incoming payment paid.
	Receiver    string `json:"receiver"`
	DebitAmount uint64 `json:"debitAmount"`
	// DebitAmountMinusFees is what reaches the receiver's side, in the
	// wallet address's asset: the debit amount less the sending fee.
	DebitAmountMinusFees uint64 `json:"debitAmountMinusFees"`
	ReceiveAmount        uint64 `json:"receiveAmount"`
	ReceiveAssetCode     string `json:"receiveAssetCode"`
	ReceiveAssetScale    uint8  `json:"receiveAssetScale"`
	// EstimatedExchangeRate is receive units per debit unit, scales
	// included, as the quote found it.
	EstimatedExchangeRate float64 `json:"estimatedExchangeRate"`
	// FeeID is the asset's sending fee applied, when it has one.
	FeeID     *string   `json:"feeId,omitempty"`
	Method    string    `json:"method"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Client is the GNAP client that asked through Open Payments: its
	// wallet address, or, for a client known by its key alone, the key's
	// RFC 7638 thumbprint in ClientKey.
	Client    string `json:"client,omitempty"`
	ClientKey string `json:"clientKey,omitempty"`
}

func (QuoteCreated) EventType() string  { return "quote.created" }
func (QuoteCreated) SchemaVersion() int { return 1 }

func init() {
	register(func() Event { return &QuoteCreated{} })
}
