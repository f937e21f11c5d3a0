-- pg_trgm is a trusted extension (PostgreSQL >= 13): the database owner may create it without superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- One row per connector the platform has ever shipped. Synced from the connector registry on start;
-- rows are never deleted: a connector that leaves the registry becomes deprecated (removed_at set).
CREATE TABLE integration_catalog (
    key                      text        PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{0,63}$'),
    name                     text        NOT NULL,
    vendor                   text        NOT NULL,
    product                  text,
    category                 text        NOT NULL,
    description              text        NOT NULL DEFAULT '',
    logo_url                 text,
    documentation_url        text,
    support_url              text,
    version                  text        NOT NULL,
    pricing_model            text,
    is_official              boolean     NOT NULL DEFAULT false,
    is_community             boolean     NOT NULL DEFAULT false,
    is_beta                  boolean     NOT NULL DEFAULT false,
    is_deprecated            boolean     NOT NULL DEFAULT false,
    license_required         boolean     NOT NULL DEFAULT false,
    minimum_platform_version text,
    capabilities             text[]      NOT NULL DEFAULT '{}',
    data_types               text[]      NOT NULL DEFAULT '{}',
    auth_methods             text[]      NOT NULL DEFAULT '{}',
    streams                  text[]      NOT NULL DEFAULT '{}',
    config_schema            jsonb       NOT NULL DEFAULT '{}',
    secret_fields            text[]      NOT NULL DEFAULT '{}',
    supports_webhooks        boolean     NOT NULL DEFAULT false,
    api_rate_limits          jsonb       NOT NULL DEFAULT '{}',
    installation_complexity  text,
    -- Maintained by reviews (later) and by installation lifecycle events.
    average_rating           numeric(3, 2) NOT NULL DEFAULT 0 CHECK (average_rating BETWEEN 0 AND 5),
    review_count             integer     NOT NULL DEFAULT 0 CHECK (review_count >= 0),
    install_count            integer     NOT NULL DEFAULT 0 CHECK (install_count >= 0),
    -- Registry bookkeeping: hash of the normalized registry entry, and when it left the registry.
    entry_hash               text        NOT NULL,
    removed_at               timestamptz,
    last_updated             timestamptz NOT NULL DEFAULT now(),   -- last change of the registry entry
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),   -- last change of any column
    search                   tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A') ||
        setweight(to_tsvector('english'::regconfig, coalesce(vendor, '') || ' ' || coalesce(product, '')), 'B') ||
        setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'C')
    ) STORED
);
CREATE INDEX integration_catalog_search ON integration_catalog USING gin (search);
CREATE INDEX integration_catalog_name_trgm ON integration_catalog USING gin (name gin_trgm_ops);
CREATE INDEX integration_catalog_vendor_trgm ON integration_catalog USING gin (vendor gin_trgm_ops);
CREATE INDEX integration_catalog_product_trgm ON integration_catalog USING gin (product gin_trgm_ops);
CREATE INDEX integration_catalog_capabilities ON integration_catalog USING gin (capabilities);
CREATE INDEX integration_catalog_data_types ON integration_catalog USING gin (data_types);
CREATE INDEX integration_catalog_auth_methods ON integration_catalog USING gin (auth_methods);
CREATE INDEX integration_catalog_category ON integration_catalog (category, lower(name), key);
CREATE INDEX integration_catalog_by_name ON integration_catalog (lower(name), key);
CREATE INDEX integration_catalog_by_installs ON integration_catalog (install_count DESC, key);

-- Every change the registry sync made: what a connector looked like when, and when it left.
CREATE TABLE catalog_versions (
    id               bigserial   PRIMARY KEY,
    integration_key  text        NOT NULL REFERENCES integration_catalog (key),
    change           text        NOT NULL CHECK (change IN ('added', 'version_changed', 'updated', 'removed', 'restored')),
    version          text        NOT NULL,
    previous_version text,
    entry_hash       text        NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX catalog_versions_key ON catalog_versions (integration_key, id);

-- Install-count ledger fed by installation lifecycle events: one row per installation, the latest
-- revision seen wins, and install_count moves only when `installed` flips. Redelivered or stale
-- events (revision not newer) change nothing. Also answers "installed in my organization?".
CREATE TABLE catalog_installations (
    installation_id uuid        PRIMARY KEY,
    org_id          uuid        NOT NULL,
    integration_key text        NOT NULL,
    installed       boolean     NOT NULL,
    revision        integer     NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX catalog_installations_org ON catalog_installations (org_id, integration_key) WHERE installed;
CREATE INDEX catalog_installations_key ON catalog_installations (integration_key) WHERE installed;
