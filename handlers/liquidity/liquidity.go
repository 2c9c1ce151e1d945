// Package liquidity moves money into and out of the liquidity accounts of
// assets, peers and wallet addresses, and records each movement as an event
// on the owner's stream. The ledger moves the money (idempotent by transfer
// id); the event follows, with a claim on the transfer id in the same atomic
// append, so that a retry after a crash between the two completes the record
// instead of moving money twice.
package liquidity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/peer"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/valid"
)

// timeoutSecondsMax bounds a pending withdrawal: a day.
const timeoutSecondsMax = 86_400

// Owner is the object whose liquidity account moves.
type Owner struct {
	Target    handlers.Target
	Account   ledger.Account
	Threshold *uint64 // liquidity threshold; a low-liquidity event below it
}

// Enqueue puts work that can wait on the command queue, to run at at (at
// once when at is zero).
type Enqueue func(ctx context.Context, subject, id string, at time.Time, command any) error

// Handler runs liquidity commands.
type Handler struct {
	store   handlers.Store
	ledger  ledger.Ledger
	enqueue Enqueue
}

func NewHandler(store handlers.Store, l ledger.Ledger, enqueue Enqueue) *Handler {
	if store == nil || l == nil || enqueue == nil {
		panic("liquidity: NewHandler needs a store, a ledger and a command queue")
	}
	return &Handler{store: store, ledger: l, enqueue: enqueue}
}

// Ledger is the ledger the handler moves money in.
func (h *Handler) Ledger() ledger.Ledger { return h.ledger }

// transferClaim maps a transfer id to its owner's subject; it also keeps two
// movements from recording the same transfer.
func transferClaim(id uuid.UUID) string {
	return handlers.GlobalClaimSubject("ledger_transfer", id.String())
}

// AssetOwner finds a visible asset and makes sure its accounts exist.
func (h *Handler) AssetOwner(ctx context.Context, actor commands.Actor, assetID string) (Owner, error) {
	unknown := apperr.E(apperr.NotFound, "Unknown asset")
	id, err := ownerID(assetID, "asset")
	if err != nil {
		return Owner{}, err
	}
	assetID = id.String()
	tenantID, found, err := handlers.Locate(ctx, h.store, asset.AggregateType, assetID)
	if err != nil || !found {
		return Owner{}, errors.Join(err, unknown)
	}
	target, err := handlers.NewTarget(tenantID, asset.AggregateType, assetID)
	if err != nil {
		return Owner{}, err
	}
	a, _, err := handlers.Load(ctx, h.store, target.Subject, asset.Evolve)
	if err != nil {
		return Owner{}, err
	}
	if !a.Active() || !actor.CanActFor(a.TenantID) {
		return Owner{}, unknown
	}
	if err := h.ledger.CreateAssetAccounts(ctx, id, a.Ledger); err != nil {
		return Owner{}, fmt.Errorf("asset %s accounts: %w", assetID, err)
	}
	return Owner{
		Target:    target,
		Account:   ledger.Account{ID: id, Type: ledger.Asset, AssetID: id, Ledger: a.Ledger},
		Threshold: a.LiquidityThreshold,
	}, nil
}

