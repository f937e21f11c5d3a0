-- Automation rules as the installer publishes them (aria.automation.rules, compacted): the
-- newest version per rule wins; a deleted rule keeps its row (deleted) so an older version
-- read again later cannot bring it back.
CREATE TABLE automation_rules (
    rule_id         uuid PRIMARY KEY,
    org_id          uuid        NOT NULL,
    version         integer     NOT NULL,
    entity_type     text        NOT NULL,
    active          boolean     NOT NULL,
    rule            jsonb       NOT NULL,
    effective_from  timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX automation_rules_active ON automation_rules (org_id, entity_type) WHERE active;

-- One row per (rule, entity, change): the entity's raw SHA-256 names the change, so a
-- redelivered or re-published event finds its row and asks for nothing. Each attempt is one
-- action run (run_id, executed once by the actions executor in action_executions); a transient
-- failure schedules the next attempt (retrying, next_attempt_at), a permanent one or the last
-- attempt dead-letters it (dead) until a person retries it through the API.
CREATE TABLE rule_executions (
    id               uuid PRIMARY KEY,
    rule_id          uuid        NOT NULL,
    rule_version     integer     NOT NULL,
    org_id           uuid        NOT NULL,
    entity_id        uuid        NOT NULL,
    change_sha256    text        NOT NULL,
    installation_id  uuid        NOT NULL,
    action           text        NOT NULL,
    input            jsonb       NOT NULL,
    status           text        NOT NULL CHECK (status IN ('requested', 'succeeded', 'retrying', 'dead')),
    attempts         integer     NOT NULL DEFAULT 1,
    run_id           uuid        NOT NULL,
    next_attempt_at  timestamptz,
    vendor_id        text,
    vendor_status    text,
    error_class      text,
    error_message    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (rule_id, entity_id, change_sha256)
);
CREATE INDEX rule_executions_by_rule ON rule_executions (rule_id, created_at DESC, id DESC);
CREATE INDEX rule_executions_due ON rule_executions (next_attempt_at) WHERE status = 'retrying';
CREATE INDEX rule_executions_run ON rule_executions (run_id);

-- Dry-runs read the newest entities of an organization, newest first.
CREATE INDEX action_entities_recent ON action_entities (org_id, entity_type, updated_at DESC);

-- The severity-threshold push is an automation rule now (the installer converts each
-- installation's push_min_severity into one); its deliveries table goes with its code.
DROP TABLE push_deliveries;
