-- Automation rules of an organization: the current version of each (a deleted rule keeps its
-- row, deleted_at set, so its history stays readable and an id is never reused).
CREATE TABLE automation_rules (
    id                     uuid PRIMARY KEY,
    org_id                 uuid        NOT NULL,
    name                   text        NOT NULL,
    description            text,
    enabled                boolean     NOT NULL,
    version                integer     NOT NULL,
    trigger                jsonb       NOT NULL,
    action                 jsonb       NOT NULL,
    target_installation_id uuid        NOT NULL REFERENCES integration_installations (id),
    created_by             text        NOT NULL,
    updated_by             text        NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    deleted_at             timestamptz
);
CREATE INDEX automation_rules_by_org ON automation_rules (org_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

-- Every version as it was saved: each change (create, update, delete) is a new version.
CREATE TABLE automation_rule_versions (
    rule_id     uuid        NOT NULL REFERENCES automation_rules (id),
    version     integer     NOT NULL,
    change      text        NOT NULL CHECK (change IN ('created', 'updated', 'deleted')),
    name        text        NOT NULL,
    description text,
    enabled     boolean     NOT NULL,
    trigger     jsonb       NOT NULL,
    action      jsonb       NOT NULL,
    changed_by  text        NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, version)
);

-- Who did what to a rule: its changes (with the version they made) and retries of its
-- dead-lettered executions.
CREATE TABLE automation_rule_audit (
    id         bigserial PRIMARY KEY,
    rule_id    uuid        NOT NULL REFERENCES automation_rules (id),
    org_id     uuid        NOT NULL,
    actor      text        NOT NULL,
    event      text        NOT NULL CHECK (event IN ('created', 'updated', 'deleted', 'execution_retried')),
    version    integer     NOT NULL,
    details    jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX automation_rule_audit_by_rule ON automation_rule_audit (rule_id, id DESC);
