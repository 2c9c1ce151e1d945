-- The Postgres ledger (ledger/postgres). Accounts are TigerBeetle-like: they
-- carry running totals, so a balance is one row, not a sum over transfers.
-- Amounts and totals are bigint: up to 2^63-1 minor units, as in Rafiki's
-- own Postgres accounting tables.
CREATE TABLE ledger_accounts (
    id              uuid PRIMARY KEY,
    ledger          bigint  NOT NULL CHECK (ledger BETWEEN 1 AND 4294967295),
    code            integer NOT NULL CHECK (code BETWEEN 1 AND 65535),
    flags           integer NOT NULL CHECK (flags BETWEEN 0 AND 65535),
    asset_id        uuid    NOT NULL,
    debits_pending  bigint  NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted   bigint  NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending bigint  NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted  bigint  NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per transfer (a leg of a two-phase transfer is a transfer of its
-- own, grouped by group_id). state EXPIRED is a pending transfer voided by
-- its timeout; it reads as VOIDED, but posting or voiding it again fails
-- with "expired", as in TigerBeetle. seq orders the listing newest first.
-- The account ids have no foreign keys: a batch writes a transfer only while
-- it holds both accounts' locks, and accounts are never deleted, so a key
-- would only add a trigger query per row.
CREATE TABLE ledger_transfers (
    seq               bigint GENERATED ALWAYS AS IDENTITY,
    id                uuid    PRIMARY KEY,
    group_id          uuid    NOT NULL,
    debit_account_id  uuid    NOT NULL,
    credit_account_id uuid    NOT NULL,
    amount            bigint  NOT NULL CHECK (amount > 0),
    ledger            bigint  NOT NULL CHECK (ledger BETWEEN 1 AND 4294967295),
    code              integer NOT NULL CHECK (code BETWEEN 0 AND 65535),
    state             text    NOT NULL CHECK (state IN ('PENDING', 'POSTED', 'VOIDED', 'EXPIRED')),
    timeout_ms        bigint  NOT NULL CHECK (timeout_ms >= 0),
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz,
    CHECK (debit_account_id <> credit_account_id),
    CHECK ((timeout_ms = 0) = (expires_at IS NULL)),
    CHECK (state <> 'PENDING' OR expires_at IS NOT NULL)
);

CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, seq);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, seq);
-- Only pending transfers, normally few: the sweep finds expired ones here,
-- and so do balance reads and batches, which treat them as voided.
CREATE INDEX ledger_transfers_pending_expiry ON ledger_transfers (expires_at)
    WHERE state = 'PENDING';

-- ledger_expect fails a batch's statement, and with it the transaction
-- before its commit, when the statement wrote other than the rows the batch
-- decided to write: an assertion that costs no round trip.
CREATE FUNCTION ledger_expect(what text, got bigint, want bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF got <> want THEN
        RAISE EXCEPTION 'ledger: % % rows, expected %', what, got, want;
    END IF;
END
$$;
