package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/testkit"
)

// The stress test's shape. Times are generous so that a loaded 2-core
// machine (or -race) does not make it flake: only a wrong answer, a hang
// or a broken ledger fails it.
const (
	stressAccounts = 30               // funded peer accounts on one asset, the first few hot
	stressHot      = 3                // accounts that get stressHotPercent of the picks
	stressHotPct   = 40               // percent
	stressWorkers  = 150              // concurrent callers
	stressLoad     = 6 * time.Second  // how long they call; the first Ledger closes halfway
	stressShortPct = 20               // calls whose caller gives up after 0.2–5 ms
	stressPatient  = 10 * time.Second // every other caller's deadline: no answer by then is a hang
	stressStuck    = 30 * time.Second // callers that have not returned by then are stuck for good
	stressSlack    = 50 * time.Millisecond
	// Timeouts of at least this never expire while the test runs (it takes
	// about 15 s); the shorter ones (at most 2 s) all expire and are swept.
	stressLongTimeout = 30 * time.Second
	stressAssetFunds  = 500   // deposited on the asset's liquidity account, which pays fee legs
	stressFunds       = 1_000 // funded() deposits this on each account
)

type stressKind uint8

const (
	sTransfer stressKind = iota + 1
	sWithdraw
	sDeposit
	sPost  // Post of a transfer
	sVoid  // Void of a transfer
	sPostW // PostWithdrawal
	sVoidW // VoidWithdrawal
	sRead  // Balance, SettlementBalance, TotalsSent, AccountTransfers
)

func (k stressKind) String() string {
	return [...]string{"?", "Transfer", "Withdraw", "Deposit", "Post", "Void", "PostWithdrawal", "VoidWithdrawal", "read"}[k]
}

func (k stressKind) isCreate() bool { return k == sTransfer || k == sWithdraw || k == sDeposit }
func (k stressKind) isSettle() bool { return k >= sPost && k <= sVoidW }
func (k stressKind) posts() bool    { return k == sPost || k == sPostW }

// stressCreate is a create request as the test issued it (every retry
// reissues it unchanged), and the legs it must write.
type stressCreate struct {
	kind     stressKind
	transfer ledger.TransferRequest
	withdraw ledger.Withdrawal
	deposit  ledger.Deposit
	timeout  time.Duration
	legs     []stressLeg
}

type stressLeg struct {
	id, debit, credit uuid.UUID
	amount            uint64
	code              ledger.TransferType
}

func (c *stressCreate) pendingTransfer() ledger.PendingTransfer {
	p := ledger.PendingTransfer{ID: c.transfer.ID}
	for _, l := range c.legs {
		p.Legs = append(p.Legs, l.id)
	}
	return p
}

// stressReq names a request: a create, or a settle of a create's id.
type stressReq struct {
	kind stressKind
	id   uuid.UUID
}

// stressAnswer is one call and what it answered.
type stressAnswer struct {
	stressReq
	ledger     int  // 0: the Ledger closed midway; 1: the other
	short      bool // the caller gave up after 0.2–5 ms
	final      bool // a retry after the load, of a request whose caller gave up
	invalid    bool // an answer the operation may not give (reported)
	start, end time.Time
	err        error
}

func (a stressAnswer) String() string {
	tag := ""
	if a.final {
		tag = " (final retry)"
	}
	return fmt.Sprintf("%s %s on ledger %d [%s..%s]%s: %v", a.kind, a.id, a.ledger,
		a.start.Format("15:04:05.000000"), a.end.Format("15:04:05.000000"), tag, a.err)
}

type stressRun struct {
	t       *testing.T
	ledgers [2]*Ledger
	closing atomic.Bool // set just before ledgers[0].Close
	stop    atomic.Bool
	peers   []ledger.Account
	asset   ledger.Account // the asset's liquidity account

	mu         sync.Mutex
	creates    map[uuid.UUID]*stressCreate
	history    []stressReq // every create and settle issued, for retries
	settleable []uuid.UUID // transfers and withdrawals issued
	answers    []stressAnswer
	failures   map[string]int // by format: see errorf
}

// errorf reports a failure; of the failures of one kind (one format), only
// the first few are reported, and the count at the end.
func (s *stressRun) errorf(format string, args ...any) {
	s.mu.Lock()
	s.failures[format]++
	n := s.failures[format]
	s.mu.Unlock()
	if n <= 3 {
		s.t.Errorf(format, args...)
	}
}

func (s *stressRun) reportFailures() {
	for format, n := range s.failures {
		if n > 3 {
			s.t.Errorf("%d failures in all of the kind %q", n, format)
		}
	}
}

