package postgres

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/ledger"
)

// A batch transaction takes two round trips. The first begins, reads the
// transaction's time, locks the accounts the batch touches (in id order, in
// one statement, so that no two transactions wait for each other in a
// cycle), and then reads what decisions need. The second writes each
// changed row once and commits. A third, between them, looks up expired
// transfers only when a balance check fails on an account with pending
// amounts (see batchState.short).
//
// Transfers are not locked: their state changes only in a batch holding
// both their accounts, so a transfer read after its accounts are locked
// stays as read until the batch commits. Each statement after the lock
// sees every transaction that held the locks before.

// lockedAccountIDs are the accounts a batch locks: those of its new legs
// ($1) and those of the transfers it settles ($2). A transfer's accounts
// never change, so reading them needs no lock.
const lockedAccountIDs = `$1::uuid[] || ARRAY(
	SELECT debit_account_id FROM ledger_transfers WHERE id = ANY($2::uuid[])
	UNION ALL
	SELECT credit_account_id FROM ledger_transfers WHERE id = ANY($2::uuid[]))`

const (
	sqlTransfers = `
SELECT id, group_id, debit_account_id, credit_account_id, amount, ledger, code,
       state, timeout_ms, created_at, expires_at
FROM ledger_transfers WHERE id = ANY($1::uuid[])`

	sqlLockAccounts = `
SELECT id, ledger, code, flags, debits_pending, debits_posted, credits_pending, credits_posted
FROM ledger_accounts WHERE id = ANY(` + lockedAccountIDs + `)
ORDER BY id FOR NO KEY UPDATE`

	// Accounts that must exist but that no leg touches (Rafiki checks a
	// transfer's asset accounts): accounts are never deleted, so no lock.
	sqlKnownAccounts = `SELECT id, ledger FROM ledger_accounts WHERE id = ANY($1::uuid[])`

	sqlExistingTransfers = `SELECT id FROM ledger_transfers WHERE id = ANY($1::uuid[])`

	// Pending transfers whose timeout has passed but which the sweep has
	// not voided: few, since the sweep runs every second or so. The order
	// makes this an index scan of the partial index, which also marks the
	// entries of settled transfers dead for the next scan.
	sqlExpiredTransfers = `
SELECT id, group_id, debit_account_id, credit_account_id, amount, ledger, code,
       state, timeout_ms, created_at, expires_at
FROM ledger_transfers WHERE state = 'PENDING' AND expires_at <= now()
ORDER BY expires_at LIMIT $1`

	sqlInsertTransfers = `
INSERT INTO ledger_transfers (id, group_id, debit_account_id, credit_account_id, amount, ledger,
                              code, state, timeout_ms, created_at, expires_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::bigint[],
                     $7::integer[], $8::text[], $9::bigint[], $10::timestamptz[], $11::timestamptz[])`

	sqlUpdateTransfers = `
UPDATE ledger_transfers t SET state = u.state
FROM unnest($1::uuid[], $2::text[]) AS u(id, state)
WHERE t.id = u.id`

	sqlUpdateAccounts = `
UPDATE ledger_accounts a
SET debits_pending = u.debits_pending, debits_posted = u.debits_posted,
    credits_pending = u.credits_pending, credits_posted = u.credits_posted
FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
     AS u(id, debits_pending, debits_posted, credits_pending, credits_posted)
WHERE a.id = u.id`
)

// lock is the first round trip: it begins the transaction and reads, under
// the locks, what the batch decides against.
func lock(ctx context.Context, conn *pgx.Conn, ops []*operation) (*snapshot, error) {
	legAccounts, knownAccounts, newIDs, settleIDs := batchIDs(ops)
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	// Array parameters make Postgres plan every execution afresh; the
	// generic plans (index scans by id) are the right ones anyway.
	b.Queue("SET LOCAL plan_cache_mode = force_generic_plan")
	b.Queue("SELECT now()")
	b.Queue(sqlLockAccounts, raws(legAccounts), raws(settleIDs))
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
	snap, err := readLock(br, len(settleIDs) > 0, len(knownAccounts) > 0, len(newIDs) > 0)
	if closeErr := br.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("ledger/postgres: lock: %w", closeErr)
	}
	return snap, err
}

func readLock(br pgx.BatchResults, settles, known, creates bool) (*snapshot, error) {
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return nil, fmt.Errorf("ledger/postgres: begin: %w", err)
		}
	}
	snap := &snapshot{known: map[uuid.UUID]uint32{}, existing: map[uuid.UUID]bool{}}
	if err := br.QueryRow().Scan(&snap.now); err != nil {
		return nil, fmt.Errorf("ledger/postgres: now: %w", err)
	}
	var err error
	if snap.accounts, err = scanAccounts(br.Query()); err != nil {
		return nil, fmt.Errorf("ledger/postgres: lock accounts: %w", err)
	}
	if settles {
		if snap.transfers, err = scanTransfers(br.Query()); err != nil {
			return nil, fmt.Errorf("ledger/postgres: transfers: %w", err)
		}
	}
	if known {
		if err := scanKnown(br, snap.known); err != nil {
			return nil, fmt.Errorf("ledger/postgres: accounts: %w", err)
		}
	}
	if creates {
		if err := scanExisting(br, snap.existing); err != nil {
			return nil, fmt.Errorf("ledger/postgres: existing transfers: %w", err)
		}
	}
	return snap, nil
}

