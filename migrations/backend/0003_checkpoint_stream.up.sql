-- Which event stream a projection's checkpoint counts in: when the stream
-- is replaced (a new NATS store under an old database), the read model is
-- rebuilt instead of skipping the new stream's first events.
ALTER TABLE projection_checkpoints ADD COLUMN stream_created timestamptz;