// countingHandler counts a Ledger's log records by level and message, so
// that the test can say how often batches were refused or rerun.
type countingHandler struct {
	mu     *sync.Mutex
	counts map[string]int
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	key := r.Level.String() + " " + r.Message
	if r.Level >= slog.LevelError {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				key += ": " + a.Value.String()
			}
			return true
		})
	}
	h.mu.Lock()
	h.counts[key]++
	h.mu.Unlock()
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// TestStress runs about 150 callers for several seconds against two
// Ledgers on one database (as two processes), with ~30 funded accounts on
// one asset, a few of them hot, and random operations through the public
// API: transfers (with and without a fee leg on the asset's liquidity
// account; timeouts 0, 50–200 ms, 0.2–2 s, 30–60 s), posts and voids,
// withdrawals (posted at once or pending), their posts and voids, deposits,
// reads, and retries of earlier requests with the same ids. A fifth of the
// callers give up after 0.2–5 ms. The first Ledger closes halfway, with
// calls in flight; the other keeps going. Another goroutine runs Check
// throughout.
//
// What it asserts, during the load:
//   - every call answers: a patient caller (10 s deadline) never gets a
//     context error, and no call is still running 30 s after the load;
//   - every error is one the operation may give (ledger errors from
//     ledger/errors.go: Transfer: ErrTransferExists, ErrInsufficientBalance,
//     ErrInsufficientLiquidity; Withdraw: ErrTransferExists,
//     ErrInsufficientBalance; Deposit: ErrTransferExists; settles:
//     ErrAlreadyPosted, ErrAlreadyVoided, ErrTransferExpired,
//     ErrUnknownTransfer; reads: none), a context error for a caller that
//     gave up, or ErrClosed from the closed Ledger once Close has begun;
//     never anything else (no errInvariant, Postgres error, ...);
//   - a created transfer's PendingTransfer names the legs LegID derives;
//   - Check finds nothing, at any time.
//
// After the load it waits until the sweep has expired every short-lived
// transfer, retries on the open Ledger every request whose caller gave up,
// one group (id) at a time, and asserts each answer against the stored
// state read just before it:
//   - a create whose transfer exists answers ErrTransferExists; one that
//     does not exist is applied or refused on its money (or answers
//     ErrTransferExists if a batch still in flight applied it meanwhile);
//   - a settle answers ErrAlreadyPosted on a posted transfer,
//     ErrAlreadyVoided on a voided one, ErrTransferExpired on an expired
//     one, ErrUnknownTransfer on a missing one, and succeeds on one pending
//     and far from its expiry (near it, it may answer ErrTransferExpired).
//
// It then waits for the sweep again and checks every id against every
// answer it got and the final rows:
//   - a create is applied at most once: at most one caller got nil; the
//     rows exist if one did, and then hold the legs the request implies
//     (accounts, amounts, code, timeout), all in one state; rows exist only
//     if some caller got nil or gave up (so ErrClosed and refusals applied
//     nothing); ErrTransferExists means the rows exist; once a caller has
//     seen the transfer exist, every later call answers ErrTransferExists;
//   - a transfer is settled at most once: at most one settle got nil, and
//     it matches the final state (POSTED for a post, VOIDED for a void)
//     and started before the expiry; ErrAlreadyPosted/ErrAlreadyVoided
//     match the final state; ErrTransferExpired came after the expiry and
//     the transfer is expired; ErrUnknownTransfer never follows an answer
//     that showed the transfer; a POSTED (VOIDED) two-phase transfer was
//     posted (voided) by a caller that got nil or gave up; a transfer
//     posted at once stays POSTED; one still PENDING has not expired;
//   - no transfer is stored that the test did not ask for;
//   - Check finds nothing and wantTotalsMatchTransfers passes;
//   - every account's Balance answers (a negative one fails as an
//     invariant) and equals the one the test computes from its own
//     requests and the final states; TotalsSent and TotalsReceived too;
//   - conservation: the settlement balance is what was deposited minus
//     what was withdrawn and posted, and equals the sum of the liquidity
//     accounts' balances plus their pending debits.
func TestStress(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test: seconds of load")
	}
	began := time.Now()
	ctx := context.Background()
	first := openLedger(t)
	// The second process: its own pool, and a sweep every 50 ms.
	logs := countingHandler{mu: &sync.Mutex{}, counts: map[string]int{}}
	other := testkit.Pool(t, first.pool.Config().ConnString())
	second, err := New(ctx, other, Options{SweepInterval: 50 * time.Millisecond, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Close)

	peers := funded(t, first, stressAccounts)
	asset := ledger.Account{ID: peers[0].AssetID, Type: ledger.Asset, AssetID: peers[0].AssetID, Ledger: 1}
	if err := first.Deposit(ctx, ledger.Deposit{ID: uuid.New(), Account: asset, Amount: stressAssetFunds}); err != nil {
		t.Fatal(err)
	}
	s := &stressRun{t: t, ledgers: [2]*Ledger{first, second}, peers: peers, asset: asset, creates: map[uuid.UUID]*stressCreate{}, failures: map[string]int{}}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d; setup took %s", seed, time.Since(began).Round(time.Millisecond))

	// Check, throughout the load.
	checks := make(chan struct{})
	var checked atomic.Int64
	go func() {
		defer close(checks)
		for !s.stop.Load() {
			cctx, cancel := context.WithTimeout(ctx, stressPatient)
			imb, err := second.Check(cctx)
			cancel()
			if err != nil || len(imb) > 0 {
				s.errorf("Check during the load = %v, %v", imb, err)
			}
			checked.Add(1)
			time.Sleep(200 * time.Millisecond)
		}
	}()

	// The callers. Each says what it is calling, so that a stuck one can
	// be named.
	var wg sync.WaitGroup
	current := make([]atomic.Pointer[string], stressWorkers)
	loadStart := time.Now()
	for i := range stressWorkers {
		wg.Go(func() { s.worker(rand.New(rand.NewPCG(seed, uint64(i))), &current[i]) })
	}
	time.Sleep(stressLoad / 2)
	// Close the first Ledger with calls in flight.
	s.closing.Store(true)
	closed := make(chan struct{})
	go func() { first.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(stressStuck):
		t.Fatalf("Close of the first Ledger did not return in %s", stressStuck)
	}
	t.Logf("first Ledger closed after %s of load", time.Since(loadStart).Round(time.Millisecond))
	time.Sleep(stressLoad - time.Since(loadStart))
	s.stop.Store(true)
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(stressStuck):
		var stuck []string
		for i := range current {
			if p := current[i].Load(); p != nil {
				stuck = append(stuck, *p)
			}
		}
		t.Fatalf("%d calls still unanswered %s after the load: %s", len(stuck), stressStuck, strings.Join(stuck, "; "))
	}
	<-checks
	t.Logf("load: %d calls in %s, %d Checks", len(s.answers), time.Since(loadStart).Round(time.Millisecond), checked.Load())

	s.waitSwept(ctx)
	s.retryGaveUp(ctx)
	s.waitSwept(ctx)
	s.checkAnswers(ctx)
	s.checkBalances(ctx)
	wantTotalsMatchTransfers(t, second)
	if imb, err := first.Check(ctx); err != nil || len(imb) > 0 {
		t.Errorf("Check on the closed Ledger = %v, %v", imb, err)
	}
	s.logStats(logs)
	s.reportFailures()
	t.Logf("took %s", time.Since(began).Round(time.Millisecond))
}

