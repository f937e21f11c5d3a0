-- Data mappings: how a source record type (a connector stream, or a webhook payload type) becomes
-- a contract entity. Seeded from the connector manifest at install; users edit them from there.
CREATE TABLE integration_data_mappings (
    id                   uuid PRIMARY KEY,
    installation_id      uuid        NOT NULL REFERENCES integration_installations (id),
    org_id               uuid        NOT NULL,
    source_type          text        NOT NULL,
    target_entity        text        NOT NULL,
    external_id          text        NOT NULL,
    field_mappings       jsonb       NOT NULL,
    attributes           jsonb       NOT NULL DEFAULT '{}',
    transformation_rules jsonb       NOT NULL DEFAULT '[]',
    filter_rules         jsonb       NOT NULL DEFAULT '[]',
    priority             integer     NOT NULL DEFAULT 100,
    active               boolean     NOT NULL DEFAULT true,
    origin               text        NOT NULL CHECK (origin IN ('connector', 'custom')),
    created_by           text        NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX data_mappings_by_installation ON integration_data_mappings (installation_id, source_type, priority DESC);

-- The installation's own webhook signing secret: only its vault-gateway reference, never the value.
CREATE TABLE integration_webhooks (
    installation_id uuid PRIMARY KEY REFERENCES integration_installations (id),
    org_id          uuid        NOT NULL,
    credential_ref  uuid        NOT NULL,
    secret_version  integer     NOT NULL,
    rotated_by      text        NOT NULL,
    rotated_at      timestamptz NOT NULL DEFAULT now()
);

-- Retention purges by age.
CREATE INDEX activity_by_age ON integration_activity_logs (created_at);
