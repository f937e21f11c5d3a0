"""SQL for action runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

_COLS = """id, installation_id, integration_key, action, kind, destructive, input, status, requested_by, vendor_id,
           vendor_url, vendor_status, error_class, error_message, created_at, updated_at, completed_at"""


async def insert(conn: asyncpg.Connection, *, run_id: uuid.UUID, org_id: uuid.UUID, installation_id: uuid.UUID,
                 integration_key: str, action: str, kind: str, destructive: bool, input: dict[str, Any],
                 requested_by: str, idempotency_key: str, request_hash: str) -> asyncpg.Record | None:
    """The new run, or None when the organization already used this Idempotency-Key."""
    return await conn.fetchrow(
        f"""INSERT INTO action_runs (id, org_id, installation_id, integration_key, action, kind, destructive, input,
                                     status, requested_by, idempotency_key, request_hash)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11)
            ON CONFLICT (org_id, idempotency_key) DO NOTHING RETURNING {_COLS}""",
        run_id, org_id, installation_id, integration_key, action, kind, destructive, input, requested_by,
        idempotency_key, request_hash)


async def by_key(conn, *, org_id: uuid.UUID, idempotency_key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLS}, request_hash FROM action_runs WHERE org_id = $1 AND "
                               "idempotency_key = $2", org_id, idempotency_key)


async def get(conn, *, org_id: uuid.UUID, installation_id: uuid.UUID, run_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLS} FROM action_runs WHERE id = $1 AND org_id = $2 AND installation_id = $3",
                               run_id, org_id, installation_id)


async def page(conn, *, org_id: uuid.UUID, installation_id: uuid.UUID, action: str | None,
               after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_COLS} FROM action_runs WHERE org_id = $1 AND installation_id = $2
              AND ($3::text IS NULL OR action = $3)
              AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
            ORDER BY created_at DESC, id DESC LIMIT $6""",
        org_id, installation_id, action, after[0] if after else None, after[1] if after else None, limit)


async def complete(conn, *, run_id: uuid.UUID, status: str, vendor_id: str | None, vendor_url: str | None,
                   vendor_status: str | None, error_class: str | None, error_message: str | None,
                   completed_at: datetime) -> asyncpg.Record | None:
    """The run with its outcome, or None when it already had one (a redelivered completion)."""
    return await conn.fetchrow(
        f"""UPDATE action_runs SET status = $2, vendor_id = $3, vendor_url = $4, vendor_status = $5, error_class = $6,
                   error_message = $7, completed_at = $8, updated_at = now()
            WHERE id = $1 AND status = 'pending' RETURNING {_COLS}, org_id""",
        run_id, status, vendor_id, vendor_url, vendor_status, error_class, error_message, completed_at)
