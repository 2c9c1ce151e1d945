package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/ledger"
)

// A batch transaction takes two round trips. The first begins, locks the
// accounts the batch touches (in id order, in one statement, so that no
// two transactions wait for each other in a cycle), and then reads the
// time the batch decides as of and what decisions need. The second writes each
// changed row once, in one statement, and commits. Decisions are made in
// Go (decide.go), which also checks every row before it is written
// (assertRows): the tables hold no CHECKs, whose per-statement cost was a
// tenth of a batch's. Between them, rarely, come lookups of the expired
// transfers, when a balance check fails on an account with pending amounts
// (see batchState.short), and of the ids of creates refused on their money
// (existingRefused).
//
// Transfers are not locked: their state changes only in a batch holding
// both their accounts, so a transfer read after its accounts are locked
// stays as read until the batch commits. Each statement after the lock
// sees every transaction that held the locks before.

// Ids go in as arrays and are joined with unnest: "id = ANY($1)" scans a
// small table and compares each row with the whole array.
// totalsText selects an account's four totals. They are numeric(39,0) (128
// bits, migration 0009) and travel as text, which u128.U128 reads and
// writes without the big integers pgx makes of numerics.
const totalsText = `a.debits_pending::text, a.debits_posted::text, a.credits_pending::text, a.credits_posted::text`

const (
	// sqlLockAccounts locks the accounts of the batch's new legs ($1) and
	// of the transfers it settles ($2). A transfer's accounts never
	// change, so reading them needs no lock.
	sqlLockAccounts = `
SELECT a.id, a.ledger, a.flags, ` + totalsText + `
FROM ledger_accounts a
JOIN (SELECT unnest($1::uuid[]) AS id
      UNION
      SELECT t.debit_account_id FROM unnest($2::uuid[]) AS s (id) JOIN ledger_transfers t ON t.id = s.id
      UNION
      SELECT t.credit_account_id FROM unnest($2::uuid[]) AS s (id) JOIN ledger_transfers t ON t.id = s.id) k
  ON a.id = k.id
ORDER BY a.id
FOR NO KEY UPDATE OF a`

	// sqlLockListedAccounts locks the accounts listed, when the batch
	// knows those of the transfers it settles.
	sqlLockListedAccounts = `
SELECT a.id, a.ledger, a.flags, ` + totalsText + `
FROM unnest($1::uuid[]) AS k (id) JOIN ledger_accounts a ON a.id = k.id
ORDER BY a.id
FOR NO KEY UPDATE OF a`

	sqlTransfers = `
SELECT t.id, t.group_id, t.debit_account_id, t.credit_account_id, t.amount, t.ledger, t.code,
       t.state, t.timeout_ms, t.created_at, t.expires_at
FROM unnest($1::uuid[]) AS s (id) JOIN ledger_transfers t ON t.id = s.id`

	// Accounts that must exist but that no leg touches (Rafiki checks a
	// transfer's asset accounts): accounts are never deleted, so no lock.
	sqlKnownAccounts = `
SELECT a.id FROM unnest($1::uuid[]) AS k (id) JOIN ledger_accounts a ON a.id = k.id`

	// sqlOpenAccounts creates the liquidity accounts a batch's operations
	// open (in id order, so that two batches opening the same accounts
	// wait for each other in one order), and sqlOtherAccounts then finds
	// those that existed as other accounts: the next statement's snapshot
	// holds every account the insert found made.
	sqlOpenAccounts = `
INSERT INTO ledger_accounts (id, ledger, code, flags, asset_id)
SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::integer[], $4::integer[], $5::uuid[])
ON CONFLICT (id) DO NOTHING`
	sqlOtherAccounts = `
SELECT a.id
FROM unnest($1::uuid[], $2::bigint[], $3::integer[], $4::integer[], $5::uuid[]) AS w (id, ledger, code, flags, asset_id)
JOIN ledger_accounts a ON a.id = w.id
WHERE (a.ledger, a.code, a.flags, a.asset_id) IS DISTINCT FROM (w.ledger, w.code, w.flags, w.asset_id)`

	sqlExistingTransfers = `
SELECT t.id FROM unnest($1::uuid[]) AS k (id) JOIN ledger_transfers t ON t.id = k.id`

	// Pending transfers whose timeout has passed but which the sweep has
	// not voided: few, since the sweep runs every second or so. The order
	// makes this an index scan of the partial index, which also marks the
	// entries of settled transfers dead for the next scan.
	sqlExpiredTransfers = `
SELECT id, group_id, debit_account_id, credit_account_id, amount, ledger, code,
       state, timeout_ms, created_at, expires_at
FROM ledger_transfers WHERE state = 'PENDING' AND expires_at <= $2
ORDER BY expires_at LIMIT $1`

	// sqlWrite is the batch's one write statement: it inserts the new
	// transfers ($1–$11), sets the state of the settled ones ($12, $13) and
	// the totals of the changed accounts ($14–$18). The updates touch rows
	// the batch read under its locks: each must change exactly one row per
	// id, or the transaction fails uncommitted. A transfer the batch both
	// creates and settles is inserted in its final state, so no row is
	// written twice.
	sqlWrite = `
WITH inserted AS (
    INSERT INTO ledger_transfers (id, group_id, debit_account_id, credit_account_id, amount, ledger,
                                  code, state, timeout_ms, created_at, expires_at)
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::bigint[],
                         $7::integer[], $8::text[], $9::bigint[], $10::timestamptz[], $11::timestamptz[])
    RETURNING 1),
settled AS (
    UPDATE ledger_transfers t SET state = u.state
    FROM unnest($12::uuid[], $13::text[]) AS u (id, state)
    WHERE t.id = u.id
    RETURNING 1),
changed AS (
    UPDATE ledger_accounts a
    SET debits_pending = u.debits_pending::numeric, debits_posted = u.debits_posted::numeric,
        credits_pending = u.credits_pending::numeric, credits_posted = u.credits_posted::numeric
    FROM unnest($14::uuid[], $15::text[], $16::text[], $17::text[], $18::text[])
         AS u (id, debits_pending, debits_posted, credits_pending, credits_posted)
    WHERE a.id = u.id
    RETURNING 1)
SELECT ledger_expect('inserted transfers', (SELECT count(*) FROM inserted), cardinality($1::uuid[])),
       ledger_expect('updated transfers', (SELECT count(*) FROM settled), cardinality($12::uuid[])),
       ledger_expect('updated accounts', (SELECT count(*) FROM changed), cardinality($14::uuid[]))`
)