// pick chooses an account: a hot one often.
func (s *stressRun) pick(r *rand.Rand) ledger.Account {
	if r.IntN(100) < stressHotPct {
		return s.peers[r.IntN(stressHot)]
	}
	return s.peers[r.IntN(len(s.peers))]
}

func stressTimeout(r *rand.Rand) time.Duration {
	switch n := r.IntN(100); {
	case n < 25:
		return 0
	case n < 55:
		return time.Duration(50+r.IntN(151)) * time.Millisecond // expire during the load
	case n < 70:
		return time.Duration(200+r.IntN(1801)) * time.Millisecond
	default:
		return stressLongTimeout + time.Duration(r.IntN(30_001))*time.Millisecond // up to a minute
	}
}

// recent picks an index of a list, most often among its last entries.
func recent(r *rand.Rand, n int) int {
	if r.IntN(5) == 0 {
		return r.IntN(n)
	}
	return n - 1 - r.IntN(min(n, 200))
}

// newCreate builds a new transfer, withdrawal or deposit.
func (s *stressRun) newCreate(r *rand.Rand, k stressKind) *stressCreate {
	id := uuid.New()
	c := &stressCreate{kind: k}
	switch k {
	case sTransfer:
		src, dst := s.pick(r), s.pick(r)
		for dst.ID == src.ID {
			dst = s.pick(r)
		}
		amount := 1 + r.Uint64N(100)
		var dAmount uint64
		switch n := r.IntN(100); {
		case n < 35: // the same amount, implicitly
		case n < 50:
			dAmount = amount
		case n < 75: // the source pays a fee to the asset's account
			if amount > 1 {
				dAmount = amount - 1 - r.Uint64N(min(amount-1, 10))
			}
		default: // the asset's account pays the difference, and runs dry
			dAmount = amount + 1 + r.Uint64N(30)
		}
		c.timeout = stressTimeout(r)
		c.transfer = ledger.TransferRequest{ID: id, Source: src, Destination: dst, SourceAmount: amount,
			DestinationAmount: dAmount, Timeout: c.timeout}
		// The legs, as ledger.TransferRequest documents them.
		d := dAmount
		if d == 0 {
			d = amount
		}
		c.legs = []stressLeg{{id: LegID(id, 0), debit: src.ID, credit: dst.ID, amount: min(amount, d), code: ledger.TypeTransfer}}
		if amount > d {
			c.legs = append(c.legs, stressLeg{id: LegID(id, 1), debit: src.ID, credit: s.asset.ID, amount: amount - d, code: ledger.TypeTransfer})
		} else if d > amount {
			c.legs = append(c.legs, stressLeg{id: LegID(id, 1), debit: s.asset.ID, credit: dst.ID, amount: d - amount, code: ledger.TypeTransfer})
		}
	case sWithdraw:
		a := s.pick(r)
		if r.IntN(20) == 0 {
			a = s.asset
		}
		if r.IntN(5) > 1 {
			c.timeout = stressTimeout(r)
		}
		c.withdraw = ledger.Withdrawal{ID: id, Account: a, Amount: 1 + r.Uint64N(100), Timeout: c.timeout}
		c.legs = []stressLeg{{id: id, debit: a.ID, credit: ledger.SettlementID(1), amount: c.withdraw.Amount, code: ledger.TypeWithdrawal}}
	case sDeposit:
		a := s.pick(r)
		if r.IntN(10) == 0 {
			a = s.asset
		}
		c.deposit = ledger.Deposit{ID: id, Account: a, Amount: 1 + r.Uint64N(100)}
		c.legs = []stressLeg{{id: id, debit: ledger.SettlementID(1), credit: a.ID, amount: c.deposit.Amount, code: ledger.TypeDeposit}}
	}
	return c
}

