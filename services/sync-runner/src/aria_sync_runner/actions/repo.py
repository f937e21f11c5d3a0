"""SQL for on-demand actions: executions (one per run id), the entities they act on, ticket links."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg


async def begin(conn: asyncpg.Connection, *, run_id: uuid.UUID, installation_id: uuid.UUID, org_id: uuid.UUID,
                action: str, entity_id: uuid.UUID | None) -> int | None:
    """The attempt number of this run (1: first; more: an earlier attempt was left pending by a
    crash), or None when the run already has an outcome and must not reach the vendor again."""
    return await conn.fetchval(
        """INSERT INTO action_executions (run_id, installation_id, org_id, action, entity_id, status)
           VALUES ($1, $2, $3, $4, $5, 'pending')
           ON CONFLICT (run_id) DO UPDATE SET attempts = action_executions.attempts + 1, updated_at = now()
              WHERE action_executions.status = 'pending'
           RETURNING attempts""", run_id, installation_id, org_id, action, entity_id)


async def finish(conn: asyncpg.Connection, *, run_id: uuid.UUID, status: str, vendor_id: str | None = None,
                 vendor_url: str | None = None, vendor_status: str | None = None, error_class: str | None = None,
                 error_message: str | None = None) -> None:
    await conn.execute(
        """UPDATE action_executions SET status = $2, vendor_id = $3, vendor_url = $4, vendor_status = $5,
                  error_class = $6, error_message = $7, updated_at = now()
           WHERE run_id = $1""", run_id, status, vendor_id, vendor_url, vendor_status, error_class, error_message)


async def execution(conn: asyncpg.Connection | asyncpg.Pool, run_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM action_executions WHERE run_id = $1", run_id)


async def remember_entity(conn: asyncpg.Connection | asyncpg.Pool, *, entity_id: uuid.UUID, org_id: uuid.UUID,
                          entity_type: str, event: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO action_entities (entity_id, org_id, entity_type, event) VALUES ($1, $2, $3, $4)
           ON CONFLICT (entity_id) DO UPDATE SET event = EXCLUDED.event, entity_type = EXCLUDED.entity_type,
                                                 updated_at = now()""", entity_id, org_id, entity_type, event)


async def entity(conn: asyncpg.Connection | asyncpg.Pool, *, org_id: uuid.UUID,
                 entity_id: uuid.UUID) -> asyncpg.Record | None:
    """Scoped to the organization: another organization's entity reads as unseen."""
    return await conn.fetchrow("SELECT entity_type, event FROM action_entities WHERE entity_id = $1 AND org_id = $2",
                               entity_id, org_id)


async def link_ticket(conn: asyncpg.Connection, *, ticket_installation_id: uuid.UUID, vendor_id: str,
                      org_id: uuid.UUID, entity_id: uuid.UUID, integration_key: str, run_id: uuid.UUID | None) -> None:
    await conn.execute(
        """INSERT INTO ticket_links (ticket_installation_id, vendor_id, org_id, entity_id, integration_key, run_id,
                                     last_status)
           VALUES ($1, $2, $3, $4, $5, $6, 'open') ON CONFLICT (ticket_installation_id, vendor_id) DO NOTHING""",
        ticket_installation_id, vendor_id, org_id, entity_id, integration_key, run_id)


async def follow_link(conn: asyncpg.Connection, *, ticket_installation_id: uuid.UUID, vendor_id: str,
                      status: str) -> asyncpg.Record | None:
    """The link of this ticket when its status changed (and records the new one); None otherwise."""
    return await conn.fetchrow(
        """UPDATE ticket_links SET last_status = $3, updated_at = now()
           WHERE ticket_installation_id = $1 AND vendor_id = $2 AND last_status IS DISTINCT FROM $3
           RETURNING entity_id, org_id, integration_key""", ticket_installation_id, vendor_id, status)


async def links_of(conn: asyncpg.Connection | asyncpg.Pool, entity_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM ticket_links WHERE entity_id = $1", entity_id)