// errLegsNotLocked answers, within a batch, an operation on a transfer
// whose accounts the batch did not lock (see Ledger.run), which runs again.
var errLegsNotLocked = errors.New("ledger/postgres: a settled transfer's accounts are not locked")

// lock is the first round trip: it begins the transaction and reads, under
// the locks, what the batch decides against. Accounts that must exist are
// looked up only when this Ledger has not seen them yet.
func (l *Ledger) lock(ctx context.Context, conn *pgx.Conn, ops []*operation, a attempt) (*snapshot, error) {
	legAccounts, knownAccounts, newIDs, settleIDs := batchIDs(ops)
	snapKnown := map[uuid.UUID]bool{}
	knownAccounts = l.known.filter(knownAccounts, snapKnown)
	if !a.checkExisting {
		newIDs = nil
	}
	listed := false
	if !a.lockFromTable {
		legAccounts, listed = l.legs.addAccounts(legAccounts, settleIDs)
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	// Every statement of a batch looks rows up by id. Pin that plan: with
	// array parameters Postgres would plan each execution afresh, and on
	// a small table (or one without statistics) it prefers scanning it,
	// which costs more than it thinks where updates leave dead versions.
	b.Queue("SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true)")
	opens := batchOpens(ops)
	if len(opens) > 0 {
		args := newAccountArgs(opens)
		b.Queue(sqlOpenAccounts, args...)
		b.Queue(sqlOtherAccounts, args...)
	}
	if listed {
		b.Queue(sqlLockListedAccounts, raws(legAccounts))
	} else {
		b.Queue(sqlLockAccounts, raws(legAccounts), raws(settleIDs))
	}
	// The batch decides as of now, with its locks held, not as of its
	// start (now()): a batch that waited for a lock while a transfer
	// expired must see it expired, as the batches before it that voided
	// it or spent the money it held did.
	b.Queue("SELECT clock_timestamp()")
	if len(settleIDs) > 0 {
		b.Queue(sqlTransfers, raws(settleIDs))
	}
	if len(knownAccounts) > 0 {
		b.Queue(sqlKnownAccounts, raws(knownAccounts))
	}
	if len(newIDs) > 0 {
		b.Queue(sqlExistingTransfers, raws(newIDs))
	}
	br := conn.SendBatch(ctx, b)
	snap, err := readLock(br, snapKnown, opens, len(settleIDs) > 0, len(knownAccounts) > 0, len(newIDs) > 0)
	if closeErr := br.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("ledger/postgres: lock: %w", closeErr)
	}
	if err == nil {
		snap.setAsideUnlocked()
	}
	return snap, err
}

