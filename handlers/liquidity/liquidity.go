// Package liquidity moves money into and out of the liquidity accounts of
// assets, peers, wallet addresses and incoming payments, and records each movement as events
// on the owner's stream. No money moves without its event: a movement is
// first requested (an event, with a claim on the transfer id when it creates
// one), then the ledger moves the money (idempotent by transfer id), then
// its outcome is recorded. A command enqueued before the request
// (commands.CompleteTransfer) finishes the work of a request whose outcome
// is still missing later, as after a crash between two of these steps.
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
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
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
	// AssetCode and AssetScale are the account's asset's, which a
	// low-liquidity event tells.
	AssetCode  string
	AssetScale uint8
}

// Enqueue puts work that can wait on the command queue, to run at at (at
// once when at is zero).
type Enqueue func(ctx context.Context, subject, id string, at time.Time, command any) error

// Handler runs liquidity commands.
type Handler struct {
	store   handlers.Store
	locator *handlers.Locator
	ledger  ledger.Ledger
	enqueue Enqueue
	// A request's own handler does the ledger's step within ownWindow of
	// the request; the command that completes it waits recoverAfter, so
	// that the two never do it at the same time (one of them could record
	// a refusal while the other's transfer goes through).
	ownWindow    time.Duration
	recoverAfter time.Duration
	afterRequest func() error
}

const (
	ownWindowDefault    = 20 * time.Second
	recoverAfterDefault = time.Minute
)

func NewHandler(store handlers.Store, l ledger.Ledger, enqueue Enqueue) *Handler {
	if store == nil || l == nil || enqueue == nil {
		panic("liquidity: NewHandler needs a store, a ledger and a command queue")
	}
	return &Handler{store: store, locator: handlers.NewLocator(store), ledger: l, enqueue: enqueue, ownWindow: ownWindowDefault, recoverAfter: recoverAfterDefault}
}

// AfterRequest makes f run right after a request is stored, before the
// ledger's step; an error from f ends the call with it. Tests and the
// RAFIKI_FAILPOINT failpoint stop the handler there, as a crash would.
func (h *Handler) AfterRequest(f func() error) { h.afterRequest = f }

// Ledger is the ledger the handler moves money in.
func (h *Handler) Ledger() ledger.Ledger { return h.ledger }

// transferClaim maps a transfer id to its owner's subject; it also keeps two
// owners from requesting the same transfer.
func transferClaim(id uuid.UUID) string {
	return handlers.GlobalClaimSubject("ledger_transfer", id.String())
}

// AssetOwner finds a visible asset and makes sure its accounts exist.
func (h *Handler) AssetOwner(ctx context.Context, actor commands.Actor, assetID string) (Owner, error) {
	unknown := apperr.E(apperr.NotFound, "Unknown asset")
	id, target, err := h.locateOwner(ctx, asset.AggregateType, assetID, "asset", unknown)
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
		return Owner{}, fmt.Errorf("asset %s accounts: %w", id, err)
	}
	return Owner{
		Target:    target,
		Account:   ledger.Account{ID: id, Type: ledger.Asset, AssetID: id, Ledger: a.Ledger},
		Threshold: a.LiquidityThreshold,
		AssetCode: a.Code, AssetScale: a.Scale,
	}, nil
}

// PeerOwner finds a visible peer and makes sure its account exists.
func (h *Handler) PeerOwner(ctx context.Context, actor commands.Actor, peerID string) (Owner, error) {
	unknown := apperr.E(apperr.NotFound, "Unknown peer")
	id, target, err := h.locateOwner(ctx, peer.AggregateType, peerID, "peer", unknown)
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
		return Owner{}, fmt.Errorf("peer %s account: %w", id, err)
	}
	return Owner{
		Target:    target,
		Account:   account,
		Threshold: p.LiquidityThreshold,
		AssetCode: assetOwner.AssetCode, AssetScale: assetOwner.AssetScale,
	}, nil
}

