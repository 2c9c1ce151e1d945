// Package postgres keeps the ledger in Postgres, the default backend.
//
// Accounts are TigerBeetle-like rows with running totals (debits and credits,
// pending and posted); transfers are rows with a state. Every write goes
// through a batcher: requests that arrive together are decided together in
// one transaction, which locks the accounts they touch (in id order, so
// transactions never deadlock), decides every request in arrival order in
// Go against the locked totals, and writes each changed row once. A
// transfer changes only under its accounts' locks. Several processes may
// share the database: the row locks serialise them. A commit costs an
// fsync; a batch shares it.
//
// Pending transfers whose timeout has passed count as voided at once, in
// reads and in decisions; a background sweep then voids them in the table.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rafiki-go/rafiki/ledger"
)

const (
	// A batch decides at most this many requests (a transfer has at most
	// two legs), which bounds one transaction's locks, rows and duration.
	batchRequestsMax = 500
	// Callers wait, or give up with their context, while this many
	// requests are queued.
	queueRequestsMax = 4096
	// Batch transactions in flight per Ledger: batches on other accounts
	// commit side by side (schedule.go). Three were slower on 2 cores.
	batchWorkersCount = 2
	// While a batch is in flight, a free worker waits up to lingerMaxUs
	// for lingerRequestsMin requests (or for that batch to finish).
	lingerRequestsMin = 16
	lingerMaxUs       = 1_000
	// A batch that lost a race to another process (the same new transfer
	// id, a deadlock) runs again at most this often.
	batchAttemptsMax = 3
	// Operations on transfers a batch read without their accounts locked
	// run again, on their own, at most this many times (once is enough:
	// the table then shows those transfers to the lock statement).
	legsRoundsMax = 3
	// A batch transaction that takes longer than this is cancelled.
	batchTimeoutMs = 10_000

	// The sweep voids at most sweepTransfersMax expired transfers per
	// transaction and runs at most sweepPassesMax of those per interval.
	sweepIntervalMsDefault = 1_000
	sweepTransfersMax      = 500
	sweepPassesMax         = 20

	// AccountTransfers lists this many debits and credits when asked for
	// 0 (Rafiki's default), and never more than the maximum.
	accountTransfersLimitDefault = 20
	accountTransfersLimitMax     = 1_000
	// TotalsSent and TotalsReceived answer for at most this many accounts:
	// TigerBeetle's batch limit.
	accountsLookupMax = 8_189

	// Amounts are Postgres bigints; account totals numeric(39,0).
	amountMax = math.MaxInt64
	// A batch that needs the expired transfers (see readExpired) reads at
	// most this many; the sweep keeps them far fewer.
	expiredScanMax = 10_000

	// TigerBeetle keeps timeouts as u32 seconds.
	timeoutMax = math.MaxUint32 * time.Second
	// A two-phase transfer has one leg, or two when assets or amounts differ.
	legsPerTransferMax = 2
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("ledger/postgres: closed")

// Options tunes a Ledger; the zero value is the default.
type Options struct {
	Logger *slog.Logger // slog.Default() when nil
	// SweepInterval is how often expired pending transfers are voided in
	// the table (reads treat them as voided anyway); 1 s when zero.
	SweepInterval time.Duration
	// NoSweep leaves expired pending transfers to the other processes: a
	// reader that must change nothing (rafiki ledger check) sets it.
	NoSweep bool
}

// Ledger is ledger.Ledger on Postgres. It is safe for concurrent use, and
// several Ledgers, in one process or many, may share a database.
type Ledger struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	queue   chan *request     // bounded: callers block when it is full
	workers []chan []*request // the collector hands each worker its batches
	ready   chan finished     // a worker is free, and its batch's locks with it
	legs    legAccounts
	known   knownAccounts

	ctx     context.Context // cancelled by Close, after the batches finish
	closing chan struct{}   // closed by Close: stop taking requests
	stopped chan struct{}   // closed when every goroutine has returned
	once    sync.Once
}

var _ ledger.Ledger = (*Ledger)(nil)

