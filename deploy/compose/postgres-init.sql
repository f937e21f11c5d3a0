-- Run once by the postgres image on an empty data volume (docker-compose.yml): one database per
-- service, all owned by the aria role that POSTGRES_USER created.
CREATE DATABASE aria_catalog OWNER aria;
CREATE DATABASE aria_installer OWNER aria;
CREATE DATABASE aria_vault_gateway OWNER aria;
CREATE DATABASE aria_sync_runner OWNER aria;
CREATE DATABASE aria_webhook_ingest OWNER aria;
