DROP FUNCTION ledger_expect(text, bigint, bigint);
DROP TABLE ledger_transfers;
DROP TABLE ledger_accounts;