// New checks that the schema is there (migrations apply it) and starts the
// batcher and the sweep. Close stops them.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Ledger, error) {
	if pool == nil {
		return nil, errors.New("ledger/postgres: nil pool")
	}
	if _, err := pool.Exec(ctx, "SELECT 1 FROM ledger_accounts, ledger_transfers LIMIT 0"); err != nil {
		return nil, fmt.Errorf("ledger/postgres: schema (are the migrations applied?): %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	sweepInterval := opts.SweepInterval
	if sweepInterval <= 0 {
		sweepInterval = sweepIntervalMsDefault * time.Millisecond
	}
	bg, cancel := context.WithCancel(context.Background())
	l := &Ledger{
		pool:    pool,
		log:     log.With("component", "ledger/postgres"),
		queue:   make(chan *request, queueRequestsMax),
		ready:   make(chan finished, batchWorkersCount),
		legs:    legAccounts{byLeg: map[uuid.UUID][2]uuid.UUID{}},
		known:   knownAccounts{ids: map[uuid.UUID]struct{}{}},
		ctx:     bg,
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	var workers sync.WaitGroup
	for range batchWorkersCount {
		batches := make(chan []*request, 1)
		l.workers = append(l.workers, batches)
		workers.Go(func() { l.work(batches) })
	}
	var sweeper sync.WaitGroup
	if !opts.NoSweep {
		sweeper.Go(func() { l.sweep(sweepInterval) })
	}
	go func() {
		l.collect()
		workers.Wait()
		cancel()
		sweeper.Wait()
		close(l.stopped)
	}()
	return l, nil
}

// Close stops taking writes, lets the batches in flight finish and stops
// the sweep. Pending transfers stay pending: they expire, and another
// Ledger on the database sweeps them.
func (l *Ledger) Close() {
	l.once.Do(func() { close(l.closing) })
	<-l.stopped
}

// CreateAssetAccounts creates an asset's liquidity and settlement accounts.
func (l *Ledger) CreateAssetAccounts(ctx context.Context, assetID uuid.UUID, ledgerNumber uint32) error {
	if assetID == uuid.Nil || ledgerNumber == 0 {
		return fmt.Errorf("ledger/postgres: asset accounts need an asset id and a ledger number (got %s, %d)", assetID, ledgerNumber)
	}
	return l.createAccounts(ctx, []accountRow{
		{id: assetID, ledger: ledgerNumber, code: uint16(ledger.Asset), flags: flagDebitsMustNotExceedCredits, assetID: assetID},
		{id: ledger.SettlementID(ledgerNumber), ledger: ledgerNumber, code: uint16(ledger.Settlement), flags: flagCreditsMustNotExceedDebits, assetID: assetID},
	})
}

// CreateLiquidityAccount creates a peer, incoming, outgoing or web
// monetization account.
func (l *Ledger) CreateLiquidityAccount(ctx context.Context, a ledger.Account) error {
	row, err := liquidityAccountRow(a)
	if err != nil {
		return err
	}
	return l.createAccounts(ctx, []accountRow{row})
}

// liquidityAccountRow is the row of a liquidity account to create.
func liquidityAccountRow(a ledger.Account) (accountRow, error) {
	switch a.Type {
	case ledger.WebMonetization, ledger.Peer, ledger.Incoming, ledger.Outgoing:
	default:
		return accountRow{}, fmt.Errorf("ledger/postgres: account %s: type %d is not a liquidity account type", a.ID, a.Type)
	}
	if a.ID == uuid.Nil || a.AssetID == uuid.Nil || a.Ledger == 0 {
		return accountRow{}, fmt.Errorf("ledger/postgres: account needs an id, an asset id and a ledger (got %s, %s, %d)", a.ID, a.AssetID, a.Ledger)
	}
	return accountRow{id: a.ID, ledger: a.Ledger, code: uint16(a.Type), flags: flagDebitsMustNotExceedCredits, assetID: a.AssetID}, nil
}

// AmountMax is the most one transfer moves: amounts are bigints.
func (l *Ledger) AmountMax() uint64 { return amountMax }

// Deposit posts money from the asset's settlement account to an account.
func (l *Ledger) Deposit(ctx context.Context, d ledger.Deposit) error {
	if d.ID == uuid.Nil {
		return ledger.ErrInvalidID
	}
	if d.Amount == 0 || d.Amount > amountMax {
		return ledger.ErrInvalidAmount
	}
	settlement := ledger.SettlementID(d.Account.Ledger)
	if d.Account.ID == settlement {
		return ledger.ErrSameAccounts
	}
	op := &operation{
		kind: kindCreate,
		legs: []leg{{
			id: d.ID, group: d.ID, debit: settlement, credit: d.Account.ID,
			amount: d.Amount, ledger: d.Account.Ledger, code: ledger.TypeDeposit,
		}},
		sourceIDs:      []uuid.UUID{settlement},
		destinationIDs: []uuid.UUID{d.Account.ID},
	}
	if d.Open {
		row, err := liquidityAccountRow(d.Account)
		if err != nil {
			return err
		}
		op.opens = []accountRow{row}
	}
	return l.submit(ctx, op)
}

// Withdraw moves money from an account to the asset's settlement account,
// pending for w.Timeout, or posted at once when it is 0.
func (l *Ledger) Withdraw(ctx context.Context, w ledger.Withdrawal) error {
	if w.ID == uuid.Nil {
		return ledger.ErrInvalidID
	}
	if w.Amount == 0 || w.Amount > amountMax {
		return ledger.ErrInvalidAmount
	}
	timeout, err := timeoutOf(w.Timeout)
	if err != nil {
		return err
	}
	settlement := ledger.SettlementID(w.Account.Ledger)
	if w.Account.ID == settlement {
		return ledger.ErrSameAccounts
	}
	return l.submit(ctx, &operation{
		kind: kindCreate,
		legs: []leg{{
			id: w.ID, group: w.ID, debit: w.Account.ID, credit: settlement,
			amount: w.Amount, ledger: w.Account.Ledger, code: ledger.TypeWithdrawal, timeout: timeout,
		}},
		sourceIDs:      []uuid.UUID{w.Account.ID},
		destinationIDs: []uuid.UUID{settlement},
	})
}

// PostWithdrawal posts a pending withdrawal.
func (l *Ledger) PostWithdrawal(ctx context.Context, id uuid.UUID) error {
	return l.settle(ctx, kindPost, ledger.PendingTransfer{ID: id, Legs: []uuid.UUID{id}})
}

// VoidWithdrawal voids a pending withdrawal.
func (l *Ledger) VoidWithdrawal(ctx context.Context, id uuid.UUID) error {
	return l.settle(ctx, kindVoid, ledger.PendingTransfer{ID: id, Legs: []uuid.UUID{id}})
}

// Transfer creates a transfer's linked legs: pending for t.Timeout, or
// posted at once when it is 0, as in Rafiki.
func (l *Ledger) Transfer(ctx context.Context, t ledger.TransferRequest) (ledger.PendingTransfer, error) {
	op, err := transferOperation(t)
	if err != nil {
		return ledger.PendingTransfer{}, err
	}
	if t.OpenDestination {
		row, err := liquidityAccountRow(t.Destination)
		if err != nil {
			return ledger.PendingTransfer{}, err
		}
		op.opens = []accountRow{row}
	}
	if err := l.submit(ctx, op); err != nil {
		return ledger.PendingTransfer{}, err
	}
	p := ledger.PendingTransfer{ID: t.ID, Legs: make([]uuid.UUID, len(op.legs))}
	for i, lg := range op.legs {
		p.Legs[i] = lg.id
	}
	return p, nil
}

// Post posts every leg of a pending transfer, or none.
func (l *Ledger) Post(ctx context.Context, p ledger.PendingTransfer) error {
	return l.settle(ctx, kindPost, p)
}

// Void voids every leg of a pending transfer, or none.
func (l *Ledger) Void(ctx context.Context, p ledger.PendingTransfer) error {
	return l.settle(ctx, kindVoid, p)
}

// settle posts or voids a group's legs. A leg that is not p's (its group is
// another transfer's) is unknown, so a withdrawal cannot settle a leg.
func (l *Ledger) settle(ctx context.Context, k kind, p ledger.PendingTransfer) error {
	if p.ID == uuid.Nil {
		return ledger.ErrInvalidID
	}
	if len(p.Legs) == 0 || len(p.Legs) > legsPerTransferMax {
		return ledger.ErrUnknownTransfer
	}
	for i, id := range p.Legs {
		// With two legs at most, a repeated leg repeats the first.
		if id == uuid.Nil || (i > 0 && id == p.Legs[0]) {
			return ledger.ErrInvalidID
		}
	}
	return l.submit(ctx, &operation{kind: k, ids: p.Legs, group: p.ID})
}

// timeoutOf checks a two-phase timeout and rounds it up to the milliseconds
// the table keeps, so that a positive timeout stays two-phase.
func timeoutOf(d time.Duration) (time.Duration, error) {
	if d < 0 || d > timeoutMax {
		return 0, ledger.ErrInvalidTimeout
	}
	return (d + time.Millisecond - 1).Truncate(time.Millisecond), nil
}
