"""SQL for sync schedules (one row per installation, newest lifecycle revision wins)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg


async def enable(conn: asyncpg.Connection, *, installation_id: uuid.UUID, org_id: uuid.UUID, integration_key: str,
                 revision: int, frequency: str, settings: dict[str, Any], credential_ref: str | None,
                 config_version: int) -> bool:
    """Newly enabled (or frequency changed): first sync due now; otherwise the next run stays. False if stale."""
    return await conn.fetchval(
        """INSERT INTO sync_schedules (installation_id, org_id, integration_key, revision, enabled, frequency, settings,
                                       credential_ref, config_version, next_run_at)
           VALUES ($1, $2, $3, $4, true, $5, $6, $7, $8, now())
           ON CONFLICT (installation_id) DO UPDATE
              SET revision = EXCLUDED.revision, enabled = true, frequency = EXCLUDED.frequency,
                  settings = EXCLUDED.settings, credential_ref = EXCLUDED.credential_ref,
                  config_version = EXCLUDED.config_version, health_due_at = now(), updated_at = now(),
                  next_run_at = CASE WHEN sync_schedules.enabled AND sync_schedules.frequency = EXCLUDED.frequency
                                     THEN sync_schedules.next_run_at ELSE now() END
              WHERE sync_schedules.revision < EXCLUDED.revision
           RETURNING true""",
        installation_id, org_id, integration_key, revision, frequency, settings, credential_ref,
        config_version) is not None


async def configure(conn: asyncpg.Connection, *, installation_id: uuid.UUID, org_id: uuid.UUID,
                    integration_key: str, revision: int, settings: dict[str, Any], credential_ref: str | None,
                    config_version: int) -> bool:
    """A new configuration (an enabled installation keeps its schedule). False if stale."""
    return await conn.fetchval(
        """INSERT INTO sync_schedules (installation_id, org_id, integration_key, revision, enabled, settings,
                                       credential_ref, config_version)
           VALUES ($1, $2, $3, $4, false, $5, $6, $7)
           ON CONFLICT (installation_id) DO UPDATE
              SET revision = EXCLUDED.revision, settings = EXCLUDED.settings,
                  credential_ref = EXCLUDED.credential_ref, config_version = EXCLUDED.config_version,
                  updated_at = now()
              WHERE sync_schedules.revision < EXCLUDED.revision
           RETURNING true""",
        installation_id, org_id, integration_key, revision, settings, credential_ref, config_version) is not None


async def disable(conn: asyncpg.Connection, *, installation_id: uuid.UUID, org_id: uuid.UUID, integration_key: str,
                  revision: int) -> bool:
    return await conn.fetchval(
        """INSERT INTO sync_schedules (installation_id, org_id, integration_key, revision, enabled)
           VALUES ($1, $2, $3, $4, false)
           ON CONFLICT (installation_id) DO UPDATE
              SET revision = EXCLUDED.revision, enabled = false, next_run_at = NULL, updated_at = now()
              WHERE sync_schedules.revision < EXCLUDED.revision
           RETURNING true""", installation_id, org_id, integration_key, revision) is not None


async def set_mappings(conn: asyncpg.Connection, *, installation_id: uuid.UUID, org_id: uuid.UUID,
                       integration_key: str, revision: int, mappings: list[dict[str, Any]]) -> bool:
    """The installation's new data mappings; False if a newer set is already stored. A row made here
    waits, disabled and at revision 0, for the lifecycle events that fill the rest."""
    return await conn.fetchval(
        """INSERT INTO sync_schedules (installation_id, org_id, integration_key, revision, enabled, mappings,
                                       mappings_revision)
           VALUES ($1, $2, $3, 0, false, $4, $5)
           ON CONFLICT (installation_id) DO UPDATE
              SET mappings = EXCLUDED.mappings, mappings_revision = EXCLUDED.mappings_revision, updated_at = now()
              WHERE sync_schedules.mappings_revision < EXCLUDED.mappings_revision
           RETURNING true""",
        installation_id, org_id, integration_key, mappings, revision) is not None


async def mappings(conn: asyncpg.Connection | asyncpg.Pool, installation_id: uuid.UUID) -> list[dict[str, Any]] | None:
    """The installation's data mappings, or None for the connector's defaults."""
    return await conn.fetchval("SELECT mappings FROM sync_schedules WHERE installation_id = $1", installation_id)


async def claim_due(conn: asyncpg.Connection, *, limit: int) -> list[asyncpg.Record]:
    """Due schedules, locked for this transaction (other replicas skip them)."""
    return await conn.fetch(
        """SELECT installation_id, org_id, integration_key, frequency, settings, credential_ref, config_version,
                  next_run_at
           FROM sync_schedules WHERE enabled AND frequency <> 'manual' AND next_run_at <= now()
           ORDER BY next_run_at LIMIT $1 FOR UPDATE SKIP LOCKED""", limit)


async def set_next_run(conn: asyncpg.Connection, installation_id: uuid.UUID, *, after_s: float) -> None:
    await conn.execute(
        """UPDATE sync_schedules SET next_run_at = now() + make_interval(secs => $2), updated_at = now()
           WHERE installation_id = $1""", installation_id, after_s)