// PeerOwner finds a visible peer and makes sure its account exists.
func (h *Handler) PeerOwner(ctx context.Context, actor commands.Actor, peerID string) (Owner, error) {
	unknown := apperr.E(apperr.NotFound, "Unknown peer")
	id, err := ownerID(peerID, "peer")
	if err != nil {
		return Owner{}, err
	}
	peerID = id.String()
	tenantID, found, err := handlers.Locate(ctx, h.store, peer.AggregateType, peerID)
	if err != nil || !found {
		return Owner{}, errors.Join(err, unknown)
	}
	target, err := handlers.NewTarget(tenantID, peer.AggregateType, peerID)
	if err != nil {
		return Owner{}, err
	}
	p, _, err := handlers.Load(ctx, h.store, target.Subject, peer.Evolve)
	if err != nil {
		return Owner{}, err
	}
	if !p.Exists || p.DeletedAt != nil || !actor.CanActFor(p.TenantID) {
		return Owner{}, unknown
	}
	assetOwner, err := h.AssetOwner(ctx, commands.Actor{Operator: true}, p.AssetID)
	if err != nil {
		return Owner{}, err
	}
	account := ledger.Account{ID: id, Type: ledger.Peer, AssetID: assetOwner.Account.ID, Ledger: assetOwner.Account.Ledger}
	if err := h.ledger.CreateLiquidityAccount(ctx, account); err != nil {
		return Owner{}, fmt.Errorf("peer %s account: %w", peerID, err)
	}
	return Owner{
		Target:    target,
		Account:   account,
		Threshold: p.LiquidityThreshold,
	}, nil
}

// WalletAddressOwner finds a visible wallet address and makes sure its web
// monetization account exists.
func (h *Handler) WalletAddressOwner(ctx context.Context, actor commands.Actor, walletAddressID string) (Owner, error) {
	unknown := apperr.E(apperr.NotFound, "Unknown wallet address")
	id, err := ownerID(walletAddressID, "wallet address")
	if err != nil {
		return Owner{}, err
	}
	walletAddressID = id.String()
	tenantID, found, err := handlers.Locate(ctx, h.store, walletaddress.AggregateType, walletAddressID)
	if err != nil || !found {
		return Owner{}, errors.Join(err, unknown)
	}
	target, err := handlers.NewTarget(tenantID, walletaddress.AggregateType, walletAddressID)
	if err != nil {
		return Owner{}, err
	}
	wa, _, err := handlers.Load(ctx, h.store, target.Subject, walletaddress.Evolve)
	if err != nil {
		return Owner{}, err
	}
	if !wa.Exists || !actor.CanActFor(wa.TenantID) {
		return Owner{}, unknown
	}
	assetOwner, err := h.AssetOwner(ctx, commands.Actor{Operator: true}, wa.AssetID)
	if err != nil {
		return Owner{}, err
	}
	account := ledger.Account{ID: id, Type: ledger.WebMonetization, AssetID: assetOwner.Account.ID, Ledger: assetOwner.Account.Ledger}
	if err := h.ledger.CreateLiquidityAccount(ctx, account); err != nil {
		return Owner{}, fmt.Errorf("wallet address %s account: %w", walletAddressID, err)
	}
	return Owner{
		Target:  target,
		Account: account,
	}, nil
}

// WithdrawAll withdraws the whole balance of the owner's account, as
// Rafiki's wallet address withdrawal does, and returns the amount.
func (h *Handler) WithdrawAll(ctx context.Context, m commands.Meta, o Owner, id string, timeoutSeconds uint64) (uint64, handlers.Result, error) {
	balance, err := h.ledger.Balance(ctx, o.Account.ID)
	if err != nil {
		return 0, handlers.Result{}, mapError(err)
	}
	res, err := h.Withdraw(ctx, m, o, id, balance, timeoutSeconds)
	return balance, res, err
}

// ownerID reads the id of an asset, peer or wallet address.
func ownerID(v, kind string) (uuid.UUID, error) {
	id, ok := valid.ID(v)
	if !ok {
		return uuid.Nil, apperr.E(apperr.InvalidInput, "invalid %s id", kind)
	}
	return uuid.MustParse(id), nil
}

func transferID(id string) (uuid.UUID, error) {
	parsed, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil, apperr.E(apperr.InvalidInput, "Invalid transfer id")
	}
	return parsed, nil
}

