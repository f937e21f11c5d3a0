-- On-demand push action runs: accepted here (roles, input, idempotency), executed once by
-- sync-runner (action.requested), outcome recorded from action.completed.
CREATE TABLE action_runs (
    id               uuid PRIMARY KEY,
    org_id           uuid        NOT NULL,
    installation_id  uuid        NOT NULL REFERENCES integration_installations (id),
    integration_key  text        NOT NULL,
    action           text        NOT NULL,
    kind             text        NOT NULL,
    destructive      boolean     NOT NULL,
    input            jsonb       NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'unknown')),
    requested_by     text        NOT NULL,
    -- The caller's Idempotency-Key (per organization) and a hash of what it was sent with: a
    -- retry returns this run, the same key with another request is refused.
    idempotency_key  text        NOT NULL,
    request_hash     text        NOT NULL,
    vendor_id        text,
    vendor_url       text,
    vendor_status    text,
    error_class      text,
    error_message    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    UNIQUE (org_id, idempotency_key)
);
CREATE INDEX action_runs_by_installation ON action_runs (installation_id, created_at DESC, id DESC);