func (s *stressRun) worker(r *rand.Rand, current *atomic.Pointer[string]) {
	var mine []stressAnswer
	defer func() {
		s.mu.Lock()
		s.answers = append(s.answers, mine...)
		s.mu.Unlock()
	}()
	for !s.stop.Load() {
		var req stressReq
		n := r.IntN(100)
		s.mu.Lock()
		switch {
		case n < 30 || len(s.settleable) == 0:
			req.kind = sTransfer
		case n < 40:
			req.kind = sWithdraw
		case n < 52:
			req.kind = sDeposit
		case n < 78:
			req.id = s.settleable[recent(r, len(s.settleable))]
			post := r.IntN(100) < 55
			switch {
			case s.creates[req.id].kind == sTransfer && post:
				req.kind = sPost
			case s.creates[req.id].kind == sTransfer:
				req.kind = sVoid
			case post:
				req.kind = sPostW
			default:
				req.kind = sVoidW
			}
		case n < 96:
			req = s.history[recent(r, len(s.history))] // a retry
		default:
			req.kind = sRead
		}
		if req.kind.isCreate() && req.id == uuid.Nil {
			c := s.newCreate(r, req.kind)
			req.id = c.legsID()
			s.creates[req.id] = c
			if req.kind != sDeposit {
				s.settleable = append(s.settleable, req.id)
			}
		}
		if req.kind != sRead {
			s.history = append(s.history, req)
		}
		s.mu.Unlock()

		li := r.IntN(2)
		if s.closing.Load() && r.IntN(10) > 0 {
			li = 1 // mostly the open one, and the closed one now and then
		}
		short := r.IntN(100) < stressShortPct
		timeout := stressPatient
		if short {
			timeout = time.Duration(200+r.IntN(4_801)) * time.Microsecond
		}
		desc := fmt.Sprintf("%s %s on ledger %d since %s", req.kind, req.id, li, time.Now().Format("15:04:05.000"))
		current.Store(&desc)
		a := s.call(r, req, li, short, timeout)
		current.Store(nil)
		s.judge(&a)
		mine = append(mine, a)
	}
}

func (c *stressCreate) legsID() uuid.UUID {
	switch c.kind {
	case sTransfer:
		return c.transfer.ID
	case sWithdraw:
		return c.withdraw.ID
	}
	return c.deposit.ID
}

