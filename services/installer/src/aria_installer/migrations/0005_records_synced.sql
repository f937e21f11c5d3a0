-- Records synced per entity type since the installation was created ({"risk": 120, "asset": 40}):
-- the sum of sync-runner's per-job counts (entity_counts of sync.completed / failed / cancelled:
-- what a job published stays published, whatever its outcome).
ALTER TABLE integration_installations ADD COLUMN records_synced jsonb NOT NULL DEFAULT '{}';
