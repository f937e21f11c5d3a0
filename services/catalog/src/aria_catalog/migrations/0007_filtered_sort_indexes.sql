-- A page of one category in any sort order, and the rating sort, read from an index in the page's
-- order: the scan stops after the page instead of collecting and sorting the whole category (or the
-- catalog). With `category = $n` (repo.py writes `=` for a single value; `= ANY` cannot give index
-- order). Benchmark catalog (10,000 entries), its 300 cold lists: buffers per list 309 -> 162; a
-- category sorted by installs or rating 575-695 -> 52-65.
CREATE INDEX integration_catalog_category_installs ON integration_catalog (category, install_count DESC, key);
CREATE INDEX integration_catalog_category_rating ON integration_catalog (category, average_rating DESC, key);
CREATE INDEX integration_catalog_category_updated ON integration_catalog (category, last_updated DESC, key);
CREATE INDEX integration_catalog_by_rating_key ON integration_catalog (average_rating DESC, key);