// call makes one call and records its answer.
func (s *stressRun) call(r *rand.Rand, req stressReq, li int, short bool, timeout time.Duration) stressAnswer {
	l := s.ledgers[li]
	var c *stressCreate
	if req.kind != sRead {
		s.mu.Lock()
		c = s.creates[req.id]
		s.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	a := stressAnswer{stressReq: req, ledger: li, short: short, start: time.Now()}
	switch req.kind {
	case sTransfer:
		var p ledger.PendingTransfer
		p, a.err = l.Transfer(ctx, c.transfer)
		if want := c.pendingTransfer(); a.err == nil && !(p.ID == want.ID && slices.Equal(p.Legs, want.Legs)) {
			s.errorf("Transfer %s returned %v, want %v", req.id, p, want)
		}
	case sWithdraw:
		a.err = l.Withdraw(ctx, c.withdraw)
	case sDeposit:
		a.err = l.Deposit(ctx, c.deposit)
	case sPost:
		a.err = l.Post(ctx, c.pendingTransfer())
	case sVoid:
		a.err = l.Void(ctx, c.pendingTransfer())
	case sPostW:
		a.err = l.PostWithdrawal(ctx, req.id)
	case sVoidW:
		a.err = l.VoidWithdrawal(ctx, req.id)
	case sRead:
		switch r.IntN(4) {
		case 0:
			_, a.err = l.Balance(ctx, s.pick(r).ID)
		case 1:
			_, a.err = l.SettlementBalance(ctx, 1)
		case 2:
			ids := []uuid.UUID{s.asset.ID}
			for _, p := range s.peers {
				ids = append(ids, p.ID)
			}
			_, a.err = l.TotalsSent(ctx, ids)
		default:
			_, a.err = l.AccountTransfers(ctx, s.pick(r).ID, 5)
		}
	}
	a.end = time.Now()
	return a
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// judge checks that an answer is one its operation may give, and marks it
// invalid (reported, and left out of the checks after the load) if not.
func (s *stressRun) judge(a *stressAnswer) {
	err := a.err
	switch {
	case err == nil:
		return
	case isCtxErr(err):
		if !a.short {
			a.invalid = true
			s.errorf("no answer in %s (a hang): %s", stressPatient, a)
		}
		return
	case errors.Is(err, ErrClosed):
		if a.ledger != 0 || !s.closing.Load() {
			a.invalid = true
			s.errorf("ErrClosed from a Ledger not closing: %s", a)
		}
		return
	}
	var allowed []error
	switch a.kind {
	case sTransfer:
		allowed = []error{ledger.ErrTransferExists, ledger.ErrInsufficientBalance, ledger.ErrInsufficientLiquidity}
	case sWithdraw:
		allowed = []error{ledger.ErrTransferExists, ledger.ErrInsufficientBalance}
	case sDeposit:
		allowed = []error{ledger.ErrTransferExists}
	case sPost, sVoid, sPostW, sVoidW:
		allowed = []error{ledger.ErrAlreadyPosted, ledger.ErrAlreadyVoided, ledger.ErrTransferExpired, ledger.ErrUnknownTransfer}
	}
	for _, e := range allowed {
		if err == e { // unwrapped: exactly the ledger's error
			return
		}
	}
	a.invalid = true
	s.errorf("answer no %s may give: %s", a.kind, a)
}

// waitSwept waits until no short-lived transfer is pending in the table:
// all have expired, and the open Ledger's sweep has voided them.
func (s *stressRun) waitSwept(ctx context.Context) {
	s.t.Helper()
	start := time.Now()
	var pending int
	for time.Since(start) < 15*time.Second {
		if err := s.ledgers[1].pool.QueryRow(ctx, `SELECT count(*) FROM ledger_transfers WHERE state = 'PENDING' AND timeout_ms < $1`,
			stressLongTimeout.Milliseconds()).Scan(&pending); err != nil {
			s.t.Fatal(err)
		}
		if pending == 0 {
			s.t.Logf("short-lived transfers swept after %s", time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%d short-lived transfers still pending after 15 s: is the sweep running?", pending)
}

// stressRow is a stored transfer.
type stressRow struct {
	group, debit, credit uuid.UUID
	amount               uint64
	ledger               uint32
	code                 ledger.TransferType
	state                string
	timeoutMs            int64
	expiresAt            *time.Time
}

func (s *stressRun) rows(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]stressRow, time.Time) {
	s.t.Helper()
	q := `SELECT id, group_id, debit_account_id, credit_account_id, amount, ledger, code, state, timeout_ms, expires_at, now()
FROM ledger_transfers`
	var args []any
	if ids != nil {
		q += ` WHERE id = ANY($1::uuid[])`
		args = append(args, raws(ids))
	}
	rows, err := s.ledgers[1].pool.Query(ctx, q, args...)
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[uuid.UUID]stressRow{}
	var now time.Time
	for rows.Next() {
		var id uuid.UUID
		var r stressRow
		if err := rows.Scan(raw(&id), raw(&r.group), raw(&r.debit), raw(&r.credit), &r.amount, &r.ledger, &r.code,
			&r.state, &r.timeoutMs, &r.expiresAt, &now); err != nil {
			s.t.Fatal(err)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	if now.IsZero() {
		if err := s.ledgers[1].pool.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			s.t.Fatal(err)
		}
	}
	return out, now
}

// stressState is a create's stored state: all its legs, in one state.
type stressState struct {
	exists    bool
	state     string // PENDING, POSTED, VOIDED, EXPIRED
	expiresAt time.Time
	expired   bool // EXPIRED, or PENDING past its expiry (reads as voided)
}

func (s *stressRun) stateOf(c *stressCreate, rows map[uuid.UUID]stressRow, now time.Time) stressState {
	var st stressState
	found := 0
	for i, l := range c.legs {
		r, ok := rows[l.id]
		if !ok {
			continue
		}
		found++
		want := stressRow{group: c.legsID(), debit: l.debit, credit: l.credit, amount: l.amount, ledger: 1, code: l.code,
			state: r.state, timeoutMs: c.timeout.Milliseconds(), expiresAt: r.expiresAt}
		if r != want {
			s.errorf("%s %s leg %d stored as %+v, want %+v", c.kind, c.legsID(), i, r, want)
		}
		if (c.timeout == 0) != (r.expiresAt == nil) {
			s.errorf("%s %s leg %d: timeout %s, expiry %v", c.kind, c.legsID(), i, c.timeout, r.expiresAt)
		}
		if i == 0 {
			st.state = r.state
			if r.expiresAt != nil {
				st.expiresAt = *r.expiresAt
			}
		} else if r.state != st.state {
			s.errorf("%s %s: legs in states %s and %s", c.kind, c.legsID(), st.state, r.state)
		}
	}
	if found > 0 && found != len(c.legs) {
		s.errorf("%s %s: %d of its %d legs stored", c.kind, c.legsID(), found, len(c.legs))
	}
	st.exists = found > 0
	st.expired = st.state == stateExpired || (st.state == statePending && !now.Before(st.expiresAt))
	return st
}

// retryGaveUp retries, on the open Ledger, every request whose caller gave
// up, and checks each answer against the state stored just before it.
// Requests on one id go one after the other (the create first); ids go
// side by side.
func (s *stressRun) retryGaveUp(ctx context.Context) {
	s.t.Helper()
	byID := map[uuid.UUID][]stressReq{}
	seen := map[stressReq]bool{}
	for _, a := range s.answers {
		if isCtxErr(a.err) && a.kind != sRead && !seen[a.stressReq] {
			seen[a.stressReq] = true
			byID[a.id] = append(byID[a.id], a.stressReq)
		}
	}
	ids := make(chan []stressReq)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var outcomes = map[string]int{}
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(1, 2))
			for reqs := range ids {
				sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].kind.isCreate() && !reqs[j].kind.isCreate() })
				for _, req := range reqs {
					a := s.retry(ctx, r, req)
					mu.Lock()
					s.answers = append(s.answers, a)
					outcomes[fmt.Sprintf("%s: %v", req.kind, a.err)]++
					mu.Unlock()
				}
			}
		})
	}
	for _, reqs := range byID {
		ids <- reqs
	}
	close(ids)
	wg.Wait()
	s.t.Logf("final retries of %d requests whose callers gave up (%s): %v", len(seen), time.Since(start).Round(time.Millisecond), outcomes)
}

