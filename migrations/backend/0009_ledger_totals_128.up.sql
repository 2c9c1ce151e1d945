-- An account's lifetime totals take 128 bits, as TigerBeetle's do: each
-- transfer's amount is still a bigint (at most 2^63-1, as in Rafiki), but an
-- account's transfers over its life are not bounded by one. With bigint
-- totals, the settlement account of an asset of scale 18 refused every
-- deposit once 9.2 units had been deposited in all. 2^128-1 has 39 digits.
-- The table is rewritten once, under its lock.
ALTER TABLE ledger_accounts
    ALTER COLUMN debits_pending TYPE numeric(39, 0),
    ALTER COLUMN debits_posted TYPE numeric(39, 0),
    ALTER COLUMN credits_pending TYPE numeric(39, 0),
    ALTER COLUMN credits_posted TYPE numeric(39, 0);
