package tigerbeetle

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	tb "github.com/tigerbeetle/tigerbeetle-go"

	"github.com/rafiki-go/rafiki/ledger"
)

// accountTransfersLimitDefault is Rafiki's getAccountTransfers default.
const accountTransfersLimitDefault = 20

// A transfer record's kind, in user_data_32, which Rafiki leaves unused. A
// post or void is a TigerBeetle transfer of its own; marking the records
// lets AccountTransfers ask for movements only, so that a posted withdrawal
// lists once and the limit counts movements. Zero cannot be a kind: filters
// ignore zero, and a post or void with zero inherits the pending transfer's
// value.
const (
	kindMovement   uint32 = 1 // deposits, withdrawals, transfer legs
	kindResolution uint32 = 2 // posts and voids of pending movements
)

// legID is the id of a transfer request's leg number n: derived, so that a
// retried request names the same legs and finds them existing. It is the
// same derivation as ledger/postgres's LegID, so both backends name a leg
// alike.
func legID(transferID uuid.UUID, n int) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "rafiki:ledger_leg:%s/%d", transferID, n))
}

// postID and voidID are the ids of the post or void of a pending transfer.
// Derived, not random (as Rafiki's are): a retried post finds its first
// attempt instead of racing it, and AccountTransfers learns a pending
// transfer's state by looking them up.
func postID(pending uuid.UUID) uuid.UUID { return uuid.NewSHA1(pending, []byte("post")) }
func voidID(pending uuid.UUID) uuid.UUID { return uuid.NewSHA1(pending, []byte("void")) }

// timeoutSeconds is a timeout as TigerBeetle counts it, in whole seconds,
// rounded up so that a short timeout still expires instead of becoming none.
func timeoutSeconds(d time.Duration) (uint32, error) {
	if d < 0 {
		return 0, ledger.ErrInvalidTimeout
	}
	s := d / time.Second
	if d%time.Second != 0 {
		s++
	}
	if s > math.MaxUint32 {
		return 0, ledger.ErrInvalidTimeout
	}
	return uint32(s), nil
}

// transferCode is a transfer type's TigerBeetle code; zero is a transfer.
func transferCode(t ledger.TransferType) (uint16, error) {
	switch t {
	case 0:
		return uint16(ledger.TypeTransfer), nil
	case ledger.TypeTransfer, ledger.TypeDeposit, ledger.TypeWithdrawal:
		return uint16(t), nil
	}
	return 0, fmt.Errorf("unknown transfer type %d", t)
}

// leg is one movement of a transfer request.
type leg struct {
	id            uuid.UUID
	debit, credit uuid.UUID
	amount        uint64
	ledger        uint32
}

// legs are a transfer request's movements, after the checks of Rafiki's
// createAccountToAccountTransfer. Within one asset (Rafiki's
// buildSameAssetTransfers) the source pays the destination the smaller
// amount, and the asset's liquidity account takes the source's excess or
// pays the destination's. Across assets (buildCrossAssetTransfers) the
// source pays its asset's liquidity account on its ledger, and the
// destination asset's liquidity account pays the destination on the other.
func legs(t ledger.TransferRequest) ([]leg, error) {
	src, dst := t.Source, t.Destination
	if src.ID == dst.ID {
		return nil, ledger.ErrSameAccounts
	}
	if t.SourceAmount == 0 {
		return nil, ledger.ErrInvalidSourceAmount
	}
	var ls []leg
	if src.Ledger != dst.Ledger {
		if t.DestinationAmount == 0 {
			return nil, ledger.ErrInvalidDestinationAmount
		}
		ls = []leg{
			{debit: src.ID, credit: src.AssetID, amount: t.SourceAmount, ledger: src.Ledger},
			{debit: dst.AssetID, credit: dst.ID, amount: t.DestinationAmount, ledger: dst.Ledger},
		}
	} else {
		dstAmount := t.DestinationAmount
		if dstAmount == 0 {
			dstAmount = t.SourceAmount
		}
		ls = []leg{{debit: src.ID, credit: dst.ID, amount: min(t.SourceAmount, dstAmount), ledger: src.Ledger}}
		switch {
		case dstAmount < t.SourceAmount:
			ls = append(ls, leg{debit: src.ID, credit: src.AssetID, amount: t.SourceAmount - dstAmount, ledger: src.Ledger})
		case dstAmount > t.SourceAmount:
			ls = append(ls, leg{debit: dst.AssetID, credit: dst.ID, amount: dstAmount - t.SourceAmount, ledger: src.Ledger})
		}
	}
	for i := range ls {
		ls[i].id = legID(t.ID, i)
	}
	return ls, nil
}

