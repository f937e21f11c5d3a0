-- One counter for "what list, search and facets answer": every committed change to the catalog rows
-- (registry sync, review aggregates, install counts) or to the installed-in-org ledger moves it.
-- Each HTTP worker caches answers under the version it read and drops them when it reads a newer
-- one, so a cached answer is never served after the change that made it stale has committed.
CREATE TABLE catalog_cache_version (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version   bigint  NOT NULL
);
INSERT INTO catalog_cache_version (version) VALUES (1);

-- Deferred to commit and once per transaction: the counter row is the last lock any writer takes
-- (no lock-order cycles with the catalog rows) and it is held only while the transaction commits.
CREATE FUNCTION bump_catalog_cache_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('aria.catalog_cache_bumped', true) IS DISTINCT FROM 'on' THEN
        PERFORM set_config('aria.catalog_cache_bumped', 'on', true);  -- transaction-local
        UPDATE catalog_cache_version SET version = version + 1;
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER catalog_cache_version_catalog
    AFTER INSERT OR UPDATE OR DELETE ON integration_catalog
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_catalog_cache_version();
CREATE CONSTRAINT TRIGGER catalog_cache_version_installations
    AFTER INSERT OR UPDATE OR DELETE ON catalog_installations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_catalog_cache_version();