// setAsideUnlocked moves the transfers read to settle whose accounts the
// batch did not both lock out of the snapshot, into unlocked: operations
// on them are not decided in this batch.
func (snap *snapshot) setAsideUnlocked() {
	locked := make(map[uuid.UUID]bool, len(snap.accounts))
	for _, a := range snap.accounts {
		locked[a.id] = true
	}
	kept := snap.transfers[:0]
	for _, t := range snap.transfers {
		if locked[t.debit] && locked[t.credit] {
			kept = append(kept, t)
			continue
		}
		if snap.unlocked == nil {
			snap.unlocked = map[uuid.UUID]bool{}
		}
		snap.unlocked[t.id] = true
	}
	snap.transfers = kept
}

func readLock(br pgx.BatchResults, known map[uuid.UUID]bool, opens []accountRow, settles, lookUpKnown, creates bool) (*snapshot, error) {
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("ledger/postgres: begin: %w", err)
	}
	snap := &snapshot{known: known, existing: map[uuid.UUID]bool{}}
	if err := br.QueryRow().Scan(nil, nil); err != nil {
		return nil, fmt.Errorf("ledger/postgres: plan settings: %w", err)
	}
	if len(opens) > 0 {
		if _, err := br.Exec(); err != nil {
			return nil, fmt.Errorf("ledger/postgres: open accounts: %w", err)
		}
		snap.opened, snap.others = make(map[uuid.UUID]bool, len(opens)), map[uuid.UUID]bool{}
		for _, a := range opens {
			snap.opened[a.id] = true
		}
		if err := scanIDs(br, snap.others); err != nil {
			return nil, fmt.Errorf("ledger/postgres: opened accounts: %w", err)
		}
	}
	var err error
	if snap.accounts, err = scanAccounts(br.Query()); err != nil {
		return nil, fmt.Errorf("ledger/postgres: lock accounts: %w", err)
	}
	if err := br.QueryRow().Scan(&snap.now); err != nil {
		return nil, fmt.Errorf("ledger/postgres: now: %w", err)
	}
	if settles {
		if snap.transfers, err = scanTransfers(br.Query()); err != nil {
			return nil, fmt.Errorf("ledger/postgres: transfers: %w", err)
		}
	}
	if lookUpKnown {
		if err := scanIDs(br, snap.known); err != nil {
			return nil, fmt.Errorf("ledger/postgres: accounts: %w", err)
		}
	}
	if creates {
		if err := scanIDs(br, snap.existing); err != nil {
			return nil, fmt.Errorf("ledger/postgres: existing transfers: %w", err)
		}
	}
	return snap, nil
}

