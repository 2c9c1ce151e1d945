-- Webhook deliveries: one row per webhook event and recipient tenant, with
-- its attempts, as Rafiki's webhooks table. The events themselves are a read
-- model (rm_webhooks.webhook_events); this is delivery state, which a
-- replay of that read model must not reset.
CREATE TABLE webhook_deliveries (
    event_id            uuid NOT NULL,
    recipient_tenant_id uuid NOT NULL,
    event_type          text NOT NULL,
    attempts            integer NOT NULL DEFAULT 0,
    status_code         integer,
    error               text,
    -- When the next attempt is due, or the lease of the attempt under way
    -- ends; NULL once delivered or given up.
    process_at          timestamptz,
    delivered_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, recipient_tenant_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (process_at) WHERE process_at IS NOT NULL;
-- How far the dispatchers have turned webhook events into deliveries: the
-- stream sequence of the last event taken, in the stream the webhooks
-- projection's checkpoint counts in.
CREATE TABLE webhook_sweep (
    id                        boolean PRIMARY KEY DEFAULT true CHECK (id),
    sequence                  bigint NOT NULL DEFAULT 0,
    stream_created_unix_nanos bigint
);
INSERT INTO webhook_sweep DEFAULT VALUES;
