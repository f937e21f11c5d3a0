-- The data mappings a sync-now request carried (sync.requested), so the job maps with the set the
-- requester saw even if installation.mappings_changed has not arrived yet; NULL: the schedule's set.
ALTER TABLE integration_sync_jobs ADD COLUMN mappings jsonb;