// WalletAddressOwner finds a visible wallet address and makes sure its web
// monetization account exists.
func (h *Handler) WalletAddressOwner(ctx context.Context, actor commands.Actor, walletAddressID string) (Owner, error) {
	unknown := apperr.E(apperr.NotFound, "Unknown wallet address")
	id, target, err := h.locateOwner(ctx, walletaddress.AggregateType, walletAddressID, "wallet address", unknown)
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
		return Owner{}, fmt.Errorf("wallet address %s account: %w", id, err)
	}
	return Owner{
		Target:  target,
		Account: account,
	}, nil
}

// WithdrawAll withdraws the whole balance of the owner's account, as
// Rafiki's wallet address and incoming payment withdrawals do, and returns
// the amount. A retry
// withdraws what the first request did.
func (h *Handler) WithdrawAll(ctx context.Context, m commands.Meta, o Owner, id string, timeoutSeconds uint64) (uint64, handlers.Result, error) {
	tid, err := transferID(id)
	if err != nil {
		return 0, handlers.Result{}, err
	}
	envs, _, err := h.store.Load(ctx, o.Target.Subject)
	if err != nil {
		return 0, handlers.Result{}, err
	}
	t, err := foldTransfer(envs, tid)
	if err != nil {
		return 0, handlers.Result{}, err
	}
	first, _ := t.creation()
	amount, _, requested := first.withdrawal()
	if !requested {
		if amount, err = h.ledger.Balance(ctx, o.Account.ID); err != nil {
			return 0, handlers.Result{}, mapError(err)
		}
	}
	res, err := h.Withdraw(ctx, m, o, id, amount, timeoutSeconds)
	return amount, res, err
}

// locateOwner finds the aggregate of this type an account belongs to: its id,
// checked and in canonical form, and where its events are; unknown when it
// has none.
func (h *Handler) locateOwner(ctx context.Context, aggregateType, rawID, kind string, unknown error) (uuid.UUID, handlers.Target, error) {
	id, err := ownerID(rawID, kind)
	if err != nil {
		return uuid.Nil, handlers.Target{}, err
	}
	tenantID, found, err := h.locator.Locate(ctx, aggregateType, id.String())
	if err != nil {
		return uuid.Nil, handlers.Target{}, err
	}
	if !found {
		return uuid.Nil, handlers.Target{}, unknown
	}
	target, err := handlers.NewTarget(tenantID, aggregateType, id.String())
	return id, target, err
}

// ownerID reads the id of an asset, peer, wallet address or incoming
// payment.
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
	want := &events.LiquidityDepositRequested{TransferID: tid.String(), Amount: amount,
		AssetID: o.Account.AssetID.String(), Ledger: o.Account.Ledger}
	res, _, err := h.request(ctx, m, o.Target, tid, true, func(t transfer) (events.Event, error) {
		return decideCreate(t, want, m.ID)
	})
	return res, err
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
	want := &events.LiquidityWithdrawalRequested{TransferID: tid.String(), Amount: amount, TimeoutSeconds: timeoutSeconds,
		AssetID: o.Account.AssetID.String(), Ledger: o.Account.Ledger}
	res, moved, err := h.request(ctx, m, o.Target, tid, true, func(t transfer) (events.Event, error) {
		return decideCreate(t, want, m.ID)
	})
	if err != nil || !moved {
		return res, err
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
	target, found, err := h.owner(ctx, tid)
	if err != nil {
		return handlers.Result{}, err
	}
	if !found || !m.Actor.CanActFor(target.TenantID) {
		return handlers.Result{}, apperr.E(apperr.NotFound, "Unknown transfer")
	}
	res, _, err := h.request(ctx, m, target, tid, false, func(t transfer) (events.Event, error) {
		return decideSettle(t, post, m.ID)
	})
	return res, err
}

// owner finds the target a transfer id was claimed for.
func (h *Handler) owner(ctx context.Context, tid uuid.UUID) (handlers.Target, bool, error) {
	data, _, found, err := h.store.Last(ctx, transferClaim(tid))
	if err != nil || !found {
		return handlers.Target{}, false, err
	}
	target, err := decodeTarget(data)
	return target, err == nil, err
}

// stored is a request as appended.
type stored struct {
	id    uuid.UUID
	event events.Event
	at    time.Time
}

