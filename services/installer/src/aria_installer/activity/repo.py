"""SQL for the activity log."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg


async def add(conn: asyncpg.Connection, *, installation_id: uuid.UUID, org_id: uuid.UUID, activity_type: str,
              status: str, actor: str, message: str, details: dict | None = None) -> None:
    await conn.execute(
        """INSERT INTO integration_activity_logs (installation_id, org_id, activity_type, status, actor, message, details)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        installation_id, org_id, activity_type, status, actor, message, details or {})


async def page(conn, *, org_id: uuid.UUID, installation_id: uuid.UUID, activity_type: str | None, status: str | None,
               since: datetime | None, until: datetime | None, before_id: int | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, activity_type, status, actor, message, details, created_at FROM integration_activity_logs
           WHERE org_id = $1 AND installation_id = $2
             AND ($3::text IS NULL OR activity_type = $3) AND ($4::text IS NULL OR status = $4)
             AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR created_at < $6)
             AND ($7::bigint IS NULL OR id < $7)
           ORDER BY id DESC LIMIT $8""",
        org_id, installation_id, activity_type, status, since, until, before_id, limit)

