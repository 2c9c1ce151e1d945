package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/ledger/internal/u128"
)

// Reads take no locks: one statement sees one snapshot, in which account
// totals and transfer states agree. They tell expired transfers by the
// clock read once the snapshot is taken, (SELECT clock_timestamp()), not
// by now(), which is older: a batch reads its clock after taking its locks
// and before it commits, so a transfer any visible batch counted as
// expired is expired for the read too.

// balancesSelect reads account totals, and the pending debits of expired
// transfers not yet swept, which no longer count: read from the partial
// index of pending transfers (the order keeps it an index scan), and only
// for an account with pending debits. Totals and that sum come as text
// (see totalsText).
const balancesSelect = `
SELECT a.id, a.flags, ` + totalsText + `,
       (CASE WHEN a.debits_pending = 0 THEN 0 ELSE COALESCE((
           SELECT sum(e.amount) FROM (
               SELECT debit_account_id, amount FROM ledger_transfers
               WHERE state = 'PENDING' AND expires_at <= (SELECT clock_timestamp())
               ORDER BY expires_at LIMIT $2) e
           WHERE e.debit_account_id = a.id), 0) END)::text`

// sqlBalances reads the totals of the accounts $1 (an array), sqlBalance
// of the account $1. One account is the common read, and it has a
// statement of its own: Postgres plans a statement for every execution
// while its plan for any array length costs more than the plan for the
// array it is given, and planning this one costs about twice what running
// it does.
const (
	sqlBalances = balancesSelect + `
FROM unnest($1::uuid[]) AS k (id) JOIN ledger_accounts a ON a.id = k.id`
	sqlBalance = balancesSelect + `
FROM ledger_accounts a WHERE a.id = $1`
)

type totals struct {
	id             uuid.UUID
	flags          uint16
	debitsPending  u128.U128 // expired ones left out
	debitsPosted   u128.U128
	creditsPending u128.U128
	creditsPosted  u128.U128
}

// balance is TigerBeetle's, as Rafiki computes it: a settlement account's
// is what was deposited minus what was withdrawn, a liquidity account's
// what it may still send. Totals take 128 bits; a balance the ledger
// interface cannot carry is an error, as in the TigerBeetle adapter.
func (t totals) balance() (uint64, error) {
	var b u128.U128
	if t.flags&flagCreditsMustNotExceedDebits != 0 {
		net, ok := t.debitsPosted.Sub(t.creditsPosted)
		if !ok {
			return 0, fmt.Errorf("%w: settlement account %s credits exceed debits", errInvariant, t.id)
		}
		if b, ok = net.Add(t.debitsPending); !ok {
			return 0, fmt.Errorf("%w: settlement account %s debits overflow", errInvariant, t.id)
		}
	} else {
		used, ok := t.debitsPosted.Add(t.debitsPending)
		if ok {
			b, ok = t.creditsPosted.Sub(used)
		}
		if !ok {
			return 0, fmt.Errorf("%w: account %s debits exceed credits", errInvariant, t.id)
		}
	}
	v, ok := b.Uint64()
	if !ok {
		return 0, fmt.Errorf("ledger/postgres: account %s: balance %s exceeds 64 bits", t.id, b)
	}
	return v, nil
}

// sent is the account's posted debits, an error past 64 bits.
func (t totals) sent() (uint64, error) { return t.uint64("debits", t.debitsPosted) }

// received is the account's posted credits, an error past 64 bits.
func (t totals) received() (uint64, error) { return t.uint64("credits", t.creditsPosted) }

func (t totals) uint64(name string, v u128.U128) (uint64, error) {
	n, ok := v.Uint64()
	if !ok {
		return 0, fmt.Errorf("ledger/postgres: account %s: posted %s %s exceed 64 bits", t.id, name, v)
	}
	return n, nil
}