// Deposit moves amount from the asset's settlement account into the owner's
// account, posted at once.
func (h *Handler) Deposit(ctx context.Context, m commands.Meta, o Owner, id string, amount uint64) (handlers.Result, error) {
	tid, err := transferID(id)
	if err != nil {
		return handlers.Result{}, err
	}
	if amount == 0 {
		return handlers.Result{}, apperr.E(apperr.InvalidInput, "Amount is zero")
	}
	err = h.ledger.Deposit(ctx, ledger.Deposit{ID: tid, Account: o.Account, Amount: amount})
	if err := h.recoverable(err); err != nil {
		return handlers.Result{}, err
	}
	res, rerr := h.record(ctx, m, o, tid, &events.LiquidityDeposited{TransferID: tid.String(), Amount: amount})
	if rerr != nil {
		return res, rerr
	}
	return res, mapError(err)
}

// Withdraw holds amount of the owner's account for a withdrawal: pending for
// timeoutSeconds, or posted at once when it is 0.
func (h *Handler) Withdraw(ctx context.Context, m commands.Meta, o Owner, id string, amount, timeoutSeconds uint64) (handlers.Result, error) {
	tid, err := transferID(id)
	if err != nil {
		return handlers.Result{}, err
	}
	if amount == 0 {
		return handlers.Result{}, apperr.E(apperr.InvalidInput, "Amount is zero")
	}
	if timeoutSeconds > timeoutSecondsMax {
		return handlers.Result{}, apperr.E(apperr.InvalidInput, "Invalid transfer timeout provided")
	}
	err = h.ledger.Withdraw(ctx, ledger.Withdrawal{ID: tid, Account: o.Account, Amount: amount, Timeout: time.Duration(timeoutSeconds) * time.Second})
	if err := h.recoverable(err); err != nil {
		return handlers.Result{}, err
	}
	res, rerr := h.record(ctx, m, o, tid, &events.LiquidityWithdrawalCreated{TransferID: tid.String(), Amount: amount, TimeoutSeconds: timeoutSeconds})
	if rerr != nil {
		return res, rerr
	}
	if err != nil {
		return res, mapError(err)
	}
	if timeoutSeconds > 0 {
		// The ledger voids the withdrawal when it expires; a command due
		// then (and once the ledger's clock has passed it too) records it
		// on the owner's stream.
		due := time.Now().Add(time.Duration(timeoutSeconds) * time.Second)
		if err := h.enqueue(ctx, commands.ExpireWithdrawalSubject, "expire:"+tid.String(), due.Add(expiryGrace),
			commands.ExpireWithdrawal{TransferID: tid.String(), DueAt: due}); err != nil {
			return res, err
		}
	}
	return h.checkLow(ctx, m, o, res)
}

// PostWithdrawal completes a pending withdrawal; VoidWithdrawal releases it.
func (h *Handler) PostWithdrawal(ctx context.Context, m commands.Meta, id string) (handlers.Result, error) {
	return h.settle(ctx, m, id, true)
}

func (h *Handler) VoidWithdrawal(ctx context.Context, m commands.Meta, id string) (handlers.Result, error) {
	return h.settle(ctx, m, id, false)
}

func (h *Handler) settle(ctx context.Context, m commands.Meta, id string, post bool) (handlers.Result, error) {
	tid, err := transferID(id)
	if err != nil {
		return handlers.Result{}, err
	}
	data, _, found, err := h.store.Last(ctx, transferClaim(tid))
	if err != nil {
		return handlers.Result{}, err
	}
	if !found {
		return handlers.Result{}, apperr.E(apperr.NotFound, "Unknown transfer")
	}
	target, err := decodeTarget(data)
	if err != nil {
		return handlers.Result{}, err
	}
	if !m.Actor.CanActFor(target.TenantID) {
		return handlers.Result{}, apperr.E(apperr.NotFound, "Unknown transfer")
	}
	var ev events.Event
	var done error // what the ledger says when this settlement happened before
	if post {
		err, ev, done = h.ledger.PostWithdrawal(ctx, tid), &events.LiquidityWithdrawalPosted{TransferID: tid.String()}, ledger.ErrAlreadyPosted
	} else {
		err, ev, done = h.ledger.VoidWithdrawal(ctx, tid), &events.LiquidityWithdrawalVoided{TransferID: tid.String()}, ledger.ErrAlreadyVoided
	}
	if err != nil && !errors.Is(err, done) {
		return handlers.Result{}, mapError(err)
	}
	key := tid.String() + "/settle"
	if err != nil {
		// Settled before: answer as Rafiki does, but first make sure the
		// event was recorded, in case a crash came between the ledger and
		// the append.
		recorded, rerr := h.recorded(ctx, target, events.DeriveID("ledger:"+key, 0).String())
		if rerr == nil && !recorded {
			_, rerr = h.appendEvent(ctx, m, target, ev, key)
		}
		return handlers.Result{}, errors.Join(mapError(err), rerr)
	}
	return h.appendEvent(ctx, m, target, ev, key)
}

