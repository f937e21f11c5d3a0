"""SQL for push deliveries: one row per (installation, entity, action)."""

from __future__ import annotations

import uuid

import asyncpg


async def begin(conn: asyncpg.Connection, *, installation_id: uuid.UUID, entity_id: uuid.UUID, action: str,
                org_id: uuid.UUID) -> bool:
    """True when this push should be attempted: new, left pending by a crash, or failed before.
    Delivered and outcome-unknown deliveries are never attempted again."""
    return await conn.fetchval(
        """INSERT INTO push_deliveries (installation_id, entity_id, action, org_id, status, attempts)
           VALUES ($1, $2, $3, $4, 'pending', 1)
           ON CONFLICT (installation_id, entity_id, action) DO UPDATE
              SET status = 'pending', attempts = push_deliveries.attempts + 1, updated_at = now()
              WHERE push_deliveries.status IN ('pending', 'failed')
           RETURNING true""", installation_id, entity_id, action, org_id) is not None


async def delivered(conn: asyncpg.Connection, *, installation_id: uuid.UUID, entity_id: uuid.UUID, action: str,
                    vendor_id: str, vendor_url: str | None) -> None:
    await conn.execute(
        """UPDATE push_deliveries SET status = 'delivered', vendor_id = $4, vendor_url = $5, error_class = NULL,
                  error_message = NULL, updated_at = now()
           WHERE installation_id = $1 AND entity_id = $2 AND action = $3""",
        installation_id, entity_id, action, vendor_id, vendor_url)


async def undelivered(conn: asyncpg.Connection, *, installation_id: uuid.UUID, entity_id: uuid.UUID, action: str,
                      status: str, error_class: str, error_message: str) -> None:
    await conn.execute(
        """UPDATE push_deliveries SET status = $4, error_class = $5, error_message = $6, updated_at = now()
           WHERE installation_id = $1 AND entity_id = $2 AND action = $3""",
        installation_id, entity_id, action, status, error_class, error_message)


async def get(conn: asyncpg.Connection | asyncpg.Pool, *, installation_id: uuid.UUID,
              entity_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM push_deliveries WHERE installation_id = $1 AND entity_id = $2", installation_id, entity_id)