// existingRefused answers as existing the creates that were refused on
// their balance or amounts but whose ids exist: a retried request is
// recognised before its money is checked, as when the ids are looked up
// first. The refusals before that check (unknown accounts, different
// assets) stand. Refused creates changed nothing, so no decision moves.
func existingRefused(ctx context.Context, conn *pgx.Conn, ops []*operation, errs []error) error {
	var ids []uuid.UUID
	for i, op := range ops {
		if op.kind == kindCreate && refusedAfterExistenceCheck(errs[i]) {
			for _, l := range op.legs {
				ids = append(ids, l.id)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	existing := map[uuid.UUID]bool{}
	rows, err := conn.Query(ctx, sqlExistingTransfers, raws(ids))
	if err == nil {
		err = scanRowIDs(rows, existing)
	}
	if err != nil {
		return fmt.Errorf("ledger/postgres: refused transfers: %w", err)
	}
	for i, op := range ops {
		if op.kind != kindCreate || !refusedAfterExistenceCheck(errs[i]) {
			continue
		}
		for _, l := range op.legs {
			if existing[l.id] {
				errs[i] = ledger.ErrTransferExists
				break
			}
		}
	}
	return nil
}

func refusedAfterExistenceCheck(err error) bool {
	return err != nil &&
		!errors.Is(err, ledger.ErrUnknownSourceAccount) &&
		!errors.Is(err, ledger.ErrUnknownDestinationAccount) &&
		!errors.Is(err, ledger.ErrDifferentAssets) &&
		!errors.Is(err, ledger.ErrTransferExists)
}

// readExpired reads the expired pending transfers not yet swept, at most
// expiredScanMax; complete is false when there were more. Decisions then
// count the rest as pending: they may refuse what they could allow, never
// the reverse.
func readExpired(ctx context.Context, conn *pgx.Conn, now time.Time) (expired []transfer, complete bool, err error) {
	expired, err = scanTransfers(conn.Query(ctx, sqlExpiredTransfers, expiredScanMax+1, now))
	if err != nil {
		return nil, false, fmt.Errorf("ledger/postgres: expired transfers: %w", err)
	}
	if len(expired) > expiredScanMax {
		return expired[:expiredScanMax], false, nil
	}
	return expired, true, nil
}

// batchOpens lists the accounts a batch's operations open, once each, in
// id order.
func batchOpens(ops []*operation) []accountRow {
	var opens []accountRow
	seen := map[uuid.UUID]bool{}
	for _, op := range ops {
		for _, a := range op.opens {
			if !seen[a.id] {
				seen[a.id] = true
				opens = append(opens, a)
			}
		}
	}
	slices.SortFunc(opens, func(a, b accountRow) int { return bytes.Compare(a.id[:], b.id[:]) })
	return opens
}

// batchIDs lists the ids a batch reads and locks.
func batchIDs(ops []*operation) (legAccounts, knownAccounts, newIDs, settleIDs []uuid.UUID) {
	legAccounts, knownAccounts, newIDs, settleIDs = []uuid.UUID{}, []uuid.UUID{}, []uuid.UUID{}, []uuid.UUID{}
	seen := map[uuid.UUID]bool{}
	for _, op := range ops {
		for _, l := range op.legs {
			for _, id := range []uuid.UUID{l.debit, l.credit} {
				if !seen[id] {
					seen[id] = true
					legAccounts = append(legAccounts, id)
				}
			}
			newIDs = append(newIDs, l.id)
		}
		settleIDs = append(settleIDs, op.ids...)
	}
	for _, op := range ops {
		for _, ids := range [][]uuid.UUID{op.sourceIDs, op.destinationIDs} {
			for _, id := range ids {
				if !seen[id] {
					seen[id] = true
					knownAccounts = append(knownAccounts, id)
				}
			}
		}
	}
	return legAccounts, knownAccounts, newIDs, settleIDs
}

func scanTransfers(rows pgx.Rows, err error) ([]transfer, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (transfer, error) {
		var (
			t         transfer
			timeoutMs int64
			expiresAt *time.Time
		)
		err := row.Scan(raw(&t.id), raw(&t.group), raw(&t.debit), raw(&t.credit), &t.amount, &t.ledger, &t.code,
			&t.state, &timeoutMs, &t.createdAt, &expiresAt)
		t.timeout = time.Duration(timeoutMs) * time.Millisecond
		if expiresAt != nil {
			t.expiresAt = *expiresAt
		}
		return t, err
	})
}

func scanAccounts(rows pgx.Rows, err error) ([]account, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (account, error) {
		var a account
		err := row.Scan(raw(&a.id), &a.ledger, &a.flags,
			&a.debitsPending, &a.debitsPosted, &a.creditsPending, &a.creditsPosted)
		return a, err
	})
}

// scanIDs adds the ids a query returns to a set.
func scanIDs(br pgx.BatchResults, set map[uuid.UUID]bool) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	return scanRowIDs(rows, set)
}