func (s *stressRun) retry(ctx context.Context, r *rand.Rand, req stressReq) stressAnswer {
	c := s.creates[req.id]
	ids := make([]uuid.UUID, len(c.legs))
	for i, l := range c.legs {
		ids[i] = l.id
	}
	rows, _ := s.rows(ctx, ids)
	before := s.stateOf(c, rows, time.Now())
	a := s.call(r, req, 1, false, stressPatient)
	a.final = true
	s.judge(&a)
	if a.invalid {
		return a
	}
	err := a.err
	if req.kind.isCreate() {
		switch {
		case before.exists && err != ledger.ErrTransferExists:
			s.errorf("retry of a create that exists: %s, want %v", a, ledger.ErrTransferExists)
		case !before.exists && err != nil && err != ledger.ErrTransferExists &&
			err != ledger.ErrInsufficientBalance && err != ledger.ErrInsufficientLiquidity:
			s.errorf("retry of a create that does not exist: %s, want it applied or refused on its money", a)
		}
		return a
	}
	var want []error
	switch {
	case !before.exists:
		want = []error{ledger.ErrUnknownTransfer}
		if after, _ := s.rows(ctx, ids); len(after) > 0 {
			return a // created meanwhile by a batch still in flight: checkAnswers judges it
		}
	case before.state == statePosted:
		want = []error{ledger.ErrAlreadyPosted}
	case before.state == stateVoided:
		want = []error{ledger.ErrAlreadyVoided}
	case before.expired:
		want = []error{ledger.ErrTransferExpired}
	case before.state == statePending:
		// Pending and not expired: the retry settles it, unless a batch
		// still in flight settled it meanwhile, or it expired since.
		want = []error{nil, ledger.ErrAlreadyPosted, ledger.ErrAlreadyVoided}
		if before.expiresAt.Sub(time.Now()) < time.Second {
			want = append(want, ledger.ErrTransferExpired)
		}
	}
	if !slices.Contains(want, err) {
		s.errorf("retry of a settle of a transfer stored as %+v: %s, want one of %v", before, a, want)
	}
	return a
}

// checkAnswers checks every id against every answer it got and the final
// rows (see TestStress).
func (s *stressRun) checkAnswers(ctx context.Context) {
	s.t.Helper()
	rows, now := s.rows(ctx, nil)
	byID := map[uuid.UUID][]stressAnswer{}
	for _, a := range s.answers {
		if a.kind != sRead && !a.invalid {
			byID[a.id] = append(byID[a.id], a)
		}
	}
	legs := 0
	states := map[string]int{}
	for id, c := range s.creates {
		st := s.stateOf(c, rows, now)
		if st.exists {
			legs += len(c.legs)
			states[c.kind.String()+" "+st.state]++
		} else {
			states[c.kind.String()+" not stored"]++
		}
		var creates, settles []stressAnswer
		for _, a := range byID[id] {
			if a.kind.isCreate() {
				creates = append(creates, a)
			} else {
				settles = append(settles, a)
			}
		}
		s.checkCreate(c, st, creates)
		s.checkSettles(c, st, creates, settles, now)
	}
	// Every stored transfer is one the test asked for, or funded()'s.
	if want := legs + stressAccounts + 1; len(rows) != want {
		s.errorf("%d transfers stored, want %d (%d legs of the test's requests, %d deposits of the setup)", len(rows), want, legs, stressAccounts+1)
	}
	s.t.Logf("final states: %v", states)
}

func (s *stressRun) checkCreate(c *stressCreate, st stressState, answers []stressAnswer) {
	var nils, gaveUp int
	for _, a := range answers {
		switch {
		case a.err == nil:
			nils++
		case isCtxErr(a.err):
			gaveUp++
		case a.err == ledger.ErrTransferExists && !st.exists:
			s.errorf("%s answered although nothing is stored", a)
		}
	}
	switch {
	case nils > 1:
		s.errorf("%s %s applied %d times: %v", c.kind, c.legsID(), nils, answers)
	case nils == 1 && !st.exists:
		s.errorf("%s %s answered nil but is not stored: %v", c.kind, c.legsID(), answers)
	case st.exists && nils == 0 && gaveUp == 0:
		s.errorf("%s %s stored, but no caller got nil or gave up: %v", c.kind, c.legsID(), answers)
	}
	if st.exists && c.timeout == 0 && st.state != statePosted {
		s.errorf("%s %s without timeout stored %s", c.kind, c.legsID(), st.state)
	}
	// Once a caller saw it exist, a later call finds it.
	for _, b := range answers {
		if b.err != nil && b.err != ledger.ErrTransferExists {
			continue
		}
		for _, a := range answers {
			if a.start.After(b.end) && a.err != ledger.ErrTransferExists && !isCtxErr(a.err) && !errors.Is(a.err, ErrClosed) {
				s.errorf("%s after %s", a, b)
			}
		}
	}
}

