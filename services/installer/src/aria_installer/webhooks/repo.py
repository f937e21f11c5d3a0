"""SQL for integration_webhooks: the reference of each installation's webhook signing secret."""

from __future__ import annotations

import uuid

import asyncpg


async def record_rotation(conn: asyncpg.Connection, *, installation_id: uuid.UUID, org_id: uuid.UUID,
                          credential_ref: uuid.UUID, secret_version: int, rotated_by: str) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO integration_webhooks (installation_id, org_id, credential_ref, secret_version, rotated_by)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (installation_id) DO UPDATE
              SET credential_ref = EXCLUDED.credential_ref, secret_version = EXCLUDED.secret_version,
                  rotated_by = EXCLUDED.rotated_by, rotated_at = now()
           RETURNING credential_ref, secret_version, rotated_by, rotated_at""",
        installation_id, org_id, credential_ref, secret_version, rotated_by)


async def get(conn: asyncpg.Connection, *, installation_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT credential_ref, secret_version, rotated_by, rotated_at FROM integration_webhooks WHERE installation_id = $1",
        installation_id)
