-- The installation's own webhook signing secret (vault-gateway credential 'webhook_signing'),
-- preferred over the connector credential's signing field when set. A reference, never a secret.
ALTER TABLE webhook_endpoints ADD COLUMN webhook_credential_ref text;