// readExpired reads the expired pending transfers not yet swept, at most
// expiredScanMax; complete is false when there were more. Decisions then
// count the rest as pending: they may refuse what they could allow, never
// the reverse.
func readExpired(ctx context.Context, conn *pgx.Conn) (expired []transfer, complete bool, err error) {
	expired, err = scanTransfers(conn.Query(ctx, sqlExpiredTransfers, expiredScanMax+1))
	if err != nil {
		return nil, false, fmt.Errorf("ledger/postgres: expired transfers: %w", err)
	}
	if len(expired) > expiredScanMax {
		return expired[:expiredScanMax], false, nil
	}
	return expired, true, nil
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
		err := row.Scan(raw(&a.id), &a.ledger, &a.code, &a.flags,
			&a.debitsPending, &a.debitsPosted, &a.creditsPending, &a.creditsPosted)
		return a, err
	})
}

func scanKnown(br pgx.BatchResults, known map[uuid.UUID]uint32) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			id     uuid.UUID
			number uint32
		)
		if err := rows.Scan(raw(&id), &number); err != nil {
			rows.Close()
			return err
		}
		known[id] = number
	}
	return rows.Err()
}

func scanExisting(br pgx.BatchResults, existing map[uuid.UUID]bool) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(raw(&id)); err != nil {
			rows.Close()
			return err
		}
		existing[id] = true
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
// the settled ones and the changed accounts, each row once, and commits.
func write(ctx context.Context, conn *pgx.Conn, s *batchState, log *slog.Logger) error {
	b := &pgx.Batch{}
	inserts, updates := queueTransfers(b, s)
	accounts := queueAccounts(b, s)
	if inserts+updates+accounts == 0 {
		b.Queue("ROLLBACK") // nothing to keep: skip the commit's fsync
	} else {
		b.Queue("COMMIT")
	}
	br := conn.SendBatch(ctx, b)
	counts := []int{inserts, updates, accounts}
	for i, want := range counts {
		if want == 0 {
			continue
		}
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return fmt.Errorf("ledger/postgres: write: %w", err)
		}
		if int(tag.RowsAffected()) != want {
			// Every row was locked or is new: Postgres and the batch
			// disagree. The commit is on its way; say so loudly.
			log.Error("ledger/postgres: batch wrote an unexpected number of rows",
				"statement", i, "want", want, "got", tag.RowsAffected())
		}
	}
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return fmt.Errorf("ledger/postgres: commit: %w", err)
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("ledger/postgres: write: %w", err)
	}
	return nil
}

// queueTransfers queues the insert of the batch's new transfers, in id
// order (two processes inserting the same ids wait on each other in one
// order, never in a cycle), and the state update of the settled ones.
func queueTransfers(b *pgx.Batch, s *batchState) (inserts, updates int) {
	var created, settled []*transfer
	for _, t := range s.transfers {
		switch {
		case t.created:
			created = append(created, t)
		case t.dirty:
			settled = append(settled, t)
		}
	}
	slices.SortFunc(created, func(a, b *transfer) int { return bytes.Compare(a.id[:], b.id[:]) })
	if len(created) > 0 {
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
		b.Queue(sqlInsertTransfers, ids, groups, debits, credits, amounts, ledgers,
			codes, states, timeouts, createdAts, expiresAts)
	}
	if len(settled) > 0 {
		ids, states := make([][16]byte, len(settled)), make([]string, len(settled))
		for i, t := range settled {
			ids[i], states[i] = t.id, t.state
		}
		b.Queue(sqlUpdateTransfers, ids, states)
	}
	return len(created), len(settled)
}

func queueAccounts(b *pgx.Batch, s *batchState) int {
	var ids [][16]byte
	var debitsPending, debitsPosted, creditsPending, creditsPosted []int64
	for _, a := range s.accounts {
		if !a.dirty {
			continue
		}
		ids = append(ids, a.id)
		debitsPending = append(debitsPending, int64(a.debitsPending))
		debitsPosted = append(debitsPosted, int64(a.debitsPosted))
		creditsPending = append(creditsPending, int64(a.creditsPending))
		creditsPosted = append(creditsPosted, int64(a.creditsPosted))
	}
	if len(ids) > 0 {
		b.Queue(sqlUpdateAccounts, ids, debitsPending, debitsPosted, creditsPending, creditsPosted)
	}
	return len(ids)
}

// transferState is how a stored state reads: an expired transfer, swept or
// not, reads as voided.
func transferState(state string, expiresAt *time.Time, now time.Time) ledger.TransferState {
	switch {
	case state == stateExpired:
		return ledger.Voided
	case state == statePending && expiresAt != nil && !now.Before(*expiresAt):
		return ledger.Voided
	}
	return ledger.TransferState(state)
}
