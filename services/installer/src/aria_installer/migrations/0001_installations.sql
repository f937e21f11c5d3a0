CREATE TABLE integration_installations (
    id               uuid PRIMARY KEY,
    org_id           uuid        NOT NULL,
    integration_key  text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('configuring', 'disabled', 'enabled', 'error', 'suspended')),
    revision         integer     NOT NULL DEFAULT 1,
    sync_frequency   text        NOT NULL DEFAULT 'daily'
                     CHECK (sync_frequency IN ('realtime', 'hourly', 'daily', 'weekly', 'manual')),
    auto_sync        boolean     NOT NULL DEFAULT true,
    health_status    text        NOT NULL DEFAULT 'unknown',
    last_sync_at     timestamptz,
    last_sync_status text,
    error_count      integer     NOT NULL DEFAULT 0,
    last_error       text,
    installed_by     text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    uninstalled_at   timestamptz
);
-- One live installation per organization and integration; uninstalled rows stay for audit.
CREATE UNIQUE INDEX installations_one_live ON integration_installations (org_id, integration_key)
    WHERE uninstalled_at IS NULL;
CREATE INDEX installations_org ON integration_installations (org_id, created_at DESC);

-- Non-secret settings only; secrets live in vault-gateway behind credential_ref.
CREATE TABLE integration_configurations (
    installation_id uuid        NOT NULL REFERENCES integration_installations (id),
    version         integer     NOT NULL,
    settings        jsonb       NOT NULL,
    secret_fields   text[]      NOT NULL DEFAULT '{}',
    config_hash     text        NOT NULL,
    credential_ref  uuid,
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, version)
);

CREATE TABLE integration_activity_logs (
    id              bigserial PRIMARY KEY,
    installation_id uuid        NOT NULL,
    org_id          uuid        NOT NULL,
    activity_type   text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('success', 'failure', 'info')),
    actor           text        NOT NULL,
    message         text        NOT NULL,
    details         jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activity_by_installation ON integration_activity_logs (installation_id, id DESC);

-- Idempotency-Key replay: the same key and body return the first answer.
CREATE TABLE idempotency_keys (
    org_id       uuid        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status_code  integer     NOT NULL,
    response     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, key)
);