// request decides a request on a transfer from the owner's events and, when
// decide asks for one, enqueues the command that completes it, appends it
// (with the transfer id's claim when claim is set), then does the ledger's
// step and records its outcome. moved tells whether the ledger moved money
// for this call.
func (h *Handler) request(ctx context.Context, m commands.Meta, target handlers.Target, tid uuid.UUID, claim bool,
	decide func(transfer) (events.Event, error)) (res handlers.Result, moved bool, err error) {
	var req *stored
	res, err = handlers.Retry(ctx, func() (handlers.Result, error) {
		if claim {
			owner, found, err := h.owner(ctx, tid)
			if err != nil {
				return handlers.Result{}, err
			}
			if found && owner.Subject != target.Subject {
				return handlers.Result{}, mapError(ledger.ErrTransferExists)
			}
		}
		envs, version, err := h.store.Load(ctx, target.Subject)
		if err != nil {
			return handlers.Result{}, err
		}
		t, err := foldTransfer(envs, tid)
		if err != nil {
			return handlers.Result{}, err
		}
		ev, err := decide(t)
		if err != nil || ev == nil {
			return handlers.Result{Sequence: version}, err
		}
		if len(t.steps) >= stepsMax {
			return handlers.Result{}, apperr.E(apperr.Conflict, "Too many requests on transfer %s", tid)
		}
		// The key names the command as well as the step: a request whose
		// append lost to another's for the same step must not find that
		// one's message under its own id and take it for its own.
		key := fmt.Sprintf("liquidity:%s/%d:%s", tid, len(t.steps), m.ID)
		meta := handlers.Meta(target, info(m))
		id := events.DeriveID(key, 0)
		if err := h.enqueueFollowUps(ctx, tid, id, ev, meta.Time); err != nil {
			return handlers.Result{}, err
		}
		msgs, err := handlers.Messages(target.Subject, version, meta, key, 0, ev)
		if err != nil {
			return handlers.Result{}, err
		}
		if claim {
			msgs = append([]eventstore.Message{handlers.Claim(transferClaim(tid), encodeTarget(target), key)}, msgs...)
		}
		seqs, err := h.store.Append(ctx, msgs)
		if err != nil {
			return handlers.Result{}, err
		}
		req = &stored{id: id, event: ev, at: meta.Time}
		return handlers.Result{Sequence: seqs[len(seqs)-1]}, nil
	})
	if err != nil || req == nil {
		return res, false, err
	}
	if h.afterRequest != nil {
		if err := h.afterRequest(); err != nil {
			return res, false, err
		}
	}
	if time.Since(req.at) >= h.ownWindow {
		return res, false, inProgress()
	}
	ctx, cancel := context.WithDeadline(ctx, req.at.Add(h.ownWindow))
	defer cancel()
	outcome, err := h.perform(ctx, target, req.event)
	if err != nil {
		return res, false, err
	}
	if _, failed := outcome.(*events.LiquidityRequestFailed); failed && time.Since(req.at) >= h.ownWindow {
		// Past its window the completing command may run the request too
		// and see another answer; it records the outcome.
		return res, false, inProgress()
	}
	recorded, res, err := h.recordOutcome(ctx, info(m), target, tid, req.id, outcome)
	if errors.Is(err, handlers.ErrContended) {
		// The ledger did the step; the completing command records it, and
		// the same request sent again answers it then.
		return res, false, inProgress()
	}
	if err != nil {
		return res, false, err
	}
	if f, failed := recorded.(*events.LiquidityRequestFailed); failed {
		return res, false, mapError(ledgerError(f.Error))
	}
	return res, true, nil
}