// expiryGrace lets the ledger's own clock pass a withdrawal's expiry before
// the expiry is recorded.
const expiryGrace = time.Second

// ExpireWithdrawal records that a pending withdrawal expired, once it is
// due; retryAfter asks to be run again later.
func (h *Handler) ExpireWithdrawal(ctx context.Context, data []byte) (retryAfter time.Duration, err error) {
	var c commands.ExpireWithdrawal
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, fmt.Errorf("%w: expire withdrawal %q: %w", commands.ErrUnprocessable, data, err)
	}
	if wait := time.Until(c.DueAt.Add(expiryGrace)); wait > 0 {
		return wait, nil
	}
	tid, err := transferID(c.TransferID)
	if err != nil {
		return 0, err
	}
	claim, _, found, err := h.store.Last(ctx, transferClaim(tid))
	if err != nil || !found {
		return 0, errors.Join(err, fmt.Errorf("expire withdrawal %s: no record of it", tid))
	}
	target, err := decodeTarget(claim)
	if err != nil {
		return 0, err
	}
	err = h.ledger.VoidWithdrawal(ctx, tid)
	switch {
	case errors.Is(err, ledger.ErrAlreadyPosted):
		return 0, nil
	case err != nil && !errors.Is(err, ledger.ErrTransferExpired) && !errors.Is(err, ledger.ErrAlreadyVoided):
		return 0, err
	}
	key := tid.String() + "/settle"
	recorded, err := h.recorded(ctx, target, events.DeriveID("ledger:"+key, 0).String())
	if err != nil || recorded {
		return 0, err
	}
	m := commands.Meta{ID: "expire:" + tid.String(), Actor: commands.Actor{Operator: true}}
	_, err = h.appendEvent(ctx, m, target, &events.LiquidityWithdrawalVoided{TransferID: tid.String()}, key)
	return 0, err
}

// recorded tells whether the owner's stream holds the event with this id.
func (h *Handler) recorded(ctx context.Context, t handlers.Target, eventID string) (bool, error) {
	envs, _, err := h.store.Load(ctx, t.Subject)
	if err != nil {
		return false, err
	}
	for _, env := range envs {
		if env.ID.String() == eventID {
			return true, nil
		}
	}
	return false, nil
}

// recoverable passes errors after which the movement may still need its
// event: none, or the transfer existing already (a retry).
func (h *Handler) recoverable(err error) error {
	if err == nil || errors.Is(err, ledger.ErrTransferExists) {
		return nil
	}
	return mapError(err)
}

// record appends the movement's event with the claim on its transfer id,
// unless an earlier attempt already did.
func (h *Handler) record(ctx context.Context, m commands.Meta, o Owner, tid uuid.UUID, ev events.Event) (handlers.Result, error) {
	claim := transferClaim(tid)
	_, seq, found, err := h.store.Last(ctx, claim)
	if err != nil {
		return handlers.Result{}, err
	}
	if found {
		return handlers.Result{Sequence: seq}, nil
	}
	return handlers.Retry(ctx, func() (handlers.Result, error) {
		_, version, err := h.store.Load(ctx, o.Target.Subject)
		if err != nil {
			return handlers.Result{}, err
		}
		msgs, err := handlers.Messages(o.Target.Subject, version, handlers.Meta(o.Target, info(m)), "ledger:"+tid.String(), 0, ev)
		if err != nil {
			return handlers.Result{}, err
		}
		claimMsg := handlers.Claim(claim, encodeTarget(o.Target), "ledger:"+tid.String())
		seqs, err := h.store.Append(ctx, append([]eventstore.Message{claimMsg}, msgs...))
		if err != nil {
			return handlers.Result{}, err
		}
		return handlers.Result{Sequence: seqs[len(seqs)-1]}, nil
	})
}