func (s *stressRun) checkSettles(c *stressCreate, st stressState, creates, settles []stressAnswer, now time.Time) {
	var nils []stressAnswer
	var postGaveUp, voidGaveUp bool
	// shown: answers that showed the transfer exists.
	var shown []stressAnswer
	for _, a := range creates {
		if a.err == nil || a.err == ledger.ErrTransferExists {
			shown = append(shown, a)
		}
	}
	for _, a := range settles {
		switch {
		case a.err == nil, a.err == ledger.ErrAlreadyPosted, a.err == ledger.ErrAlreadyVoided, a.err == ledger.ErrTransferExpired:
			shown = append(shown, a)
		}
	}
	for _, a := range settles {
		switch err := a.err; {
		case err == nil:
			nils = append(nils, a)
			want := stateVoided
			if a.kind.posts() {
				want = statePosted
			}
			if st.state != want || c.timeout == 0 {
				s.errorf("%s, but %s with timeout %s is stored %s", a, c.kind, c.timeout, st.state)
			}
			if !a.start.Before(st.expiresAt.Add(stressSlack)) {
				s.errorf("%s, though it started after the expiry %s", a, st.expiresAt.Format("15:04:05.000000"))
			}
		case err == ledger.ErrAlreadyPosted && st.state != statePosted,
			err == ledger.ErrAlreadyVoided && st.state != stateVoided:
			s.errorf("%s, but it is stored %s; its settles: %v", a, st.state, settles)
		case err == ledger.ErrTransferExpired:
			if !st.expired || c.timeout == 0 {
				s.errorf("%s, but it is stored %s, expiring %s; its settles: %v", a, st.state, st.expiresAt.Format("15:04:05.000000"), settles)
			} else if a.end.Before(st.expiresAt.Add(-stressSlack)) {
				s.errorf("%s, before its expiry %s", a, st.expiresAt.Format("15:04:05.000000"))
			}
		case err == ledger.ErrUnknownTransfer:
			for _, b := range shown {
				if b.end.Before(a.start) {
					s.errorf("%s after %s", a, b)
					break
				}
			}
		case isCtxErr(err):
			if a.kind.posts() {
				postGaveUp = true
			} else {
				voidGaveUp = true
			}
		}
	}
	if len(nils) > 1 {
		s.errorf("%s %s settled %d times: %v", c.kind, c.legsID(), len(nils), nils)
	}
	if !st.exists || c.timeout == 0 {
		return
	}
	switch st.state {
	case statePosted:
		if len(nils) == 0 && !postGaveUp {
			s.errorf("%s %s stored POSTED, but no post got nil or gave up: %v", c.kind, c.legsID(), settles)
		}
	case stateVoided:
		if len(nils) == 0 && !voidGaveUp {
			s.errorf("%s %s stored VOIDED, but no void got nil or gave up: %v", c.kind, c.legsID(), settles)
		}
	case stateExpired:
		if now.Before(st.expiresAt) {
			s.errorf("%s %s stored EXPIRED before its expiry %s", c.kind, c.legsID(), st.expiresAt)
		}
	case statePending:
		if st.expired && c.timeout < stressLongTimeout {
			s.errorf("%s %s with timeout %s still pending after the sweep", c.kind, c.legsID(), c.timeout)
		}
	default:
		s.errorf("%s %s stored in state %q", c.kind, c.legsID(), st.state)
	}
}

// checkBalances computes every account's totals from the test's requests
// and the final states, and compares them with what the Ledger answers.
func (s *stressRun) checkBalances(ctx context.Context) {
	s.t.Helper()
	l := s.ledgers[1]
	rows, now := s.rows(ctx, nil)
	settlement := ledger.SettlementID(1)
	type sums struct{ debitsPosted, debitsPending, creditsPosted uint64 }
	model := map[uuid.UUID]*sums{settlement: {debitsPosted: stressAccounts*stressFunds + stressAssetFunds}, s.asset.ID: {creditsPosted: stressAssetFunds}}
	for _, p := range s.peers {
		model[p.ID] = &sums{creditsPosted: stressFunds}
	}
	var pendingDebits uint64
	for _, c := range s.creates {
		st := s.stateOf(c, rows, now)
		if !st.exists || st.expired {
			continue
		}
		for _, lg := range c.legs {
			switch st.state {
			case statePosted:
				model[lg.debit].debitsPosted += lg.amount
				model[lg.credit].creditsPosted += lg.amount
			case statePending:
				model[lg.debit].debitsPending += lg.amount
				pendingDebits += lg.amount
			}
		}
	}
	liquidity := []uuid.UUID{s.asset.ID}
	for _, p := range s.peers {
		liquidity = append(liquidity, p.ID)
	}
	var sum uint64
	for _, id := range liquidity {
		m := model[id]
		got, err := l.Balance(ctx, id)
		want := m.creditsPosted - m.debitsPosted - m.debitsPending
		if err != nil || got != want || m.debitsPosted+m.debitsPending > m.creditsPosted {
			s.errorf("Balance(%s) = %d, %v; want %d (the test's model: %+v)", id, got, err, want, *m)
		}
		sum += got
	}
	m := model[settlement]
	got, err := l.SettlementBalance(ctx, 1)
	if want := m.debitsPosted - m.creditsPosted; err != nil || got != want {
		s.errorf("SettlementBalance = %d, %v; want %d deposited minus withdrawn", got, err, want)
	}
	// Conservation: what the settlement account holds is what the
	// liquidity accounts hold, their pending debits included.
	if sum+pendingDebits != got {
		s.errorf("liquidity balances %d + pending debits %d != settlement balance %d", sum, pendingDebits, got)
	}
	all := append(liquidity, settlement)
	sent, err := l.TotalsSent(ctx, all)
	if err != nil {
		s.t.Fatal(err)
	}
	received, err := l.TotalsReceived(ctx, all)
	if err != nil {
		s.t.Fatal(err)
	}
	for i, id := range all {
		if sent[i] != model[id].debitsPosted || received[i] != model[id].creditsPosted {
			s.errorf("account %s sent %d, received %d; want %d, %d", id, sent[i], received[i], model[id].debitsPosted, model[id].creditsPosted)
		}
	}
	// The rows themselves: no liquidity account owes, the settlement
	// account never takes back more than was deposited.
	var owing int
	if err := l.pool.QueryRow(ctx, `SELECT count(*) FROM ledger_accounts
WHERE (code <> 101 AND debits_posted + debits_pending > credits_posted)
   OR (code = 101 AND credits_posted + credits_pending > debits_posted)`).Scan(&owing); err != nil || owing > 0 {
		s.errorf("%d accounts over their limits, %v", owing, err)
	}
	s.t.Logf("settlement balance %d = liquidity balances %d + pending debits %d", got, sum, pendingDebits)
}

