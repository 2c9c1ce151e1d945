DROP TABLE webhook_sweep;
DROP TABLE webhook_deliveries;
