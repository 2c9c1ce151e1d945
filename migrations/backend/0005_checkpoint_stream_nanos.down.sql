ALTER TABLE projection_checkpoints DROP COLUMN stream_created_unix_nanos;
ALTER TABLE projection_checkpoints ADD COLUMN stream_created timestamptz;