func (s *stressRun) logStats(logs countingHandler) {
	counts := map[string]int{}
	for _, a := range s.answers {
		e := "ok"
		switch {
		case a.err == nil:
		case isCtxErr(a.err):
			e = "gave up"
		default:
			e = a.err.Error()
		}
		counts[fmt.Sprintf("%s/%s", a.kind, e)]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %6d %s", counts[k], k)
	}
	s.t.Logf("answers:%s", b.String())
	logs.mu.Lock()
	defer logs.mu.Unlock()
	s.t.Logf("second Ledger's log: %v", logs.counts)
}

// TestPostWaitingPastExpiry: a batch decides as of the time it holds its
// locks, not the time its transaction began. Here a post of a pending
// transfer x (all of src's money) waits, in a batch that began before x
// expired, for the lock on an account of another request of its batch
// (aW, held by another process); x expires; a Void of x answers
// ErrTransferExpired and a transfer spends src's released money; then the
// waiting batch must find x expired too, or src would send twice what it
// held.
func TestPostWaitingPastExpiry(t *testing.T) {
	ctx := context.Background()
	l0 := openLedger(t)
	l0.Close()
	l, err := New(ctx, l0.pool, Options{SweepInterval: time.Hour}) // no sweep: it would expire x in the table
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	a := funded(t, l, 4)
	// aW sorts first, so the batch that posts x waits for it before it
	// locks x's accounts.
	slices.SortFunc(a, func(x, y ledger.Account) int { return bytes.Compare(x.ID[:], y.ID[:]) })
	aW, src, dst, other := a[0], a[1], a[2], a[3]

	const timeout = 300 * time.Millisecond
	x, err := l.Transfer(ctx, ledger.TransferRequest{ID: uuid.New(), Source: src, Destination: dst, SourceAmount: stressFunds, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now()

	// Another process holds aW.
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, `SELECT 1 FROM ledger_accounts WHERE id = $1 FOR NO KEY UPDATE`, raw(&aW.ID)); err != nil {
		t.Fatal(err)
	}
	// A batch, before x expires: a withdrawal from aW and the post of x.
	posted := runAsync(ctx, l, withdrawOp(uuid.New(), aW, 1, 0), &operation{kind: kindPost, ids: x.Legs, group: x.ID})
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := l.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the batch does not wait for aW")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if time.Since(created) >= timeout {
		t.Skip("the batch began after the expiry: too slow a machine for this case")
	}
	time.Sleep(timeout - time.Since(created) + 50*time.Millisecond)

	// x has expired: a Void is told so, and src may spend its money.
	if err := l.Void(ctx, x); !errors.Is(err, ledger.ErrTransferExpired) {
		t.Fatalf("Void after the expiry = %v, want %v", err, ledger.ErrTransferExpired)
	}
	if _, err := l.Transfer(ctx, ledger.TransferRequest{ID: uuid.New(), Source: src, Destination: other, SourceAmount: stressFunds}); err != nil {
		t.Fatalf("Transfer of the money x released: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-posted
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("withdrawal from aW: %v; post of x, after a Void was told it expired: %v", r.errs[0], r.errs[1])
	if !errors.Is(r.errs[1], ledger.ErrTransferExpired) {
		t.Errorf("post of x after it expired = %v, want %v", r.errs[1], ledger.ErrTransferExpired)
	}
	sent, _ := l.TotalSent(ctx, src.ID)
	bal, err := l.Balance(ctx, src.ID)
	t.Logf("src: sent %d of the %d it held; Balance = %d, %v", sent, stressFunds, bal, err)
	if err != nil || sent > stressFunds {
		t.Errorf("src overdrawn: sent %d of %d; Balance = %d, %v", sent, stressFunds, bal, err)
	}
	imb, err := l.Check(ctx)
	t.Logf("Check = %v, %v (it does not look at the accounts' limits)", imb, err)
}
