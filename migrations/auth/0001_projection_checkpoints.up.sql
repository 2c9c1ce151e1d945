-- Where each projection of the auth database stands in the event stream,
-- and which stream it counts in (its creation time, to the nanosecond the
-- server reports), as in the backend database: the projections framework
-- is the same for both.
CREATE TABLE projection_checkpoints (
    name                      text PRIMARY KEY,
    sequence                  bigint NOT NULL DEFAULT 0 CHECK (sequence >= 0),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    stream_created_unix_nanos bigint
);
