-- Share read of each stream of the running job (stream name -> 0..1): a job's streams may run in
-- different processes at the same time, so its percentage is summed from these, not from whichever
-- stream committed last.
ALTER TABLE integration_sync_jobs ADD COLUMN stream_progress jsonb NOT NULL DEFAULT '{}';