func (h *Handler) appendEvent(ctx context.Context, m commands.Meta, t handlers.Target, ev events.Event, eventKey string) (handlers.Result, error) {
	return handlers.Retry(ctx, func() (handlers.Result, error) {
		_, version, err := h.store.Load(ctx, t.Subject)
		if err != nil {
			return handlers.Result{}, err
		}
		msgs, err := handlers.Messages(t.Subject, version, handlers.Meta(t, info(m)), "ledger:"+eventKey, 0, ev)
		if err != nil {
			return handlers.Result{}, err
		}
		seqs, err := h.store.Append(ctx, msgs)
		if err != nil {
			return handlers.Result{}, err
		}
		return handlers.Result{Sequence: seqs[len(seqs)-1]}, nil
	})
}

// checkLow records a low-liquidity event when the owner's balance is at or
// below its threshold after a movement out of it.
func (h *Handler) checkLow(ctx context.Context, m commands.Meta, o Owner, res handlers.Result) (handlers.Result, error) {
	if o.Threshold == nil {
		return res, nil
	}
	balance, err := h.ledger.Balance(ctx, o.Account.ID)
	if err != nil {
		return res, err
	}
	if balance > *o.Threshold {
		return res, nil
	}
	return h.appendEvent(ctx, m, o.Target, &events.LiquidityLow{Balance: balance, Threshold: *o.Threshold},
		fmt.Sprintf("low/%s/%d", o.Account.ID, res.Sequence))
}

func info(m commands.Meta) handlers.CommandInfo {
	return handlers.CommandInfo{ID: m.ID, CorrelationID: m.CorrelationID}
}

func encodeTarget(t handlers.Target) string {
	return t.AggregateType + " " + t.TenantID + " " + t.AggregateID
}

func decodeTarget(data []byte) (handlers.Target, error) {
	var typ, tenantID, id string
	if _, err := fmt.Sscanf(string(data), "%s %s %s", &typ, &tenantID, &id); err != nil {
		return handlers.Target{}, fmt.Errorf("transfer claim %q: %w", data, err)
	}
	return handlers.NewTarget(tenantID, typ, id)
}

// mapError turns ledger errors into the errors Rafiki's liquidity API
// answers with.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range []struct {
		err  error
		kind apperr.Kind
	}{
		{ledger.ErrTransferExists, apperr.Duplicate},
		{ledger.ErrAlreadyPosted, apperr.Conflict},
		{ledger.ErrAlreadyVoided, apperr.Conflict},
		{ledger.ErrUnknownTransfer, apperr.NotFound},
		{ledger.ErrTransferExpired, apperr.Forbidden},
		{ledger.ErrInsufficientBalance, apperr.Forbidden},
		{ledger.ErrInsufficientLiquidity, apperr.Forbidden},
		{ledger.ErrInsufficientDebitBalance, apperr.Forbidden},
		{ledger.ErrInvalidAmount, apperr.InvalidInput},
		{ledger.ErrInvalidID, apperr.InvalidInput},
		{ledger.ErrInvalidTimeout, apperr.InvalidInput},
		{ledger.ErrUnknownSourceAccount, apperr.NotFound},
		{ledger.ErrUnknownDestinationAccount, apperr.NotFound},
		{ledger.ErrUnknownAccount, apperr.NotFound},
	} {
		if errors.Is(err, m.err) {
			return apperr.E(m.kind, "%s", m.err.Error())
		}
	}
	return err
}
