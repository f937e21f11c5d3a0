-- The installation's data mappings (installation.mappings_changed): NULL until an admin changes
-- them, which means the connector's defaults. Their own revision, so a mappings event and a
-- lifecycle event never overwrite each other's columns.
ALTER TABLE sync_schedules
    ADD COLUMN mappings          jsonb,
    ADD COLUMN mappings_revision integer NOT NULL DEFAULT 0;
