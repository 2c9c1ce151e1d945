package adminapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminapi/scalars"
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/handlers/liquidity"
	"github.com/rafiki-go/rafiki/handlers/peer"
	"github.com/rafiki-go/rafiki/ledger"
)

// balance is a liquidity account's balance; null for an account the ledger
// does not know yet (nothing ever moved).
func (r *Resolver) balance(ctx context.Context, id string) (*scalars.BigInt, error) {
	accountID, err := uuid.Parse(id)
	if err != nil {
		return nil, nil
	}
	b, err := r.Liquidity.Ledger().Balance(ctx, accountID)
	if errors.Is(err, ledger.ErrUnknownAccount) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := scalars.BigInt(b)
	return &out, nil
}

// ownerOf finds the owner of a liquidity account the caller may act for.
type ownerOf func(ctx context.Context, actor commands.Actor, id string) (liquidity.Owner, error)

func (r *Resolver) deposit(ctx context.Context, owner ownerOf, ownerID, transferID string, amount scalars.BigInt) (*LiquidityMutationResponse, error) {
	m, err := meta(ctx)
	if err != nil {
		return nil, err
	}
	o, err := owner(ctx, m.Actor, ownerID)
	if err != nil {
		return nil, err
	}
	if _, err := r.Liquidity.Deposit(ctx, m, o, transferID, uint64(amount)); err != nil {
		return nil, err
	}
	return &LiquidityMutationResponse{Success: true}, nil
}

func (r *Resolver) withdraw(ctx context.Context, owner ownerOf, ownerID, transferID string, amount, timeoutSeconds scalars.BigInt) (*LiquidityMutationResponse, error) {
	m, err := meta(ctx)
	if err != nil {
		return nil, err
	}
	o, err := owner(ctx, m.Actor, ownerID)
	if err != nil {
		return nil, err
	}
	if _, err := r.Liquidity.Withdraw(ctx, m, o, transferID, uint64(amount), uint64(timeoutSeconds)); err != nil {
		return nil, err
	}
	return &LiquidityMutationResponse{Success: true}, nil
}

// openPeerAccount creates a new peer's liquidity account and deposits its
// initial liquidity, with a transfer id derived from the peer's, so that a
// retry finds it done.
func (r *Resolver) openPeerAccount(ctx context.Context, created peer.Created) error {
	m, err := meta(ctx)
	if err != nil {
		return err
	}
	owner, err := r.Liquidity.PeerOwner(ctx, commands.Actor{Operator: true}, created.PeerID)
	if err != nil {
		return err
	}
	if created.InitialLiquidity == nil {
		return nil
	}
	depositID := uuid.NewSHA1(uuid.NameSpaceURL, []byte("rafiki:peer-initial-liquidity:"+created.PeerID))
	_, err = r.Liquidity.Deposit(ctx, m, owner, depositID.String(), *created.InitialLiquidity)
	if apperr.KindOf(err) == apperr.Duplicate {
		return nil
	}
	return err
}

// ownsAccount checks that the caller may see an account's transfers: the
// operator any, a tenant those of its own assets, peers and wallet
// addresses.
func (r *Resolver) ownsAccount(ctx context.Context, a commands.Actor, id string) error {
	if a.Operator {
		return nil
	}
	scope := &a.TenantID
	if row, err := r.Read.Asset(ctx, id, scope); err != nil || row != nil {
		return err
	}
	if row, err := r.Read.Peer(ctx, id, scope); err != nil || row != nil {
		return err
	}
	if row, err := r.Read.WalletAddress(ctx, id, scope); err != nil || row != nil {
		return err
	}
	return apperr.E(apperr.NotFound, "account not found")
}

func (r *Resolver) accountTransfers(ctx context.Context, id string, limit int) (*AccountingTransferConnection, error) {
	accountID, err := accountRef(id)
	if err != nil {
		return nil, err
	}
	ts, err := r.Liquidity.Ledger().AccountTransfers(ctx, accountID, limit)
	if err != nil {
		return nil, err
	}
	out := &AccountingTransferConnection{Debits: make([]AccountingTransfer, 0, len(ts.Debits)), Credits: make([]AccountingTransfer, 0, len(ts.Credits))}
	for _, t := range ts.Debits {
		out.Debits = append(out.Debits, transferOut(t))
	}
	for _, t := range ts.Credits {
		out.Credits = append(out.Credits, transferOut(t))
	}
	return out, nil
}

// accountRef reads an account id: a UUID, or a ledger number for a
// settlement account.
func accountRef(id string) (uuid.UUID, error) {
	if u, err := uuid.Parse(id); err == nil {
		return u, nil
	}
	var n uint32
	if _, err := fmt.Sscanf(id, "%d", &n); err == nil && fmt.Sprint(n) == id {
		return ledger.SettlementID(n), nil
	}
	return uuid.Nil, apperr.E(apperr.InvalidInput, "invalid account id")
}

var transferTypes = map[ledger.TransferType]TransferType{
	ledger.TypeDeposit: TransferTypeDeposit, ledger.TypeWithdrawal: TransferTypeWithdrawal, ledger.TypeTransfer: TransferTypeTransfer,
}

func transferOut(t ledger.Transfer) AccountingTransfer {
	out := AccountingTransfer{
		ID: t.ID.String(), DebitAccountID: t.DebitAccountID.String(), CreditAccountID: t.CreditAccountID.String(),
		Amount: scalars.BigInt(t.Amount), TransferType: transferTypes[t.Type], Ledger: scalars.UInt8(t.Ledger),
		CreatedAt: Timestamp(t.CreatedAt), State: TransferState(t.State), ExpiresAt: optionalTimestamp(t.ExpiresAt),
	}
	return out
}
