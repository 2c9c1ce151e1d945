-- Fails, changing nothing, when a total no longer fits a bigint.
ALTER TABLE ledger_accounts
    ALTER COLUMN debits_pending TYPE bigint,
    ALTER COLUMN debits_posted TYPE bigint,
    ALTER COLUMN credits_pending TYPE bigint,
    ALTER COLUMN credits_posted TYPE bigint;
