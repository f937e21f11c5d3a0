-- Outbound webhooks: an organization's HTTPS endpoints, subscribed to event types, and every
-- delivery to them (persisted schedule: retries survive a restart). No secret here: the signing
-- secret lives in vault-gateway (credential 'outbound_signing' under the endpoint's id).
CREATE TABLE outbound_endpoints (
    id                    uuid PRIMARY KEY,
    org_id                uuid        NOT NULL,
    url                   text        NOT NULL,
    description           text        NOT NULL DEFAULT '',
    event_types           text[]      NOT NULL,
    enabled               boolean     NOT NULL DEFAULT true,
    disabled_reason       text,
    credential_ref        uuid        NOT NULL,
    -- vault-gateway's version of the signing secret: a lease of another version is not used.
    secret_version        integer     NOT NULL,
    -- Rotation overlap: until then the previous secret signs too (a second v1 signature).
    previous_secret_until timestamptz,
    -- First failure of the current run of failures (NULL after a success); disables when too old.
    failing_since         timestamptz,
    created_by            text        NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbound_endpoints_by_org ON outbound_endpoints (org_id, created_at DESC, id DESC);

CREATE TABLE outbound_deliveries (
    id               uuid PRIMARY KEY,
    seq              bigserial   NOT NULL UNIQUE,
    endpoint_id      uuid        NOT NULL REFERENCES outbound_endpoints (id) ON DELETE CASCADE,
    org_id           uuid        NOT NULL,
    -- webhook-id: the same for every attempt and every replay of one event to one endpoint.
    message_id       text        NOT NULL,
    event_id         uuid        NOT NULL,
    event_type       text        NOT NULL,
    -- The entity id: a delivery waits while an older one of the same entity is pending.
    ordering_key     text        NOT NULL,
    -- The bytes signed and sent (the event as the organization sees it; never a secret).
    body             bytea       NOT NULL,
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    replay_of        uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz
);
-- Fan-out is idempotent: one first delivery per (endpoint, event), so a redelivered Kafka message adds nothing.
CREATE UNIQUE INDEX outbound_deliveries_once ON outbound_deliveries (endpoint_id, event_id) WHERE replay_of IS NULL;
CREATE INDEX outbound_deliveries_due ON outbound_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbound_deliveries_pending_key
    ON outbound_deliveries (endpoint_id, ordering_key, seq) WHERE status = 'pending';
CREATE INDEX outbound_deliveries_by_endpoint ON outbound_deliveries (endpoint_id, seq DESC);
CREATE INDEX outbound_deliveries_by_time ON outbound_deliveries (endpoint_id, created_at) WHERE replay_of IS NULL;

-- Who changed an endpoint, and when the service disabled one. Never a secret, never a URL's path.
CREATE TABLE outbound_audit (
    id          bigserial PRIMARY KEY,
    org_id      uuid        NOT NULL,
    endpoint_id uuid        NOT NULL,
    action      text        NOT NULL CHECK (action IN ('created', 'updated', 'deleted', 'secret_rotated',
                                                       'disabled', 'replayed')),
    actor       text        NOT NULL,
    detail      text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbound_audit_by_endpoint ON outbound_audit (endpoint_id, id DESC);
