-- Jobs are a queue in Postgres: any replica claims a pending job (or one whose heartbeat
-- expired) under an advisory lock, runs it, and keeps its heartbeat fresh; writes are fenced
-- by claimed_by, so a replica that lost its claim cannot move the checkpoint.
ALTER TABLE integration_sync_jobs
    ADD COLUMN priority         smallint    NOT NULL DEFAULT 0,
    ADD COLUMN settings         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN credential_ref   text,
    ADD COLUMN claimed_by       text,
    ADD COLUMN heartbeat_at     timestamptz,
    ADD COLUMN not_before       timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN cancel_requested boolean     NOT NULL DEFAULT false,
    ADD COLUMN next_sync_at     timestamptz,
    -- W3C trace context of the request, so the job's events stay in the requester's trace.
    ADD COLUMN traceparent      text;
CREATE INDEX integration_sync_jobs_queue ON integration_sync_jobs (priority DESC, created_at)
    WHERE status IN ('pending', 'running');

-- One row per installation sync-runner knows from the lifecycle topic; the newest revision wins.
CREATE TABLE sync_schedules (
    installation_id uuid PRIMARY KEY,
    org_id          uuid        NOT NULL,
    integration_key text        NOT NULL,
    revision        integer     NOT NULL,
    enabled         boolean     NOT NULL,
    frequency       text        NOT NULL DEFAULT 'manual'
                                CHECK (frequency IN ('realtime', 'hourly', 'daily', 'weekly', 'manual')),
    settings        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    credential_ref  text,
    config_version  integer,
    next_run_at     timestamptz,
    health_status   text        CHECK (health_status IN ('healthy', 'degraded', 'down')),
    health_due_at   timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_schedules_due ON sync_schedules (next_run_at) WHERE enabled AND frequency <> 'manual';
CREATE INDEX sync_schedules_org ON sync_schedules (org_id) WHERE enabled;

-- One row per (installation, entity, action): a redelivered risk finds its row and is not
-- pushed again. 'pending' rows are in flight or were left by a crash (the connector's
-- idempotency strategy makes the retry safe); 'unknown' ones need a person.
CREATE TABLE push_deliveries (
    installation_id uuid        NOT NULL,
    entity_id       uuid        NOT NULL,
    action          text        NOT NULL,
    org_id          uuid        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'unknown')),
    vendor_id       text,
    vendor_url      text,
    attempts        integer     NOT NULL DEFAULT 0,
    error_class     text,
    error_message   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, entity_id, action)
);