// enqueueFollowUps enqueues, before a request is stored, the commands that
// make sure its work is done: the one that completes it, and a withdrawal's
// expiry. Either finds nothing to do when the request was never stored.
func (h *Handler) enqueueFollowUps(ctx context.Context, tid, requestID uuid.UUID, ev events.Event, now time.Time) error {
	if err := h.enqueue(ctx, commands.CompleteTransferSubject, "complete:"+requestID.String(), now.Add(h.recoverAfter),
		commands.CompleteTransfer{TransferID: tid.String(), RequestID: requestID.String(), DueAt: now.Add(h.recoverAfter)}); err != nil {
		return err
	}
	w, ok := ev.(*events.LiquidityWithdrawalRequested)
	if !ok || w.TimeoutSeconds == 0 {
		return nil
	}
	// The ledger voids the withdrawal when it expires; a command due then
	// (and once the ledger's clock has passed it too) records it.
	due := now.Add(time.Duration(w.TimeoutSeconds) * time.Second)
	return h.enqueue(ctx, commands.ExpireWithdrawalSubject, expiryCommandPrefix+tid.String(), due.Add(expiryGrace),
		commands.ExpireWithdrawal{TransferID: tid.String(), DueAt: due})
}

// perform does a request's step in the ledger and returns the outcome to
// record; an error when the ledger gave none (it may or may not have moved
// the money: the step is run again later, and it is idempotent).
func (h *Handler) perform(ctx context.Context, target handlers.Target, req events.Event) (events.Event, error) {
	tid, err := uuid.Parse(transferIDOf(req))
	if err != nil {
		return nil, fmt.Errorf("liquidity: %s: transfer id: %w", req.EventType(), err)
	}
	var done events.Event
	var again error // what the ledger says when this step was done before
	switch r := req.(type) {
	case *events.LiquidityDepositRequested:
		account, aerr := requestAccount(target, r.AssetID, r.Ledger)
		if aerr != nil {
			return nil, aerr
		}
		err = h.ledger.Deposit(ctx, ledger.Deposit{ID: tid, Account: account, Amount: r.Amount})
		done, again = &events.LiquidityDeposited{TransferID: r.TransferID, Amount: r.Amount}, ledger.ErrTransferExists
	case *events.LiquidityWithdrawalRequested:
		account, aerr := requestAccount(target, r.AssetID, r.Ledger)
		if aerr != nil {
			return nil, aerr
		}
		err = h.ledger.Withdraw(ctx, ledger.Withdrawal{ID: tid, Account: account, Amount: r.Amount,
			Timeout: time.Duration(r.TimeoutSeconds) * time.Second})
		done, again = &events.LiquidityWithdrawalCreated{TransferID: r.TransferID, Amount: r.Amount, TimeoutSeconds: r.TimeoutSeconds}, ledger.ErrTransferExists
	case *events.LiquidityWithdrawalPostRequested:
		err = h.ledger.PostWithdrawal(ctx, tid)
		done, again = &events.LiquidityWithdrawalPosted{TransferID: r.TransferID}, ledger.ErrAlreadyPosted
	case *events.LiquidityWithdrawalVoidRequested:
		err = h.ledger.VoidWithdrawal(ctx, tid)
		done, again = &events.LiquidityWithdrawalVoided{TransferID: r.TransferID}, ledger.ErrAlreadyVoided
	default:
		return nil, fmt.Errorf("liquidity: %s is no request", req.EventType())
	}
	switch known := knownLedgerError(err); {
	case err == nil || errors.Is(err, again):
		return done, nil
	case known != nil:
		return &events.LiquidityRequestFailed{TransferID: transferIDOf(req), Error: known.Error()}, nil
	}
	return nil, fmt.Errorf("%s %s: %w", req.EventType(), transferIDOf(req), err)
}

// requestAccount is the liquidity account of a request's owner.
func requestAccount(target handlers.Target, assetID string, number uint32) (ledger.Account, error) {
	types := map[string]ledger.AccountType{
		asset.AggregateType: ledger.Asset, peer.AggregateType: ledger.Peer, walletaddress.AggregateType: ledger.WebMonetization,
		incomingpayment.AggregateType: ledger.Incoming, outgoingpayment.AggregateType: ledger.Outgoing,
	}
	typ, ok := types[target.AggregateType]
	id, err := uuid.Parse(target.AggregateID)
	assetAccount, aerr := uuid.Parse(assetID)
	if !ok || err != nil || aerr != nil {
		return ledger.Account{}, fmt.Errorf("liquidity: no account for %s %s (asset %q)", target.AggregateType, target.AggregateID, assetID)
	}
	return ledger.Account{ID: id, Type: typ, AssetID: assetAccount, Ledger: number}, nil
}

