-- The stream's creation time identifies it, to the nanosecond the server
-- reports; a timestamptz keeps microseconds, so a stored time never equalled
-- the stream's own. Times stored that way are dropped: the next start records
-- the stream it finds, as on a first start.
ALTER TABLE projection_checkpoints DROP COLUMN stream_created;
ALTER TABLE projection_checkpoints ADD COLUMN stream_created_unix_nanos bigint;
