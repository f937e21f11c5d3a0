-- One row per sync request (request_id is unique, so a redelivered request never runs twice).
CREATE TABLE integration_sync_jobs (
    id                uuid PRIMARY KEY,
    org_id            uuid        NOT NULL,
    installation_id   uuid        NOT NULL,
    integration_key   text        NOT NULL,
    request_id        uuid        NOT NULL UNIQUE,
    sync_type         text        NOT NULL CHECK (sync_type IN ('full', 'incremental', 'manual', 'realtime')),
    status            text        NOT NULL DEFAULT 'pending'
                                  CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    progress_percent  smallint    NOT NULL DEFAULT 0 CHECK (progress_percent BETWEEN 0 AND 100),
    total_records     integer,
    processed_records integer     NOT NULL DEFAULT 0,
    failed_records    integer     NOT NULL DEFAULT 0,
    published_events  integer     NOT NULL DEFAULT 0,
    started_at        timestamptz,
    completed_at      timestamptz,
    retry_count       integer     NOT NULL DEFAULT 0,
    max_retries       integer     NOT NULL DEFAULT 0,
    error_class       text,
    error_message     text,
    triggered_by      text        NOT NULL,
    config_version    integer,
    connector_version text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- Newest-first listing per installation, with (created_at, id) as the cursor.
CREATE INDEX integration_sync_jobs_installation ON integration_sync_jobs (installation_id, created_at DESC, id DESC);
CREATE INDEX integration_sync_jobs_active ON integration_sync_jobs (status) WHERE status IN ('pending', 'running');

-- Incremental sync state per installation and stream, saved only after the batch it
-- describes was acknowledged by Kafka (at least once).
CREATE TABLE sync_checkpoints (
    installation_id uuid        NOT NULL,
    stream          text        NOT NULL,
    state           jsonb       NOT NULL,
    job_id          uuid,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, stream)
);
