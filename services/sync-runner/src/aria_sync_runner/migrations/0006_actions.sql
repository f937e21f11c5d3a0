-- On-demand push actions (action.requested from the installer). One row per run id: a
-- redelivered request finds its row and the vendor is not called again. A 'pending' row found
-- again was left by a crash mid-call: re-sent only when the action's idempotency strategy makes
-- that safe, else recorded 'unknown' for a person to check.
CREATE TABLE action_executions (
    run_id          uuid PRIMARY KEY,
    installation_id uuid        NOT NULL,
    org_id          uuid        NOT NULL,
    action          text        NOT NULL,
    entity_id       uuid,
    status          text        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'unknown')),
    attempts        integer     NOT NULL DEFAULT 1,
    vendor_id       text,
    vendor_url      text,
    vendor_status   text,
    error_class     text,
    error_message   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The newest risk / alert per entity, as consumed from the entity topics, so an action can be
-- run "for entity X" (create a ticket from a risk) without the caller sending the event.
CREATE TABLE action_entities (
    entity_id   uuid PRIMARY KEY,
    org_id      uuid        NOT NULL,
    entity_type text        NOT NULL,
    event       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A ticket an action opened for an entity: when the ticketing connector syncs the ticket back
-- (as a risk of its own, external id = the ticket's vendor id), the entity's status follows it.
CREATE TABLE ticket_links (
    ticket_installation_id uuid        NOT NULL,
    vendor_id              text        NOT NULL,
    org_id                 uuid        NOT NULL,
    entity_id              uuid        NOT NULL,
    integration_key        text        NOT NULL,
    run_id                 uuid,
    last_status            text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_installation_id, vendor_id)
);
CREATE INDEX ticket_links_entity ON ticket_links (entity_id);
