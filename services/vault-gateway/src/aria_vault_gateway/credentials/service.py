"""Store, lease, rotate and shred credentials. Plain functions; adapters live in views/events."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
import structlog

from aria_contracts.events import CredentialShredded, CredentialStored
from aria_platform.outbox import enqueue, traced
from aria_platform.problems import Problem

from ..vault import CredentialUnreadable, Vault, VaultUnavailable
from . import repo

log = structlog.get_logger(__name__)
SOURCE = "vault-gateway"


def vault_unavailable(reason: str) -> Problem:
    return Problem(503, "vault_unavailable", "Credential store unavailable",
                   f"Vault is unavailable ({reason}); nothing was written", headers={"Retry-After": "5"})


async def store_credential(*, pool: asyncpg.Pool, vault: Vault, actor: str, org_id: uuid.UUID,
                           installation_id: uuid.UUID, name: str, kind: str, secrets: dict[str, str],
                           rotation_frequency_days: int | None) -> asyncpg.Record:
    """Vault first: if it fails nothing reaches Postgres. Metadata + event commit together."""
    try:
        version = await vault.store(installation_id=installation_id, name=name, secrets=secrets)
    except VaultUnavailable as exc:
        await repo.audit(pool, credential_ref=None, org_id=org_id, installation_id=installation_id,
                         action="store", actor=actor, outcome="failed", reason="vault unavailable")
        raise vault_unavailable(str(exc)) from None
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.upsert_credential(conn, org_id=org_id, installation_id=installation_id, name=name, kind=kind,
                                           version=version, field_names=sorted(secrets),
                                           rotation_frequency_days=rotation_frequency_days, actor=actor)
        await enqueue(conn, traced(
            CredentialStored(installation_id=installation_id, org_id=org_id, credential_ref=str(row["credential_ref"]),
                             version=version, kind=kind),
            source=SOURCE, org_id=org_id, installation_id=installation_id))
    return row


async def lease_credential(*, pool: asyncpg.Pool, vault: Vault, actor: str, credential_ref: uuid.UUID,
                           installation_id: uuid.UUID, ttl_s: int) -> dict:
    """Decrypted secrets for one installation's credential, to a service allowed to lease."""
    # One connection for the read and the audit row (the pool resets a connection on every
    # release: one reset instead of two); it is held across the one Vault call (5 s timeout).
    async with pool.acquire() as conn:
        row = await repo.get_credential(conn, credential_ref)

        async def audit(outcome: str, reason: str | None = None) -> None:
            await repo.audit(conn, credential_ref=credential_ref, org_id=row["org_id"] if row else None,
                             installation_id=installation_id, action="lease", actor=actor, outcome=outcome,
                             reason=reason)

        if row is None or row["installation_id"] != installation_id or row["shredded_at"] is not None:
            # One answer for "missing", "someone else's" and "shredded": no oracle for probing refs.
            await audit("denied", "no such credential for this installation")
            raise Problem(404, "credential_not_found", "Credential not found",
                          "no live credential with this reference for this installation")
        try:
            secrets = await vault.read(installation_id=installation_id, name=row["name"],
                                       version=row["current_version"])
        except VaultUnavailable as exc:
            await audit("failed", "vault unavailable")
            raise vault_unavailable(str(exc)) from None
        except CredentialUnreadable:
            await audit("failed", "unreadable")
            raise Problem(410, "credential_destroyed", "Credential destroyed", "the credential can no longer be read")
        await audit("ok")
    return {
        "credential_ref": str(credential_ref),
        "version": row["current_version"],
        "secrets": secrets,
        "expires_at": (datetime.now(timezone.utc) + timedelta(seconds=ttl_s)).isoformat(),
    }


