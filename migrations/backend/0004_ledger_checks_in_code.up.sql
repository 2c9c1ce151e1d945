-- The ledger's row checks move into ledger/postgres (assertRows), which
-- runs them on every row a batch writes before the batch's write round
-- trip. Postgres evaluated every CHECK of a table on every statement that
-- wrote it, re-reading and planning each constraint's expression per
-- statement: about a tenth of the database's CPU in a transfer batch.
ALTER TABLE ledger_accounts
    DROP CONSTRAINT ledger_accounts_ledger_check,
    DROP CONSTRAINT ledger_accounts_code_check,
    DROP CONSTRAINT ledger_accounts_flags_check,
    DROP CONSTRAINT ledger_accounts_debits_pending_check,
    DROP CONSTRAINT ledger_accounts_debits_posted_check,
    DROP CONSTRAINT ledger_accounts_credits_pending_check,
    DROP CONSTRAINT ledger_accounts_credits_posted_check;

ALTER TABLE ledger_transfers
    DROP CONSTRAINT ledger_transfers_amount_check,
    DROP CONSTRAINT ledger_transfers_ledger_check,
    DROP CONSTRAINT ledger_transfers_code_check,
    DROP CONSTRAINT ledger_transfers_state_check,
    DROP CONSTRAINT ledger_transfers_timeout_ms_check,
    DROP CONSTRAINT ledger_transfers_check,
    DROP CONSTRAINT ledger_transfers_check1,
    DROP CONSTRAINT ledger_transfers_check2;
