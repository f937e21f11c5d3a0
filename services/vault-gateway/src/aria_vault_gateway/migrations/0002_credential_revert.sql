-- The version a store replaced, so that a store whose configuration never committed (the
-- installer's Postgres write failed) can be taken back: the installation keeps its previous
-- credential. NULL: nothing to go back to (the first store, or one after a shred).
ALTER TABLE integration_credentials ADD COLUMN previous_version integer;

ALTER TABLE credential_audit DROP CONSTRAINT credential_audit_action_check;
ALTER TABLE credential_audit ADD CONSTRAINT credential_audit_action_check
    CHECK (action IN ('store', 'lease', 'rotate', 'shred', 'revert'));
