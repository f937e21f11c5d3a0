-- Try demo: a sandbox installation against the connector's simulator, marked as such. An
-- organization may have one live demo of an integration next to its real installation.
ALTER TABLE integration_installations ADD COLUMN demo boolean NOT NULL DEFAULT false;
DROP INDEX installations_one_live;
CREATE UNIQUE INDEX installations_one_live ON integration_installations (org_id, integration_key, demo)
    WHERE uninstalled_at IS NULL;
