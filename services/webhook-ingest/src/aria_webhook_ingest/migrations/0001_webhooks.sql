-- Installations this service accepts webhooks for, kept from aria.installation.lifecycle.
-- No secret here: credential_ref is a reference leased from vault-gateway when verifying.
CREATE TABLE webhook_endpoints (
    installation_id uuid PRIMARY KEY,
    org_id          uuid        NOT NULL,
    integration_key text        NOT NULL,
    credential_ref  text,
    settings        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    live            boolean     NOT NULL DEFAULT false,
    revision        integer     NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per delivery attempt that reached a known installation: accepted, duplicate (a replay
-- of an accepted delivery) or rejected (with the reason). Never the body, never a secret.
CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    installation_id uuid        NOT NULL,
    org_id          uuid        NOT NULL,
    delivery_id     text,
    payload_sha256  text,
    status          text        NOT NULL CHECK (status IN ('accepted', 'duplicate', 'rejected')),
    reason          text,
    event_count     integer     NOT NULL DEFAULT 0,
    received_at     timestamptz NOT NULL DEFAULT now()
);
-- Dedup: a delivery id is accepted at most once per installation.
CREATE UNIQUE INDEX webhook_deliveries_accepted_once
    ON webhook_deliveries (installation_id, delivery_id) WHERE status = 'accepted';
CREATE INDEX webhook_deliveries_by_installation ON webhook_deliveries (installation_id, id DESC);
