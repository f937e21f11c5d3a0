-- What a connector's manifest now says about itself (key features, the vendor permissions its
-- credential needs, expected setup minutes, push actions) and the quality tier it earned in the
-- conformance suite (aria_connectors/quality.json, never declared), with the criteria behind it.
-- Constant defaults: no table rewrite. Existing rows keep the defaults until the next registry sync,
-- which sees every entry's normalized hash change (the entry now carries these fields) and records
-- one 'updated' change per connector, filling them.
ALTER TABLE integration_catalog
    ADD COLUMN quality_tier         text    NOT NULL DEFAULT 'unrated'
        CONSTRAINT integration_catalog_quality_tier CHECK (quality_tier IN ('gold', 'silver', 'bronze', 'unrated')),
    ADD COLUMN quality_criteria     jsonb   NOT NULL DEFAULT '{}',
    ADD COLUMN key_features         text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN required_permissions text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN setup_minutes        integer CHECK (setup_minutes > 0),
    ADD COLUMN push_actions         jsonb   NOT NULL DEFAULT '[]';

-- quality_tier is a filter dimension: its present values join the vocabulary (same refresh as before:
-- the registry sync, whenever it changed the catalog).
DROP MATERIALIZED VIEW catalog_vocabulary;
CREATE MATERIALIZED VIEW catalog_vocabulary AS
SELECT array(SELECT DISTINCT category FROM integration_catalog) AS category,
       array(SELECT DISTINCT pricing_model FROM integration_catalog WHERE pricing_model IS NOT NULL) AS pricing_model,
       array(SELECT DISTINCT v FROM integration_catalog, unnest(capabilities) v) AS capability,
       array(SELECT DISTINCT v FROM integration_catalog, unnest(data_types) v) AS data_type,
       array(SELECT DISTINCT v FROM integration_catalog, unnest(auth_methods) v) AS auth_method,
       array(SELECT DISTINCT quality_tier FROM integration_catalog) AS quality_tier;