// createTransfers sends transfers in one request and returns the failed
// one's index (-1 when all were created) and status.
func (l *Ledger) createTransfers(ctx context.Context, transfers []tb.Transfer) (int, tb.CreateTransferStatus, error) {
	results, err := call(ctx, func() ([]tb.CreateTransferResult, error) { return l.client.CreateTransfers(transfers) })
	if err != nil {
		return 0, 0, err
	}
	return failedTransfer(results, len(transfers))
}

// createMovement creates one deposit or withdrawal.
func (l *Ledger) createMovement(ctx context.Context, t tb.Transfer) error {
	index, status, err := l.createTransfers(ctx, []tb.Transfer{t})
	if err != nil {
		return err
	}
	if index >= 0 {
		return transferError(phaseCreate, status)
	}
	return nil
}

func (l *Ledger) Deposit(ctx context.Context, d ledger.Deposit) error {
	if err := checkMovement(d.ID, d.Amount); err != nil {
		return fmt.Errorf("deposit %s: %w", d.ID, err)
	}
	if d.Open {
		// TigerBeetle creates accounts and transfers in requests of
		// their own; the account made first, the deposit finds it.
		if err := l.CreateLiquidityAccount(ctx, d.Account); err != nil {
			return fmt.Errorf("deposit %s: %w", d.ID, err)
		}
	}
	err := l.createMovement(ctx, tb.Transfer{
		ID:              id(d.ID),
		DebitAccountID:  id(ledger.SettlementID(d.Account.Ledger)),
		CreditAccountID: id(d.Account.ID),
		Amount:          tb.ToUint128(d.Amount),
		UserData32:      kindMovement,
		Ledger:          d.Account.Ledger,
		Code:            uint16(ledger.TypeDeposit),
	})
	if err != nil {
		return fmt.Errorf("deposit %s into %s: %w", d.ID, d.Account.ID, err)
	}
	return nil
}

func (l *Ledger) Withdraw(ctx context.Context, w ledger.Withdrawal) error {
	if err := checkMovement(w.ID, w.Amount); err != nil {
		return fmt.Errorf("withdrawal %s: %w", w.ID, err)
	}
	timeout, err := timeoutSeconds(w.Timeout)
	if err != nil {
		return fmt.Errorf("withdrawal %s: %w", w.ID, err)
	}
	err = l.createMovement(ctx, tb.Transfer{
		ID:              id(w.ID),
		DebitAccountID:  id(w.Account.ID),
		CreditAccountID: id(ledger.SettlementID(w.Account.Ledger)),
		Amount:          tb.ToUint128(w.Amount),
		UserData32:      kindMovement,
		Timeout:         timeout,
		Ledger:          w.Account.Ledger,
		Code:            uint16(ledger.TypeWithdrawal),
		Flags:           tb.TransferFlags{Pending: timeout > 0}.ToUint16(),
	})
	if err != nil {
		return fmt.Errorf("withdrawal %s from %s: %w", w.ID, w.Account.ID, err)
	}
	return nil
}

// checkMovement rejects what TigerBeetle would take but Rafiki does not:
// since 0.16 TigerBeetle accepts zero amounts.
func checkMovement(transferID uuid.UUID, amount uint64) error {
	if transferID == uuid.Nil {
		return ledger.ErrInvalidID
	}
	if amount == 0 {
		return ledger.ErrInvalidAmount
	}
	return nil
}

func (l *Ledger) PostWithdrawal(ctx context.Context, withdrawalID uuid.UUID) error {
	if err := l.resolve(ctx, phasePost, []uuid.UUID{withdrawalID}); err != nil {
		return fmt.Errorf("post withdrawal %s: %w", withdrawalID, err)
	}
	return nil
}

func (l *Ledger) VoidWithdrawal(ctx context.Context, withdrawalID uuid.UUID) error {
	if err := l.resolve(ctx, phaseVoid, []uuid.UUID{withdrawalID}); err != nil {
		return fmt.Errorf("void withdrawal %s: %w", withdrawalID, err)
	}
	return nil
}

func (l *Ledger) Transfer(ctx context.Context, t ledger.TransferRequest) (ledger.PendingTransfer, error) {
	transfers, ls, err := pendingLegs(t)
	if err != nil {
		return ledger.PendingTransfer{}, fmt.Errorf("transfer %s: %w", t.ID, err)
	}
	if t.OpenDestination {
		if err := l.CreateLiquidityAccount(ctx, t.Destination); err != nil {
			return ledger.PendingTransfer{}, fmt.Errorf("transfer %s: %w", t.ID, err)
		}
	}
	index, status, err := l.createTransfers(ctx, transfers)
	if err != nil {
		return ledger.PendingTransfer{}, fmt.Errorf("transfer %s: %w", t.ID, err)
	}
	if index >= 0 {
		return ledger.PendingTransfer{}, fmt.Errorf("transfer %s, leg %d: %w", t.ID, index, legError(t, ls[index], status))
	}
	p := ledger.PendingTransfer{ID: t.ID, Legs: make([]uuid.UUID, len(ls))}
	for i, lg := range ls {
		p.Legs[i] = lg.id
	}
	return p, nil
}