func (l *Ledger) totals(ctx context.Context, ids []uuid.UUID) ([]totals, error) {
	if len(ids) > accountsLookupMax {
		return nil, fmt.Errorf("ledger/postgres: %d accounts asked for, at most %d at once", len(ids), accountsLookupMax)
	}
	var rows pgx.Rows
	var err error
	if len(ids) == 1 {
		rows, err = l.pool.Query(ctx, sqlBalance, raw(&ids[0]), expiredScanMax)
	} else {
		rows, err = l.pool.Query(ctx, sqlBalances, raws(ids), expiredScanMax)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: balances: %w", err)
	}
	byID := make(map[uuid.UUID]totals, len(ids))
	for rows.Next() {
		var (
			t       totals
			expired u128.U128
			ok      bool
		)
		if err := rows.Scan(raw(&t.id), &t.flags, &t.debitsPending, &t.debitsPosted,
			&t.creditsPending, &t.creditsPosted, &expired); err != nil {
			rows.Close()
			return nil, fmt.Errorf("ledger/postgres: balances: %w", err)
		}
		if t.debitsPending, ok = t.debitsPending.Sub(expired); !ok {
			rows.Close()
			return nil, fmt.Errorf("%w: account %s expired debits exceed pending", errInvariant, t.id)
		}
		byID[t.id] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger/postgres: balances: %w", err)
	}
	out := make([]totals, len(ids))
	for i, id := range ids {
		t, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("%w: %s", ledger.ErrUnknownAccount, id)
		}
		out[i] = t
	}
	return out, nil
}

func (l *Ledger) one(ctx context.Context, id uuid.UUID) (totals, error) {
	t, err := l.totals(ctx, []uuid.UUID{id})
	if err != nil {
		return totals{}, err
	}
	return t[0], nil
}

// Balance is credits posted minus debits posted minus debits pending for a
// liquidity account (and the settlement formula for a settlement account).
func (l *Ledger) Balance(ctx context.Context, id uuid.UUID) (uint64, error) {
	t, err := l.one(ctx, id)
	if err != nil {
		return 0, err
	}
	return t.balance()
}

// SettlementBalance is debits posted minus credits posted plus debits
// pending of the ledger's settlement account (TigerBeetle's formula, as in
// Rafiki): pending withdrawals do not lower it until posted.
func (l *Ledger) SettlementBalance(ctx context.Context, ledgerNumber uint32) (uint64, error) {
	return l.Balance(ctx, ledger.SettlementID(ledgerNumber))
}

// TotalSent is an account's posted debits.
func (l *Ledger) TotalSent(ctx context.Context, id uuid.UUID) (uint64, error) {
	t, err := l.one(ctx, id)
	if err != nil {
		return 0, err
	}
	return t.sent()
}

// TotalReceived is an account's posted credits.
func (l *Ledger) TotalReceived(ctx context.Context, id uuid.UUID) (uint64, error) {
	t, err := l.one(ctx, id)
	if err != nil {
		return 0, err
	}
	return t.received()
}

// TotalsSent is TotalSent for many accounts, in order; an unknown one fails
// them all with ErrUnknownAccount.
func (l *Ledger) TotalsSent(ctx context.Context, ids []uuid.UUID) ([]uint64, error) {
	return l.pick(ctx, ids, totals.sent)
}

// TotalsReceived is TotalReceived for many accounts, in order.
func (l *Ledger) TotalsReceived(ctx context.Context, ids []uuid.UUID) ([]uint64, error) {
	return l.pick(ctx, ids, totals.received)
}

