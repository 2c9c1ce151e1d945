-- Where each projection stands in the event stream. A projection's batch of
-- events and its checkpoint commit in one transaction.
CREATE TABLE projection_checkpoints (
    name       text PRIMARY KEY,
    sequence   bigint NOT NULL DEFAULT 0 CHECK (sequence >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