// pendingLegs are a transfer request's legs as one linked chain, for one
// request: they are created, and later posted or voided, all or none. They
// are pending until the timeout, or posted at once when it is 0, as Rafiki's
// createTransfers does. Their user_data_128 is the request's id, which ties
// them together (Rafiki gives each leg a random reference of its own).
func pendingLegs(t ledger.TransferRequest) ([]tb.Transfer, []leg, error) {
	if t.ID == uuid.Nil {
		return nil, nil, ledger.ErrInvalidID
	}
	code, err := transferCode(t.Type)
	if err != nil {
		return nil, nil, err
	}
	timeout, err := timeoutSeconds(t.Timeout)
	if err != nil {
		return nil, nil, err
	}
	ls, err := legs(t)
	if err != nil {
		return nil, nil, err
	}
	transfers := make([]tb.Transfer, len(ls))
	for i, lg := range ls {
		transfers[i] = tb.Transfer{
			ID:              id(lg.id),
			DebitAccountID:  id(lg.debit),
			CreditAccountID: id(lg.credit),
			Amount:          tb.ToUint128(lg.amount),
			UserData128:     id(t.ID),
			UserData32:      kindMovement,
			Timeout:         timeout,
			Ledger:          lg.ledger,
			Code:            code,
			Flags:           tb.TransferFlags{Linked: i < len(ls)-1, Pending: timeout > 0}.ToUint16(),
		}
	}
	return transfers, ls, nil
}

// legError is a failed leg's error. As in Rafiki, a leg that the
// destination asset's liquidity account cannot pay lacks liquidity, not
// balance.
func legError(t ledger.TransferRequest, failed leg, status tb.CreateTransferStatus) error {
	err := transferError(phaseCreate, status)
	if errors.Is(err, ledger.ErrInsufficientBalance) && failed.debit == t.Destination.AssetID {
		return ledger.ErrInsufficientLiquidity
	}
	return err
}

func (l *Ledger) Post(ctx context.Context, p ledger.PendingTransfer) error {
	if err := l.resolve(ctx, phasePost, p.Legs); err != nil {
		return fmt.Errorf("post transfer %s: %w", p.ID, err)
	}
	return nil
}

func (l *Ledger) Void(ctx context.Context, p ledger.PendingTransfer) error {
	if err := l.resolve(ctx, phaseVoid, p.Legs); err != nil {
		return fmt.Errorf("void transfer %s: %w", p.ID, err)
	}
	return nil
}

// resolve posts or voids pending transfers as one linked chain.
func (l *Ledger) resolve(ctx context.Context, p phase, pending []uuid.UUID) error {
	transfers, err := resolutions(p, pending)
	if err != nil {
		return err
	}
	index, status, err := l.createTransfers(ctx, transfers)
	if err != nil {
		return err
	}
	if index >= 0 {
		return fmt.Errorf("leg %s: %w", pending[index], transferError(p, status))
	}
	return nil
}

// resolutions are the posts or voids of pending transfers, linked. A post
// of AmountMax and a void of zero move the whole pending amount; the other
// fields are zero, which TigerBeetle fills from the pending transfer.
func resolutions(p phase, pending []uuid.UUID) ([]tb.Transfer, error) {
	if len(pending) == 0 {
		return nil, ledger.ErrUnknownTransfer
	}
	transfers := make([]tb.Transfer, len(pending))
	for i, pendingID := range pending {
		if pendingID == uuid.Nil {
			return nil, ledger.ErrInvalidID
		}
		t := tb.Transfer{PendingID: id(pendingID), UserData32: kindResolution}
		flags := tb.TransferFlags{Linked: i < len(pending)-1}
		if p == phasePost {
			t.ID, t.Amount = id(postID(pendingID)), tb.AmountMax
			flags.PostPendingTransfer = true
		} else {
			t.ID = id(voidID(pendingID))
			flags.VoidPendingTransfer = true
		}
		t.Flags = flags.ToUint16()
		transfers[i] = t
	}
	return transfers, nil
}

