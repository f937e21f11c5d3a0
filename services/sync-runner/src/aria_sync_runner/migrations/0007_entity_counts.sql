-- Events the job published per entity type (risk -> 30, asset -> 12), summed over its batches and
-- streams like the other counts; announced with the job's outcome so the installer can keep an
-- installation's records synced per entity type.
ALTER TABLE integration_sync_jobs ADD COLUMN entity_counts jsonb NOT NULL DEFAULT '{}';
