-- Events a projection could not apply (a data or constraint error, an event
-- it cannot decode), set aside so that the projection goes on with the next
-- ones. A replay of the projection tries them again and leaves here only
-- those that still fail.
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
