-- Setup milestones per installation, from installation lifecycle events: when it was installed and
-- when it was first enabled (the envelopes' time, not arrival). Each column keeps the earliest time
-- seen, so redelivered and out-of-order events converge to the same row. Setup time of an
-- installation = first_enabled_at - installed_at; the detail page averages it per integration.
CREATE TABLE catalog_installation_setup (
    installation_id  uuid        PRIMARY KEY,
    integration_key  text        NOT NULL,
    installed_at     timestamptz,
    first_enabled_at timestamptz
);
CREATE INDEX catalog_installation_setup_key ON catalog_installation_setup (integration_key)
    WHERE installed_at IS NOT NULL AND first_enabled_at IS NOT NULL;
