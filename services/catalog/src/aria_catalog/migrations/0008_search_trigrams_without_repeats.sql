-- search_trigrams (migration 0006) without the vendor or product when the name already holds it as
-- whole words (most names do: "IBM QRadar SIEM" by IBM, "Jira Cloud"). A typo search's candidates are
-- rechecked with word similarity over this text, once per candidate, and that recheck was the largest
-- part of a search's Postgres time; its cost grows with the text's length. Still a superset of the
-- per-field matches: a field is left out only if it occurs in the name as the same characters between
-- spaces (case-sensitive, so pg_trgm splits it into the same words there), which keeps its trigrams
-- contiguous in this text, as the concatenation did.
DROP INDEX integration_catalog_search_trgm;
ALTER TABLE integration_catalog DROP COLUMN search_trigrams;
ALTER TABLE integration_catalog ADD COLUMN search_trigrams text GENERATED ALWAYS AS (
    name
    || CASE WHEN strpos(' ' || name || ' ', ' ' || vendor || ' ') > 0 THEN '' ELSE ' ' || vendor END
    || CASE WHEN product IS NULL OR strpos(' ' || name || ' ', ' ' || product || ' ') > 0 THEN ''
            ELSE ' ' || product END) STORED;
ALTER TABLE integration_catalog ALTER COLUMN search_trigrams SET STATISTICS 0;
CREATE INDEX integration_catalog_search_trgm ON integration_catalog USING gin (search_trigrams gin_trgm_ops)
    WITH (fastupdate = off);