// AccountTransfers asks get_account_transfers for the newest movements, once
// for debits and once for credits, since the interface limits each on its
// own; both requests are in flight together. Posts and voids are left out
// by their kind: a pending movement's state comes from looking up its
// derived post and void ids instead, with one request for all of them.
func (l *Ledger) AccountTransfers(ctx context.Context, accountID uuid.UUID, limit int) (ledger.AccountTransfers, error) {
	if limit <= 0 {
		limit = accountTransfersLimitDefault
	}
	filter := func(debits bool) tb.AccountFilter {
		return tb.AccountFilter{
			AccountID:  id(accountID),
			UserData32: kindMovement,
			Limit:      uint32(min(limit, batchSizeMax)),
			Flags:      tb.AccountFilterFlags{Debits: debits, Credits: !debits, Reversed: true}.ToUint32(),
		}
	}
	var debits, credits []tb.Transfer
	var debitsErr, creditsErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		debits, debitsErr = call(ctx, func() ([]tb.Transfer, error) { return l.client.GetAccountTransfers(filter(true)) })
	})
	wg.Go(func() {
		credits, creditsErr = call(ctx, func() ([]tb.Transfer, error) { return l.client.GetAccountTransfers(filter(false)) })
	})
	wg.Wait()
	if err := errors.Join(debitsErr, creditsErr); err != nil {
		return ledger.AccountTransfers{}, fmt.Errorf("transfers of account %s: %w", accountID, err)
	}
	resolved, err := l.resolvedIDs(ctx, slices.Concat(debits, credits))
	if err != nil {
		return ledger.AccountTransfers{}, fmt.Errorf("transfers of account %s: %w", accountID, err)
	}
	now := time.Now()
	var out ledger.AccountTransfers
	if out.Debits, err = transfersOf(debits, resolved, now); err != nil {
		return ledger.AccountTransfers{}, fmt.Errorf("transfers of account %s: %w", accountID, err)
	}
	if out.Credits, err = transfersOf(credits, resolved, now); err != nil {
		return ledger.AccountTransfers{}, fmt.Errorf("transfers of account %s: %w", accountID, err)
	}
	return out, nil
}

// resolvedIDs are the posts and voids that exist for the pending transfers
// among records, looked up batchSizeMax ids a request.
func (l *Ledger) resolvedIDs(ctx context.Context, records []tb.Transfer) (map[uuid.UUID]bool, error) {
	var ids []tb.Uint128
	for _, t := range records {
		if t.TransferFlags().Pending {
			ids = append(ids, id(postID(uuidOf(t.ID))), id(voidID(uuidOf(t.ID))))
		}
	}
	resolved := make(map[uuid.UUID]bool)
	for batch := range slices.Chunk(ids, batchSizeMax) {
		found, err := call(ctx, func() ([]tb.Transfer, error) { return l.client.LookupTransfers(batch) })
		if err != nil {
			return nil, fmt.Errorf("look up posts and voids: %w", err)
		}
		for _, t := range found {
			resolved[uuidOf(t.ID)] = true
		}
	}
	return resolved, nil
}

func transfersOf(records []tb.Transfer, resolved map[uuid.UUID]bool, now time.Time) ([]ledger.Transfer, error) {
	out := make([]ledger.Transfer, len(records))
	for i, r := range records {
		var err error
		if out[i], err = transferOf(r, resolved, now); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// transferOf is a movement as the listing shows it. A pending one is posted
// or voided once its derived post or void exists, and voided once expired:
// TigerBeetle voids it then, at the cluster's time, which this estimates
// with the local clock.
func transferOf(r tb.Transfer, resolved map[uuid.UUID]bool, now time.Time) (ledger.Transfer, error) {
	transferID := uuidOf(r.ID)
	amount, ok := u128Of(r.Amount).Uint64()
	if !ok {
		return ledger.Transfer{}, fmt.Errorf("transfer %s: amount exceeds 64 bits", transferID)
	}
	t := ledger.Transfer{
		ID:              transferID,
		DebitAccountID:  uuidOf(r.DebitAccountID),
		CreditAccountID: uuidOf(r.CreditAccountID),
		Amount:          amount,
		Ledger:          r.Ledger,
		Type:            ledger.TransferType(r.Code),
		State:           ledger.Posted,
		Timeout:         time.Duration(r.Timeout) * time.Second,
		CreatedAt:       time.Unix(0, int64(r.Timestamp)), // nanoseconds since the epoch
	}
	if !r.TransferFlags().Pending {
		return t, nil
	}
	if t.Timeout > 0 {
		expiresAt := t.CreatedAt.Add(t.Timeout)
		t.ExpiresAt = &expiresAt
	}
	switch {
	case resolved[postID(transferID)]:
		t.State = ledger.Posted
	case resolved[voidID(transferID)]:
		t.State = ledger.Voided
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		t.State = ledger.Voided
	default:
		t.State = ledger.Pending
	}
	return t, nil
}
