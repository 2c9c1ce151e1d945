ALTER TABLE ledger_accounts
    ADD CONSTRAINT ledger_accounts_ledger_check CHECK (ledger BETWEEN 1 AND 4294967295),
    ADD CONSTRAINT ledger_accounts_code_check CHECK (code BETWEEN 1 AND 65535),
    ADD CONSTRAINT ledger_accounts_flags_check CHECK (flags BETWEEN 0 AND 65535),
    ADD CONSTRAINT ledger_accounts_debits_pending_check CHECK (debits_pending >= 0),
    ADD CONSTRAINT ledger_accounts_debits_posted_check CHECK (debits_posted >= 0),
    ADD CONSTRAINT ledger_accounts_credits_pending_check CHECK (credits_pending >= 0),
    ADD CONSTRAINT ledger_accounts_credits_posted_check CHECK (credits_posted >= 0);

ALTER TABLE ledger_transfers
    ADD CONSTRAINT ledger_transfers_amount_check CHECK (amount > 0),
    ADD CONSTRAINT ledger_transfers_ledger_check CHECK (ledger BETWEEN 1 AND 4294967295),
    ADD CONSTRAINT ledger_transfers_code_check CHECK (code BETWEEN 0 AND 65535),
    ADD CONSTRAINT ledger_transfers_state_check CHECK (state IN ('PENDING', 'POSTED', 'VOIDED', 'EXPIRED')),
    ADD CONSTRAINT ledger_transfers_timeout_ms_check CHECK (timeout_ms >= 0),
    ADD CONSTRAINT ledger_transfers_check CHECK (debit_account_id <> credit_account_id),
    ADD CONSTRAINT ledger_transfers_check1 CHECK ((timeout_ms = 0) = (expires_at IS NULL)),
    ADD CONSTRAINT ledger_transfers_check2 CHECK (state <> 'PENDING' OR expires_at IS NOT NULL);
