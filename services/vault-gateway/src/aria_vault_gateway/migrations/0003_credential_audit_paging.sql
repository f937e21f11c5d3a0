-- The installer pages an installation's audit trail newest first by id (keyset: id < before_id).
CREATE INDEX credential_audit_installation_id ON credential_audit (installation_id, id DESC);
