-- Events an auth projection could not apply, set aside so that it goes on
-- with the next ones; a replay tries them again (see the backend's 0006).
CREATE TABLE projection_set_aside (
    projection   text NOT NULL,
    sequence     bigint NOT NULL CHECK (sequence > 0),
    event_id     uuid,
    event_type   text,
    subject      text NOT NULL,
    error        text NOT NULL,
    set_aside_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, sequence)
);
