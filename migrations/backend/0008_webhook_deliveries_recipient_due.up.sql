-- Deliveries waiting, by recipient and when they are due: a claim goes
-- through the recipients with deliveries waiting, and reads the first due
-- of those that may take more, so that a recipient's backlog (an endpoint
-- timing out) costs the others nothing.
CREATE INDEX webhook_deliveries_recipient_due ON webhook_deliveries (recipient_tenant_id, process_at, event_id)
    WHERE process_at IS NOT NULL;