// recordOutcome appends a request's outcome unless one is recorded already,
// and returns the outcome recorded.
func (h *Handler) recordOutcome(ctx context.Context, c handlers.CommandInfo, target handlers.Target, tid, requestID uuid.UUID, outcome events.Event) (events.Event, handlers.Result, error) {
	recorded := outcome
	res, err := handlers.Retry(ctx, func() (handlers.Result, error) {
		envs, version, err := h.store.Load(ctx, target.Subject)
		if err != nil {
			return handlers.Result{}, err
		}
		t, err := foldTransfer(envs, tid)
		if err != nil {
			return handlers.Result{}, err
		}
		s, found := t.step(requestID)
		if !found {
			return handlers.Result{}, fmt.Errorf("liquidity: request %s of transfer %s is not stored", requestID, tid)
		}
		if s.outcome != nil {
			recorded = s.outcome
			return handlers.Result{Sequence: version}, nil
		}
		return handlers.AppendEvents(ctx, h.store, target.Subject, version, handlers.Meta(target, c), "liquidity:outcome:"+requestID.String(), outcome)
	})
	return recorded, res, err
}

// expiryGrace lets the ledger's own clock pass a withdrawal's expiry before
// the expiry is recorded.
const expiryGrace = time.Second

// expiryWaitMax bounds how long an expiry waits for the requests on its
// withdrawal to have their outcomes; past it the command is poisoned, for an
// operator to look at.
const expiryWaitMax = 24 * time.Hour

// CompleteTransfer makes sure a request has its outcome: when the request is
// stored and its outcome is not, it does the ledger's step and records the
// outcome. It runs once the request's own handler is past its window.
func (h *Handler) CompleteTransfer(ctx context.Context, data []byte) (retryAfter time.Duration, err error) {
	var c commands.CompleteTransfer
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, fmt.Errorf("%w: complete transfer %q: %w", commands.ErrUnprocessable, data, err)
	}
	if wait := time.Until(c.DueAt); wait > 0 {
		return wait, nil
	}
	tid, terr := uuid.Parse(c.TransferID)
	requestID, rerr := uuid.Parse(c.RequestID)
	if terr != nil || rerr != nil {
		return 0, fmt.Errorf("%w: complete transfer %q: bad ids", commands.ErrUnprocessable, data)
	}
	target, found, err := h.owner(ctx, tid)
	if err != nil || !found {
		return 0, err // not found: the request was never stored
	}
	envs, _, err := h.store.Load(ctx, target.Subject)
	if err != nil {
		return 0, err
	}
	t, err := foldTransfer(envs, tid)
	if err != nil {
		return 0, err
	}
	s, found := t.step(requestID)
	if !found || s.outcome != nil {
		return 0, nil
	}
	outcome, err := h.perform(ctx, target, s.request)
	if err != nil {
		return 0, err
	}
	_, _, err = h.recordOutcome(ctx, handlers.CommandInfo{ID: "complete:" + requestID.String()}, target, tid, requestID, outcome)
	return 0, err
}

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
	tid, err := uuid.Parse(c.TransferID)
	if err != nil {
		return 0, fmt.Errorf("%w: expire withdrawal %q: %w", commands.ErrUnprocessable, data, err)
	}
	target, found, err := h.owner(ctx, tid)
	if err != nil || !found {
		return 0, err // not found: the withdrawal was never requested
	}
	decide := func() (expiry, uint64, error) {
		envs, version, err := h.store.Load(ctx, target.Subject)
		if err != nil {
			return expiry{}, 0, err
		}
		t, err := foldTransfer(envs, tid)
		if err != nil {
			return expiry{}, 0, err
		}
		return decideExpiry(t, time.Now(), expiryGrace, h.recoverAfter), version, nil
	}
	e, _, err := decide()
	if err == nil && e.retryAfter > 0 && time.Since(c.DueAt) > expiryWaitMax {
		return 0, fmt.Errorf("%w: expire withdrawal %s: a request on it still has no outcome %s after it was due",
			commands.ErrUnprocessable, tid, expiryWaitMax)
	}
	if err != nil || e.done || e.retryAfter > 0 {
		return e.retryAfter, err
	}
	err = h.ledger.VoidWithdrawal(ctx, tid)
	switch {
	case errors.Is(err, ledger.ErrAlreadyPosted):
		// Posted before it expired: its post request records it.
		return 0, nil
	case err != nil && !errors.Is(err, ledger.ErrTransferExpired) && !errors.Is(err, ledger.ErrAlreadyVoided):
		return 0, err
	}
	m := handlers.CommandInfo{ID: expiryCommandPrefix + tid.String()}
	var wait time.Duration
	_, err = handlers.Retry(ctx, func() (handlers.Result, error) {
		e, version, err := decide()
		if err != nil || e.done || e.retryAfter > 0 {
			wait = e.retryAfter
			return handlers.Result{}, err
		}
		msgs, err := handlers.Messages(target.Subject, version, handlers.Meta(target, m), "liquidity:expired:"+tid.String(), 0,
			&events.LiquidityWithdrawalVoided{TransferID: tid.String()})
		if err != nil {
			return handlers.Result{}, err
		}
		_, err = h.store.Append(ctx, msgs)
		return handlers.Result{}, err
	})
	return wait, err
}

