"""SQL for webhook_deliveries: dedup of accepted deliveries and the audit of every attempt."""

from __future__ import annotations

import uuid

import asyncpg

_COLUMNS = "id, installation_id, org_id, delivery_id, payload_sha256, status, reason, event_count, received_at"


async def insert_accepted(conn: asyncpg.Connection, *, installation_id: uuid.UUID, org_id: uuid.UUID,
                          delivery_id: str, payload_sha256: str, event_count: int) -> int | None:
    """The delivery's row, or None when this delivery id was already accepted (a replay).

    A concurrent insert of the same delivery waits here until the other transaction ends, so
    of two racing copies exactly one is accepted."""
    return await conn.fetchval(
        """INSERT INTO webhook_deliveries
               (installation_id, org_id, delivery_id, payload_sha256, status, event_count)
            VALUES ($1, $2, $3, $4, 'accepted', $5)
            ON CONFLICT (installation_id, delivery_id) WHERE status = 'accepted' DO NOTHING
            RETURNING id""",
        installation_id, org_id, delivery_id, payload_sha256, event_count)


async def insert_outcome(conn: asyncpg.Connection | asyncpg.Pool, *, installation_id: uuid.UUID, org_id: uuid.UUID,
                         delivery_id: str | None, payload_sha256: str | None, status: str,
                         reason: str | None) -> int:
    """A duplicate or rejected delivery, for the activity log (never the body, never a secret)."""
    return await conn.fetchval(
        """INSERT INTO webhook_deliveries (installation_id, org_id, delivery_id, payload_sha256, status, reason)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        installation_id, org_id, delivery_id, payload_sha256, status, reason)


async def list_deliveries(conn: asyncpg.Pool, *, installation_id: uuid.UUID, org_id: uuid.UUID | None,
                          before_id: int | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM webhook_deliveries
            WHERE installation_id = $1 AND ($2::uuid IS NULL OR org_id = $2)
              AND ($3::bigint IS NULL OR id < $3)
            ORDER BY id DESC LIMIT $4""",
        installation_id, org_id, before_id, limit)
