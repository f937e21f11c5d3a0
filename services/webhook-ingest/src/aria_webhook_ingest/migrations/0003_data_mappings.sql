-- The installation's data mappings (installation.mappings_changed) for webhook payload types:
-- NULL means the connector's defaults. Their own revision, so a mappings event and a lifecycle
-- event never overwrite each other's columns.
ALTER TABLE webhook_endpoints
    ADD COLUMN mappings          jsonb,
    ADD COLUMN mappings_revision integer NOT NULL DEFAULT 0;