func (h *Handler) appendEvent(ctx context.Context, m commands.Meta, t handlers.Target, ev events.Event, eventKey string) (handlers.Result, error) {
	return handlers.Retry(ctx, func() (handlers.Result, error) {
		_, version, err := h.store.Load(ctx, t.Subject)
		if err != nil {
			return handlers.Result{}, err
		}
		return handlers.AppendEvents(ctx, h.store, t.Subject, version, handlers.Meta(t, info(m)), "ledger:"+eventKey, ev)
	})
}

// CheckLowAfterDebits records a low-liquidity event when the owner's
// balance is at or below its threshold after movements out of it that no
// command of this handler made (the connector's packets), at is when they
// were seen: one event a second at most, whichever process checks.
func (h *Handler) CheckLowAfterDebits(ctx context.Context, m commands.Meta, o Owner, at time.Time) error {
	_, err := h.checkLowKeyed(ctx, m, o, handlers.Result{}, fmt.Sprintf("low/%s/debits/%d", o.Account.ID, at.Unix()))
	return err
}

// checkLow records a low-liquidity event when the owner's balance is at or
// below its threshold after a movement out of it.
func (h *Handler) checkLow(ctx context.Context, m commands.Meta, o Owner, res handlers.Result) (handlers.Result, error) {
	return h.checkLowKeyed(ctx, m, o, res, fmt.Sprintf("low/%s/%d", o.Account.ID, res.Sequence))
}

func (h *Handler) checkLowKeyed(ctx context.Context, m commands.Meta, o Owner, res handlers.Result, eventKey string) (handlers.Result, error) {
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
	return h.appendEvent(ctx, m, o.Target, &events.LiquidityLow{Balance: balance, Threshold: *o.Threshold,
		AssetID: o.Account.AssetID.String(), AssetCode: o.AssetCode, AssetScale: o.AssetScale}, eventKey)
}

func info(m commands.Meta) handlers.CommandInfo {
	return handlers.Info(m)
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

// ledgerErrors are the ledger's refusals, and the errors Rafiki's liquidity
// API answers them with.
var ledgerErrors = []struct {
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
}

// mapError turns ledger errors into the errors Rafiki's liquidity API
// answers with.
func mapError(err error) error {
	for _, m := range ledgerErrors {
		if errors.Is(err, m.err) {
			return apperr.E(m.kind, "%s", m.err.Error())
		}
	}
	return err
}

// knownLedgerError is the ledger's refusal err is, nil for any other error.
func knownLedgerError(err error) error {
	for _, m := range ledgerErrors {
		if errors.Is(err, m.err) {
			return m.err
		}
	}
	return nil
}

// ledgerError is the ledger's refusal with this message, as a failed
// request's event records it.
func ledgerError(message string) error {
	for _, m := range ledgerErrors {
		if m.err.Error() == message {
			return m.err
		}
	}
	return errors.New(message)
}