func (l *Ledger) pick(ctx context.Context, ids []uuid.UUID, field func(totals) (uint64, error)) ([]uint64, error) {
	if len(ids) == 0 {
		return []uint64{}, nil
	}
	ts, err := l.totals(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(ts))
	for i, t := range ts {
		if out[i], err = field(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sqlAccountTransfers lists one side of an account's transfers, newest
// first; %s is the side's column.
const sqlAccountTransfers = `
SELECT id, debit_account_id, credit_account_id, amount, ledger, code, state,
       timeout_ms, created_at, expires_at, (SELECT clock_timestamp())
FROM ledger_transfers WHERE %s = $1 ORDER BY seq DESC LIMIT $2`

// AccountTransfers lists up to limit debits and up to limit credits of an
// account, newest first: Rafiki's default of 20 when limit is 0 or less,
// and at most 1,000. An expired transfer reads as voided.
func (l *Ledger) AccountTransfers(ctx context.Context, id uuid.UUID, limit int) (ledger.AccountTransfers, error) {
	if limit <= 0 {
		limit = accountTransfersLimitDefault
	}
	limit = min(limit, accountTransfersLimitMax)
	b := &pgx.Batch{}
	b.Queue(fmt.Sprintf(sqlAccountTransfers, "debit_account_id"), [16]byte(id), limit)
	b.Queue(fmt.Sprintf(sqlAccountTransfers, "credit_account_id"), [16]byte(id), limit)
	br := l.pool.SendBatch(ctx, b)
	defer br.Close()
	var out ledger.AccountTransfers
	var err error
	if out.Debits, err = scanListed(br); err != nil {
		return ledger.AccountTransfers{}, fmt.Errorf("ledger/postgres: account debits: %w", err)
	}
	if out.Credits, err = scanListed(br); err != nil {
		return ledger.AccountTransfers{}, fmt.Errorf("ledger/postgres: account credits: %w", err)
	}
	return out, nil
}

func scanListed(br pgx.BatchResults) ([]ledger.Transfer, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ledger.Transfer, error) {
		var (
			t         ledger.Transfer
			state     string
			timeoutMs int64
			now       time.Time
		)
		err := row.Scan(raw(&t.ID), raw(&t.DebitAccountID), raw(&t.CreditAccountID), &t.Amount, &t.Ledger, &t.Type,
			&state, &timeoutMs, &t.CreatedAt, &t.ExpiresAt, &now)
		t.Timeout = time.Duration(timeoutMs) * time.Millisecond
		t.State = transferState(state, t.ExpiresAt, now)
		return t, err
	})
}

// Check sums every ledger's account totals: posted debits must equal
// posted credits, and pending debits pending credits. A ledger that fails
// either is listed, with its posted sums, and so is one with accounts that
// driftedAccounts finds.
func (l *Ledger) Check(ctx context.Context) ([]ledger.Imbalance, error) {
	const maxUint64 = "18446744073709551615"
	rows, err := l.pool.Query(ctx, `
SELECT ledger, LEAST(sum(debits_posted), `+maxUint64+`), LEAST(sum(credits_posted), `+maxUint64+`)
FROM ledger_accounts GROUP BY ledger
HAVING sum(debits_posted) <> sum(credits_posted) OR sum(debits_pending) <> sum(credits_pending)
ORDER BY ledger`)
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: check: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ledger.Imbalance, error) {
		var i ledger.Imbalance
		err := row.Scan(&i.Ledger, &i.Debits, &i.Credits)
		return i, err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: check: %w", err)
	}
	drifted, err := l.driftedAccounts(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range drifted {
		i := slices.IndexFunc(out, func(im ledger.Imbalance) bool { return im.Ledger == d.ledger })
		if i < 0 {
			out = append(out, ledger.Imbalance{Ledger: d.ledger})
			i = len(out) - 1
		}
		out[i].Accounts = append(out[i].Accounts, d.id)
	}
	return out, nil
}

type driftedAccount struct {
	ledger uint32
	id     uuid.UUID
}

// driftedAccounts finds accounts whose stored totals differ from the sums
// of their transfers, accounts over their flags' limits, and accounts whose
// row, or a transfer of theirs, breaks the rules batches keep (assertRows;
// the tables hold no CHECKs, so a row written around the ledger shows
// here). One statement reads both
// tables, so it sees one snapshot even while batches commit.
func (l *Ledger) driftedAccounts(ctx context.Context) ([]driftedAccount, error) {
	rows, err := l.pool.Query(ctx, `
WITH broken AS (
    SELECT unnest(ARRAY[debit_account_id, credit_account_id]) AS account
    FROM ledger_transfers
    WHERE (amount > 0 AND ledger BETWEEN 1 AND 4294967295 AND code BETWEEN 0 AND 65535
           AND state IN ('PENDING', 'POSTED', 'VOIDED', 'EXPIRED') AND timeout_ms >= 0
           AND debit_account_id <> credit_account_id
           AND (timeout_ms = 0) = (expires_at IS NULL)
           AND (state <> 'PENDING' OR expires_at IS NOT NULL)) IS NOT TRUE
), moves AS (
    SELECT debit_account_id AS account,
           CASE WHEN state = 'POSTED' THEN amount ELSE 0 END AS dp, CASE WHEN state = 'PENDING' THEN amount ELSE 0 END AS dq,
           CASE WHEN state = 'PENDING' AND expires_at > clock_timestamp() THEN amount ELSE 0 END AS dl,
           0 AS cp, 0 AS cq, 0 AS cl
    FROM ledger_transfers
    UNION ALL
    SELECT credit_account_id, 0, 0, 0,
           CASE WHEN state = 'POSTED' THEN amount ELSE 0 END, CASE WHEN state = 'PENDING' THEN amount ELSE 0 END,
           CASE WHEN state = 'PENDING' AND expires_at > clock_timestamp() THEN amount ELSE 0 END
    FROM ledger_transfers
), sums AS (
    SELECT account, sum(dp) AS dp, sum(dq) AS dq, sum(dl) AS dl, sum(cp) AS cp, sum(cq) AS cq, sum(cl) AS cl
    FROM moves GROUP BY account
)
SELECT a.ledger, a.id FROM ledger_accounts a LEFT JOIN sums s ON s.account = a.id
WHERE a.debits_posted <> COALESCE(s.dp, 0) OR a.debits_pending <> COALESCE(s.dq, 0)
   OR a.credits_posted <> COALESCE(s.cp, 0) OR a.credits_pending <> COALESCE(s.cq, 0)
   OR (a.ledger BETWEEN 1 AND 4294967295 AND a.code BETWEEN 1 AND 65535 AND a.flags BETWEEN 0 AND 65535
       AND a.debits_pending >= 0 AND a.debits_posted >= 0
       AND a.credits_pending >= 0 AND a.credits_posted >= 0) IS NOT TRUE
   OR a.id IN (SELECT account FROM broken)
   -- Over its limit, counting expired pending transfers as void, as
   -- decisions do. Their clock is read with their locks held, before they
   -- commit, so any later clock counts as expired what they counted so.
   OR (a.flags & 2 <> 0 AND a.debits_posted + COALESCE(s.dl, 0) > a.credits_posted)
   OR (a.flags & 4 <> 0 AND a.credits_posted + COALESCE(s.cl, 0) > a.debits_posted)
ORDER BY a.ledger, a.id`)
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: check accounts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (driftedAccount, error) {
		var d driftedAccount
		var id [16]byte
		err := row.Scan(&d.ledger, &id)
		d.id = id
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: check accounts: %w", err)
	}
	return out, nil
}

// accountRow is an account to create.
type accountRow struct {
	id      uuid.UUID
	ledger  uint32
	code    uint16
	flags   uint16
	assetID uuid.UUID
}

// createAccounts creates accounts together, or none. An account that
// exists already is fine if it is the same account.
func (l *Ledger) createAccounts(ctx context.Context, accounts []accountRow) error {
	if len(accounts) == 1 {
		// One statement commits the one account or nothing.
		return insertAccounts(ctx, l.pool, accounts)
	}
	return pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error { return insertAccounts(ctx, tx, accounts) })
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// insertAccounts inserts the accounts that do not exist and checks that
// those that do are the same.
func insertAccounts(ctx context.Context, q querier, accounts []accountRow) error {
	args := newAccountArgs(accounts)
	// The accounts the statement inserts come back from the insert, the
	// others (made before) from the table as its snapshot shows them, by
	// its primary key: a plan made while the table was small would scan
	// it whole at every account made (as Ledger.lock explains).
	b := &pgx.Batch{}
	// Planned once: with array parameters Postgres would plan every
	// execution afresh (see sqlBalances), for twice what the insert costs.
	b.Queue("SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true)")
	b.Queue(`
WITH wanted AS (
	SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::integer[], $4::integer[], $5::uuid[]) AS w(id, ledger, code, flags, asset_id)),
inserted AS (
	INSERT INTO ledger_accounts (id, ledger, code, flags, asset_id) SELECT * FROM wanted
	ON CONFLICT (id) DO NOTHING
	RETURNING id, ledger, code, flags, asset_id)
SELECT id, ledger, code, flags, asset_id FROM inserted
UNION ALL
SELECT a.id, a.ledger, a.code, a.flags, a.asset_id FROM ledger_accounts a JOIN wanted USING (id)`, args...)
	stored, err := queryAccounts(q.SendBatch(ctx, b))
	if err != nil {
		return fmt.Errorf("ledger/postgres: create accounts: %w", err)
	}
	if len(stored) < len(accounts) {
		// Another transaction made one of them while the statement ran:
		// the insert waited for it and left it, and the snapshot missed it.
		rows, err := q.Query(ctx, `SELECT id, ledger, code, flags, asset_id FROM ledger_accounts WHERE id = ANY($1::uuid[])`, args[0])
		if err != nil {
			return fmt.Errorf("ledger/postgres: create accounts: %w", err)
		}
		if stored, err = pgx.CollectRows(rows, scanAccountRow); err != nil {
			return fmt.Errorf("ledger/postgres: create accounts: %w", err)
		}
	}
	return sameAccounts(accounts, stored)
}

// newAccountArgs are the arrays of ids, ledgers, codes, flags and asset ids
// that statements creating accounts take.
func newAccountArgs(accounts []accountRow) []any {
	n := len(accounts)
	ids, assets := make([]uuid.UUID, n), make([]uuid.UUID, n)
	ledgers, codes, flags := make([]int64, n), make([]int32, n), make([]int32, n)
	for i, a := range accounts {
		ids[i], assets[i] = a.id, a.assetID
		ledgers[i], codes[i], flags[i] = int64(a.ledger), int32(a.code), int32(a.flags)
	}
	return []any{raws(ids), ledgers, codes, flags, raws(assets)}
}

// queryAccounts reads the accounts the last statement of a batch of two
// answers.
func queryAccounts(br pgx.BatchResults) (stored []accountRow, err error) {
	defer func() {
		if closeErr := br.Close(); err == nil {
			err = closeErr
		}
	}()
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanAccountRow)
}

func scanAccountRow(row pgx.CollectableRow) (accountRow, error) {
	var a accountRow
	err := row.Scan(raw(&a.id), &a.ledger, &a.code, &a.flags, raw(&a.assetID))
	return a, err
}

func sameAccounts(want, stored []accountRow) error {
	if len(stored) != len(want) {
		return fmt.Errorf("ledger/postgres: created %d accounts, found %d", len(want), len(stored))
	}
	for _, w := range want {
		found := false
		for _, s := range stored {
			if s.id != w.id {
				continue
			}
			found = true
			if s != w {
				return fmt.Errorf("ledger/postgres: account %s exists with ledger %d, code %d, asset %s (not %d, %d, %s)",
					s.id, s.ledger, s.code, s.assetID, w.ledger, w.code, w.assetID)
			}
		}
		if !found {
			return errors.New("ledger/postgres: created account " + w.id.String() + " not found")
		}
	}
	return nil
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
