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
	// asset is the asset as read with the wallet address, when it was, so
	// that the asset field costs no second query.
	asset *Asset
}

// Peer is the GraphQL Peer; the ids let its object fields resolve.
type Peer struct {
	ID                 string
	MaxPacketAmount    *scalars.BigInt
	HTTP               *HTTP
	StaticIlpAddress   string
	Name               *string
	LiquidityThreshold *scalars.BigInt
	CreatedAt          string
	Routes             []string
	AssetID            string
	TenantID           string
}

// IncomingPayment is the GraphQL IncomingPayment; TenantID lets its tenant
// field resolve.
type IncomingPayment struct {
	ID                  string
	URL                 string
	WalletAddressID     string
	Client              *string
	State               IncomingPaymentState
	ExpiresAt           string
	IncomingAmount      *Amount
	ReceivedAmount      *Amount
	Metadata            map[string]any
	CreatedAt           string
	SenderWalletAddress *string
	CancellationReason  *string
	CancelledAt         *string
	TenantID            string
}

// OutgoingPayment is the GraphQL OutgoingPayment; TenantID lets its
// tenant field resolve.
type OutgoingPayment struct {
	ID              string
	WalletAddressID string
	Client          *string
	State           OutgoingPaymentState
	Error           *string
	StateAttempts   int
	DebitAmount     *Amount
	ReceiveAmount   *Amount
	Receiver        string
	Metadata        map[string]any
	SentAmount      *Amount
	CreatedAt       string
	GrantID         *string
	TenantID        string
}

// Payment is the GraphQL Payment, an entry of the combined payments list;
// TenantID lets its tenant field resolve.
type Payment struct {
	ID              string
	Type            PaymentType
	WalletAddressID string
	Client          *string
	State           string
	Metadata        map[string]any
	CreatedAt       string
	TenantID        string
}

// BasePayment is the GraphQL BasePayment, which every payment type
// implements.
type BasePayment interface{ isBasePayment() }

func (IncomingPayment) isBasePayment() {}
func (Payment) isBasePayment()         {}
func (OutgoingPayment) isBasePayment() {}

// WebhookEvent is the GraphQL WebhookEvent; TenantID lets its tenant field
// resolve.
type WebhookEvent struct {
	ID        string
	Type      string
	Data      map[string]any
	CreatedAt string
	TenantID  string
}
