-- Dedup on what the signature covers, not only the delivery id: a captured delivery sent again
-- with a new (or no) delivery id has the same signed content, so it is a duplicate, not a second
-- acceptance. NULL for rows from before (the unique index ignores them).
ALTER TABLE webhook_deliveries ADD COLUMN replay_key text;
CREATE UNIQUE INDEX webhook_deliveries_signed_once
    ON webhook_deliveries (installation_id, replay_key) WHERE status = 'accepted';
