"""SQL for installation health (kept on the schedule row of the installation)."""

from __future__ import annotations

import uuid

import asyncpg


async def set_status(conn: asyncpg.Connection, installation_id: uuid.UUID, status: str) -> bool:
    """Store the status; True when it differs from the stored one (or the installation has no row)."""
    previous = await conn.fetchrow(
        """WITH old AS (SELECT health_status FROM sync_schedules WHERE installation_id = $1 FOR UPDATE)
           UPDATE sync_schedules s SET health_status = $2 FROM old
           WHERE s.installation_id = $1 RETURNING old.health_status""", installation_id, status)
    return previous is None or previous["health_status"] != status


async def claim_due(conn: asyncpg.Connection, *, interval_s: float, limit: int) -> list[asyncpg.Record]:
    """Enabled installations due a health check; their next check is moved ahead so other replicas skip them."""
    return await conn.fetch(
        """UPDATE sync_schedules s SET health_due_at = now() + make_interval(secs => $1)
           FROM (SELECT installation_id FROM sync_schedules WHERE enabled AND health_due_at <= now()
                 ORDER BY health_due_at LIMIT $2 FOR UPDATE SKIP LOCKED) due
           WHERE s.installation_id = due.installation_id
           RETURNING s.installation_id, s.org_id, s.integration_key, s.settings, s.credential_ref,
                     s.config_version""",
        interval_s, limit)
