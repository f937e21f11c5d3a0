"""SQL for credential metadata and the audit trail."""

from __future__ import annotations

import uuid

import asyncpg

_COLUMNS = """credential_ref, org_id, installation_id, name, kind, current_version, field_names,
              rotation_frequency_days, auto_rotate, expires_at, last_rotated_at, created_at, updated_at, shredded_at"""


async def upsert_credential(conn: asyncpg.Connection, *, org_id: uuid.UUID, installation_id: uuid.UUID, name: str,
                            kind: str, version: int, field_names: list[str], rotation_frequency_days: int | None,
                            actor: str) -> asyncpg.Record:
    """The credential's new version and its `store ok` audit row, in one statement (one round trip)."""
    return await conn.fetchrow(
        f"""WITH credential AS (
                INSERT INTO integration_credentials
                   (credential_ref, org_id, installation_id, name, kind, current_version, field_names,
                    rotation_frequency_days, auto_rotate)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8::integer, $8::integer IS NOT NULL)
                ON CONFLICT (installation_id, name) DO UPDATE
                   SET current_version = EXCLUDED.current_version,
                       previous_version = CASE WHEN integration_credentials.shredded_at IS NULL
                                               THEN integration_credentials.current_version END,
                       field_names = EXCLUDED.field_names,
                       kind = EXCLUDED.kind, rotation_frequency_days = EXCLUDED.rotation_frequency_days,
                       auto_rotate = EXCLUDED.auto_rotate, updated_at = now(), shredded_at = NULL
                RETURNING {_COLUMNS}),
            audited AS (
                INSERT INTO credential_audit (credential_ref, org_id, installation_id, action, actor, outcome)
                SELECT credential_ref, org_id, installation_id, 'store', $9, 'ok' FROM credential)
            SELECT {_COLUMNS} FROM credential""",
        uuid.uuid4(), org_id, installation_id, name, kind, version, field_names, rotation_frequency_days, actor,
    )


async def get_credential(conn: asyncpg.Connection, credential_ref: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM integration_credentials WHERE credential_ref = $1",
                               credential_ref)


async def credentials_of_installation(conn: asyncpg.Connection, installation_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_COLUMNS} FROM integration_credentials WHERE installation_id = $1",
                            installation_id)


async def record_rotation(conn: asyncpg.Connection, credential_ref: uuid.UUID, version: int) -> None:
    await conn.execute(
        """UPDATE integration_credentials SET current_version = $2, last_rotated_at = now(), updated_at = now()
           WHERE credential_ref = $1""", credential_ref, version)


async def revert_store(conn: asyncpg.Connection, credential_ref: uuid.UUID, version: int) -> asyncpg.Record | None:
    """Point the credential back at the version `version` replaced, if `version` is still current
    (a later store or rotation wins); None when it is not, or there is nothing to go back to."""
    return await conn.fetchrow(
        f"""UPDATE integration_credentials
               SET current_version = previous_version, previous_version = NULL, updated_at = now()
             WHERE credential_ref = $1 AND current_version = $2 AND previous_version IS NOT NULL
               AND shredded_at IS NULL
         RETURNING {_COLUMNS}""", credential_ref, version)


async def mark_shredded(conn: asyncpg.Connection, installation_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE integration_credentials SET shredded_at = now(), updated_at = now() WHERE installation_id = $1",
        installation_id)


async def due_for_rotation(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM integration_credentials
            WHERE auto_rotate AND shredded_at IS NULL AND rotation_frequency_days IS NOT NULL
              AND coalesce(last_rotated_at, created_at) + make_interval(days => rotation_frequency_days) < now()""")


async def audit(conn: asyncpg.Connection | asyncpg.Pool, *, credential_ref: uuid.UUID | None, org_id: uuid.UUID | None,
                installation_id: uuid.UUID, action: str, actor: str, outcome: str, reason: str | None = None) -> None:
    await conn.execute(
        """INSERT INTO credential_audit (credential_ref, org_id, installation_id, action, actor, outcome, reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        credential_ref, org_id, installation_id, action, actor, outcome, reason)


async def audit_trail(conn: asyncpg.Pool, installation_id: uuid.UUID, *, limit: int,
                      before_id: int | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, credential_ref, installation_id, action, actor, outcome, reason, at FROM credential_audit
           WHERE installation_id = $1 AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $2""",
        installation_id, limit, before_id)
