-- A mapping's identity may be several candidate paths (composite keys among them), as in
-- connector manifests: the column holds the manifest's form as JSON (a path stays a JSON string).
ALTER TABLE integration_data_mappings
    ALTER COLUMN external_id TYPE jsonb USING to_jsonb(external_id);
