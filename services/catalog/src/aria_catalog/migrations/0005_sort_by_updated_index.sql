-- sort=updated had no index: every such page was a sequential scan and a sort of the whole catalog
-- (EXPLAIN ANALYZE on 10,000 entries: 15.8 ms; with this index the first page reads ~20 rows).
CREATE INDEX integration_catalog_by_updated ON integration_catalog (last_updated DESC, key);