async def revert_store(*, pool: asyncpg.Pool, actor: str, credential_ref: uuid.UUID, version: int) -> asyncpg.Record:
    """Take back the store of `version`: the configuration it was for did not commit, so leases go
    on decrypting the version before it (Postgres only; the KV version stays, unreferenced)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.revert_store(conn, credential_ref, version)
        if row is None:
            current = await repo.get_credential(conn, credential_ref)
            if current is None:
                raise Problem(404, "credential_not_found", "Credential not found",
                              "no live credential with this reference")
            await repo.audit(conn, credential_ref=credential_ref, org_id=current["org_id"],
                             installation_id=current["installation_id"], action="revert", actor=actor,
                             outcome="denied", reason=f"version {version} is not current or replaced nothing")
            raise Problem(409, "version_not_current", "Version is not current",
                          f"version {version} is not the current version or replaced none")
        await repo.audit(conn, credential_ref=credential_ref, org_id=row["org_id"],
                         installation_id=row["installation_id"], action="revert", actor=actor, outcome="ok",
                         reason=f"store of version {version} taken back")
        return row


async def rotate_credential(*, pool: asyncpg.Pool, vault: Vault, actor: str, credential_ref: uuid.UUID) -> asyncpg.Record:
    """Rotate the installation's key and rewrap the stored ciphertext to the new key version."""
    row = await repo.get_credential(pool, credential_ref)
    if row is None or row["shredded_at"] is not None:
        raise Problem(404, "credential_not_found", "Credential not found", "no live credential with this reference")
    try:
        version = await vault.rotate_key(installation_id=row["installation_id"], name=row["name"])
    except VaultUnavailable as exc:
        await repo.audit(pool, credential_ref=credential_ref, org_id=row["org_id"],
                         installation_id=row["installation_id"], action="rotate", actor=actor, outcome="failed",
                         reason="vault unavailable")
        raise vault_unavailable(str(exc)) from None
    async with pool.acquire() as conn, conn.transaction():
        await repo.record_rotation(conn, credential_ref, version)
        await repo.audit(conn, credential_ref=credential_ref, org_id=row["org_id"],
                         installation_id=row["installation_id"], action="rotate", actor=actor, outcome="ok")
        await enqueue(conn, traced(
            CredentialStored(installation_id=row["installation_id"], org_id=row["org_id"],
                             credential_ref=str(credential_ref), version=version, kind=row["kind"]),
            source=SOURCE, org_id=row["org_id"], installation_id=row["installation_id"]))
        return await repo.get_credential(conn, credential_ref)


async def rotate_due_credentials(*, pool: asyncpg.Pool, vault: Vault) -> int:
    """Scheduled rotation by each credential's rotation frequency."""
    rotated = 0
    for row in await repo.due_for_rotation(pool):
        await rotate_credential(pool=pool, vault=vault, actor="scheduler", credential_ref=row["credential_ref"])
        rotated += 1
    return rotated


async def shred_installation(*, pool: asyncpg.Pool, vault: Vault, actor: str, installation_id: uuid.UUID,
                             org_id: uuid.UUID | None, only_kind: str | None = None) -> int:
    """Crypto-shred every credential of an installation (or outbound endpoint). Idempotent.
    ``only_kind``: refuse (403) unless every credential under this id is of that kind."""
    rows = await repo.credentials_of_installation(pool, installation_id)
    if only_kind is not None and any(r["kind"] != only_kind for r in rows):
        raise Problem(403, "service_not_allowed", "Forbidden", f"only credentials of kind {only_kind} may be shredded")
    try:
        await vault.shred(installation_id=installation_id, names=[r["name"] for r in rows])
    except VaultUnavailable as exc:
        raise vault_unavailable(str(exc)) from None
    async with pool.acquire() as conn, conn.transaction():
        await repo.mark_shredded(conn, installation_id)
        for row in rows:
            await repo.audit(conn, credential_ref=row["credential_ref"], org_id=row["org_id"],
                             installation_id=installation_id, action="shred", actor=actor, outcome="ok")
            if row["shredded_at"] is None:
                await enqueue(conn, traced(
                    CredentialShredded(installation_id=installation_id, org_id=row["org_id"],
                                       credential_ref=str(row["credential_ref"])),
                    source=SOURCE, org_id=row["org_id"], installation_id=installation_id))
    return len(rows)


async def audit_trail(*, pool: asyncpg.Pool, installation_id: uuid.UUID, limit: int,
                      before_id: int | None = None) -> list[dict]:
    return [dict(r) for r in await repo.audit_trail(pool, installation_id, limit=limit, before_id=before_id)]
