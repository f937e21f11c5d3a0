-- Credential metadata only: never a secret value (those live in OpenBao, encrypted per installation).
CREATE TABLE integration_credentials (
    credential_ref          uuid PRIMARY KEY,
    org_id                  uuid        NOT NULL,
    installation_id         uuid        NOT NULL,
    name                    text        NOT NULL,
    kind                    text        NOT NULL,
    current_version         integer     NOT NULL,
    field_names             text[]      NOT NULL,
    rotation_frequency_days integer,
    auto_rotate             boolean     NOT NULL DEFAULT false,
    expires_at              timestamptz,
    last_rotated_at         timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    shredded_at             timestamptz,
    UNIQUE (installation_id, name)
);

-- Every store, lease, rotation and shred: who, which installation, when, outcome. Never a value.
CREATE TABLE credential_audit (
    id              bigserial PRIMARY KEY,
    credential_ref  uuid,
    org_id          uuid,
    installation_id uuid        NOT NULL,
    action          text        NOT NULL CHECK (action IN ('store', 'lease', 'rotate', 'shred')),
    actor           text        NOT NULL,
    outcome         text        NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    reason          text,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credential_audit_installation ON credential_audit (installation_id, at DESC);
