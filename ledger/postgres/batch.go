package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

// request is one caller waiting for its operation's outcome.
type request struct {
	ctx  context.Context
	op   *operation
	done chan error // buffered, so a worker never waits for a caller
	// accounts are those the request's batch will lock, as far as this
	// Ledger knows (see schedule.go); skipped counts the batches that left
	// without it because a batch in flight held one of them.
	accounts []uuid.UUID
	skipped  int
	arrived  time.Time // when the collector took it
}

// submit queues an operation and waits for its outcome. When ctx ends
// first the operation may still be applied; its ids make a retry safe (it
// fails as existing, already posted or already voided).
func (l *Ledger) submit(ctx context.Context, op *operation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-l.closing:
		return ErrClosed
	default:
	}
	r := &request{ctx: ctx, op: op, done: make(chan error, 1), accounts: l.legs.accountsOf(op)}
	select {
	case l.queue <- r:
	case <-l.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-l.stopped:
		// Queued just as Close drained the queue: nobody will run it.
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// apply runs one batch and answers each caller with its own outcome.
func (l *Ledger) apply(batch []*request) {
	live := make([]*request, 0, len(batch))
	ops := make([]*operation, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // the caller has gone: do not apply it
			continue
		}
		live = append(live, r)
		ops = append(ops, r.op)
	}
	if len(live) == 0 {
		return
	}
	errs := l.answerEach(l.ctx, ops, l.run)
	l.legs.remember(ops, errs)
	for i, r := range live {
		r.done <- errs[i]
	}
}

// run decides and writes a batch in one transaction, again when it lost a
// race with another transaction. It returns each operation's outcome.
//
// A first attempt takes two shortcuts that a rerun drops. It does not look
// up whether its new transfer ids exist: the insert finds out, failing the
// batch as a unique violation; a create refused on its balance, which
// inserts nothing, has its ids looked up before it is answered
// (existingRefused). Reused ids are rare (a caller's retry), so this
// spares a lookup per new transfer in nearly every batch. And it locks
// the accounts of the transfers it settles as this Ledger remembers them
// from their creation, when it remembers them all (legAccounts), with a
// simpler statement than the one that finds them in the table.
//
// Either way, a transfer the batch reads to settle may have an account the
// batch did not lock: remembered wrong, or committed by another process
// while the lock statement waited (that statement did not see it; the next
// one does). The batch leaves the operations on such transfers undecided
// (errLegsNotLocked) and runs them again, on their own, with the accounts
// found in the table, which now shows those transfers.
func (l *Ledger) run(ctx context.Context, ops []*operation) ([]error, error) {
	errs, err := l.runAttempts(ctx, ops, attempt{})
	for round := 1; err == nil && round <= legsRoundsMax; round++ {
		var again []int
		for i, e := range errs {
			if errors.Is(e, errLegsNotLocked) {
				again = append(again, i)
			}
		}
		if len(again) == 0 {
			break
		}
		l.log.Debug("settled transfers' accounts were not locked; running their operations again", "operations", len(again))
		sub := make([]*operation, len(again))
		for j, i := range again {
			sub[j] = ops[i]
		}
		subErrs := l.answerEach(ctx, sub, func(ctx context.Context, ops []*operation) ([]error, error) {
			return l.runAttempts(ctx, ops, attempt{lockFromTable: true})
		})
		for j, i := range again {
			errs[i] = subErrs[j]
		}
	}
	return errs, err
}

// answerEach runs ops as one batch with run and answers each. When the
// batch fails in a way one operation can cause, it runs them one at a
// time, so that only the one at fault fails.
func (l *Ledger) answerEach(ctx context.Context, ops []*operation, run func(context.Context, []*operation) ([]error, error)) []error {
	errs, err := run(ctx, ops)
	if err == nil {
		return errs
	}
	errs = make([]error, len(ops))
	if len(ops) > 1 && isolatable(err) {
		l.log.Warn("batch refused; applying its requests one at a time", "requests", len(ops), "err", err)
		for i, op := range ops {
			one, err := run(ctx, []*operation{op})
			if err != nil {
				l.log.Error("request failed", "err", err)
				errs[i] = err
			} else {
				errs[i] = one[0]
			}
		}
		return errs
	}
	l.log.Error("batch failed", "requests", len(ops), "err", err)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// isolatable is a batch's failure that one of its operations can cause:
// Postgres refused a statement, or an operation met a state the ledger
// never writes (a corrupt row).
func isolatable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) || errors.Is(err, errInvariant)
}

// runAttempts runs a batch, again after a race lost or a reused id.
func (l *Ledger) runAttempts(ctx context.Context, ops []*operation, a attempt) ([]error, error) {
	var err error
	for n := 1; n <= batchAttemptsMax; n++ {
		var errs []error
		errs, err = l.runOnce(ctx, ops, a)
		if err == nil {
			return errs, nil
		}
		if !retryable(err) {
			return nil, err
		}
		l.log.Debug("batch lost a race or reused an id; running it again", "attempt", n, "err", err)
		a.checkExisting = true
	}
	return nil, err
}

// attempt is how a batch reads: see Ledger.run.
type attempt struct {
	checkExisting bool // look up whether new transfer ids exist
	lockFromTable bool // find settled transfers' accounts in the table
}

// retryable is a new transfer id that exists (inserted before, or by a
// transaction that won a race: same id, other accounts, so other locks),
// or a deadlock or serialization failure, which the lock order should rule
// out.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "23505", "40P01", "40001": // unique_violation, deadlock_detected, serialization_failure
		return true
	}
	return false
}

func (l *Ledger) runOnce(ctx context.Context, ops []*operation, a attempt) ([]error, error) {
	ctx, cancel := context.WithTimeout(ctx, batchTimeoutMs*time.Millisecond)
	defer cancel()
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: acquire connection: %w", err)
	}
	defer func() {
		// The pool closes a connection returned inside a transaction; a
		// rollback keeps it.
		if conn.Conn().PgConn().TxStatus() != 'I' {
			rollbackCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, _ = conn.Exec(rollbackCtx, "ROLLBACK")
		}
		conn.Release()
	}()
	snap, err := l.lock(ctx, conn.Conn(), ops, a)
	if err != nil {
		return nil, err
	}
	l.known.add(snap)
	s, errs, err := decideAll(snap, nil, false, ops)
	if err != nil {
		return nil, err
	}
	if s.short {
		expired, complete, readErr := readExpired(ctx, conn.Conn(), snap.now)
		if readErr != nil {
			return nil, readErr
		}
		if !complete {
			l.log.Warn("more expired transfers than a batch reads; is the sweep running?", "read", len(expired))
		}
		if s, errs, err = decideAll(snap, expired, complete, ops); err != nil {
			return nil, err
		}
	}
	if !a.checkExisting {
		if err := existingRefused(ctx, conn.Conn(), ops, errs); err != nil {
			return nil, err
		}
	}
	if err := s.assertRows(); err != nil {
		return nil, err
	}
	if err := write(ctx, conn.Conn(), s); err != nil {
		return nil, err
	}
	return errs, nil
}