func scanRowIDs(rows pgx.Rows, set map[uuid.UUID]bool) error {
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(raw(&id)); err != nil {
			rows.Close()
			return err
		}
		set[id] = true
	}
	return rows.Err()
}

// raw and raws hand pgx a UUID as its 16 bytes: uuid.UUID is a
// driver.Valuer and sql.Scanner, which pgx would go through as text.
func raw(id *uuid.UUID) *[16]byte { return (*[16]byte)(id) }

func raws(ids []uuid.UUID) [][16]byte {
	out := make([][16]byte, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// write is the second round trip: it inserts the new transfers, updates
// the settled ones and the changed accounts, each row once, in one
// statement, and commits.
func write(ctx context.Context, conn *pgx.Conn, s *batchState) error {
	b := &pgx.Batch{}
	created, settled := writtenTransfers(s)
	accounts := writtenAccounts(s)
	if len(created)+len(settled)+len(accounts) == 0 {
		b.Queue("ROLLBACK") // nothing to keep: skip the commit's fsync
	} else {
		args := append(append(createdArgs(created), settledArgs(settled)...), accountArgs(accounts)...)
		b.Queue(sqlWrite, args...)
		b.Queue("COMMIT")
	}
	// Close reads every result and returns the first error; after one,
	// Postgres skips the rest, the commit included.
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("ledger/postgres: write: %w", err)
	}
	return nil
}

// writtenTransfers lists the batch's new transfers, in id order (two
// processes inserting the same ids wait on each other in one order, never
// in a cycle), and the transfers it settled.
func writtenTransfers(s *batchState) (created, settled []*transfer) {
	for _, t := range s.transfers {
		switch {
		case t.created:
			created = append(created, t)
		case t.dirty:
			settled = append(settled, t)
		}
	}
	slices.SortFunc(created, func(a, b *transfer) int { return bytes.Compare(a.id[:], b.id[:]) })
	return created, settled
}

func writtenAccounts(s *batchState) []*account {
	var out []*account
	for _, a := range s.accounts {
		if a.dirty {
			out = append(out, a)
		}
	}
	return out
}

// createdArgs are sqlWrite's $1–$11.
func createdArgs(created []*transfer) []any {
	n := len(created)
	var (
		ids, groups, debits, credits = make([][16]byte, n), make([][16]byte, n), make([][16]byte, n), make([][16]byte, n)
		amounts, ledgers, timeouts   = make([]int64, n), make([]int64, n), make([]int64, n)
		codes                        = make([]int32, n)
		states                       = make([]string, n)
		createdAts                   = make([]time.Time, n)
		expiresAts                   = make([]*time.Time, n)
	)
	for i, t := range created {
		ids[i], groups[i], debits[i], credits[i] = t.id, t.group, t.debit, t.credit
		amounts[i], ledgers[i], timeouts[i] = int64(t.amount), int64(t.ledger), t.timeout.Milliseconds()
		codes[i], states[i], createdAts[i] = int32(t.code), t.state, t.createdAt
		if !t.expiresAt.IsZero() {
			expiresAts[i] = &t.expiresAt
		}
	}
	return []any{ids, groups, debits, credits, amounts, ledgers, codes, states, timeouts, createdAts, expiresAts}
}

// settledArgs are sqlWrite's $12 and $13.
func settledArgs(settled []*transfer) []any {
	ids, states := make([][16]byte, len(settled)), make([]string, len(settled))
	for i, t := range settled {
		ids[i], states[i] = t.id, t.state
	}
	return []any{ids, states}
}

// accountArgs are sqlWrite's $14–$18: totals in decimal (see totalsText).
func accountArgs(accounts []*account) []any {
	n := len(accounts)
	ids := make([][16]byte, n)
	debitsPending, debitsPosted := make([]string, n), make([]string, n)
	creditsPending, creditsPosted := make([]string, n), make([]string, n)
	for i, a := range accounts {
		ids[i] = a.id
		debitsPending[i], debitsPosted[i] = a.debitsPending.String(), a.debitsPosted.String()
		creditsPending[i], creditsPosted[i] = a.creditsPending.String(), a.creditsPosted.String()
	}
	return []any{ids, debitsPending, debitsPosted, creditsPending, creditsPosted}
}
