ALTER TABLE projection_checkpoints DROP COLUMN stream_created;
