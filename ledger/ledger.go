// Package ledger keeps balances: liquidity and settlement accounts per asset,
// deposits, withdrawals and linked two-phase transfers, with Rafiki's account
// model (one ledger per asset; account and transfer codes; flags). Balances
// live here and never in read models. Two implementations pass one contract
// suite (ledger/ledgertest): ledger/postgres, the default, and
// ledger/tigerbeetle.
package ledger

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// AccountType is a liquidity account's kind, and its TigerBeetle account code.
type AccountType uint16

const (
	WebMonetization AccountType = 1   // per wallet address
	Asset           AccountType = 2   // per asset; id = the asset's id
	Peer            AccountType = 3   // per peer
	Incoming        AccountType = 4   // per incoming payment
	Outgoing        AccountType = 5   // per outgoing payment
	Settlement      AccountType = 101 // per asset; id = the asset's ledger number
)

// TransferType is what a transfer is for, and its TigerBeetle transfer code.
type TransferType uint16

const (
	TypeTransfer   TransferType = 1
	TypeDeposit    TransferType = 2
	TypeWithdrawal TransferType = 3
)

// TransferState is where a transfer is in its two phases.
type TransferState string

const (
	Pending TransferState = "PENDING"
	Posted  TransferState = "POSTED"
	Voided  TransferState = "VOIDED"
)

// Account names a liquidity account and the asset it holds.
type Account struct {
	ID      uuid.UUID
	Type    AccountType
	AssetID uuid.UUID // the asset's liquidity account id
	Ledger  uint32    // the asset's ledger number
}

// SettlementID is the id of an asset's settlement account: its ledger number.
func SettlementID(ledger uint32) uuid.UUID {
	var id uuid.UUID
	id[12], id[13], id[14], id[15] = byte(ledger>>24), byte(ledger>>16), byte(ledger>>8), byte(ledger)
	return id
}

// Deposit moves money from the asset's settlement account into a liquidity
// account, posted at once.
type Deposit struct {
	ID      uuid.UUID // caller-supplied; reusing one fails with ErrTransferExists
	Account Account
	Amount  uint64
	// Open creates Account (a liquidity account) when it does not exist,
	// as CreateLiquidityAccount does, with the deposit: an account made
	// to receive its first money takes no write of its own. A deposit
	// refused may still leave the account made.
	Open bool
}

// Withdrawal moves money from a liquidity account to the asset's settlement
// account: pending until posted or voided (or expired after Timeout), or
// posted at once when Timeout is 0.
type Withdrawal struct {
	ID      uuid.UUID
	Account Account
	Amount  uint64
	Timeout time.Duration
}

// TransferRequest moves money between two liquidity accounts as linked
// pending transfers. Within one asset, the source pays min(source,
// destination) to the destination and the asset's liquidity account takes or
// gives the difference. Across assets, the source pays its asset's
// liquidity account and the destination asset's liquidity account pays the
// destination. Leg ids derive from ID.
type TransferRequest struct {
	ID                uuid.UUID
	Source            Account
	Destination       Account
	SourceAmount      uint64
	DestinationAmount uint64 // 0: the same as SourceAmount (same asset only)
	Timeout           time.Duration
	Type              TransferType // TypeTransfer when zero
	// OpenDestination creates Destination (a liquidity account) when it
	// does not exist, as CreateLiquidityAccount does, with the transfer
	// (which, refused, may still leave it made).
	OpenDestination bool
}

// PendingTransfer is a created two-phase transfer: its legs are posted or
// voided together.
type PendingTransfer struct {
	ID   uuid.UUID
	Legs []uuid.UUID
}

// Transfer is one ledger transfer as the account transfer listing shows it.
type Transfer struct {
	ID              uuid.UUID
	DebitAccountID  uuid.UUID
	CreditAccountID uuid.UUID
	Amount          uint64
	Ledger          uint32
	Type            TransferType
	State           TransferState
	Timeout         time.Duration
	CreatedAt       time.Time
	ExpiresAt       *time.Time
}

// AccountTransfers are an account's transfers, newest first.
type AccountTransfers struct {
	Debits  []Transfer
	Credits []Transfer
}

// Imbalance is a ledger whose accounts do not sum to zero, or whose
// accounts' totals disagree with their transfers.
type Imbalance struct {
	Ledger  uint32
	Debits  uint64 // posted debits over all the ledger's accounts
	Credits uint64 // posted credits over all the ledger's accounts
	// Accounts whose stored totals differ from the sums of their
	// transfers, where the implementation keeps both (Postgres), or whose
	// rows or transfers break the ledger's rules.
	Accounts []uuid.UUID
}

// Ledger is the accounting service.
type Ledger interface {
	// CreateAssetAccounts creates an asset's liquidity account (id =
	// assetID) and settlement account (id = SettlementID(ledger)) together.
	// Creating them again is not an error.
	CreateAssetAccounts(ctx context.Context, assetID uuid.UUID, ledger uint32) error
	// CreateLiquidityAccount creates a peer, incoming, outgoing or web
	// monetization account. Creating it again is not an error.
	CreateLiquidityAccount(ctx context.Context, a Account) error

	// Balance is a liquidity account's balance: credits posted minus
	// debits posted minus debits pending.
	Balance(ctx context.Context, id uuid.UUID) (uint64, error)
	// SettlementBalance is what was deposited minus what was withdrawn
	// for the asset on this ledger, pending withdrawals included.
	SettlementBalance(ctx context.Context, ledger uint32) (uint64, error)
	// TotalSent is an account's posted debits; TotalReceived its posted
	// credits. The plural forms answer for many accounts at once, in order.
	TotalSent(ctx context.Context, id uuid.UUID) (uint64, error)
	TotalReceived(ctx context.Context, id uuid.UUID) (uint64, error)
	TotalsSent(ctx context.Context, ids []uuid.UUID) ([]uint64, error)
	TotalsReceived(ctx context.Context, ids []uuid.UUID) ([]uint64, error)

	Deposit(ctx context.Context, d Deposit) error
	Withdraw(ctx context.Context, w Withdrawal) error
	PostWithdrawal(ctx context.Context, id uuid.UUID) error
	VoidWithdrawal(ctx context.Context, id uuid.UUID) error

	// Transfer creates the linked pending legs of a transfer; Post and
	// Void settle all of them or none.
	Transfer(ctx context.Context, t TransferRequest) (PendingTransfer, error)
	Post(ctx context.Context, p PendingTransfer) error
	Void(ctx context.Context, p PendingTransfer) error

	// AccountTransfers lists up to limit of an account's debits and of its
	// credits, newest first. The account id may be a settlement id.
	AccountTransfers(ctx context.Context, id uuid.UUID, limit int) (AccountTransfers, error)

	// Check verifies conservation: on every ledger the posted debits of all
	// accounts equal their posted credits, and the same for pending ones;
	// and, where totals are kept beside transfers, that each account's
	// totals are the sums of its transfers.
	Check(ctx context.Context) ([]Imbalance, error)

	Close()
}
