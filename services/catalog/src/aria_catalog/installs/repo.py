"""SQL for the install-count ledger and the catalog's install_count."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg


async def lock_integration(conn: asyncpg.Connection, integration_key: str) -> None:
    """Serialize ledger changes per integration (also against a sync inserting that key)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('catalog-installs:' || $1, 0))",
                       integration_key)


async def ledger_row(conn: asyncpg.Connection, installation_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT installation_id, org_id, integration_key, installed, revision FROM catalog_installations "
        "WHERE installation_id = $1 FOR UPDATE", installation_id)


async def upsert_ledger(conn: asyncpg.Connection, *, installation_id: uuid.UUID, org_id: uuid.UUID,
                        integration_key: str, installed: bool, revision: int) -> None:
    await conn.execute(
        """INSERT INTO catalog_installations (installation_id, org_id, integration_key, installed, revision)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (installation_id) DO UPDATE
              SET installed = EXCLUDED.installed, revision = EXCLUDED.revision, updated_at = now()""",
        installation_id, org_id, integration_key, installed, revision)


async def add_to_install_count(conn: asyncpg.Connection, integration_key: str, delta: int) -> None:
    await conn.execute(
        """UPDATE integration_catalog SET install_count = greatest(install_count + $2, 0), updated_at = now()
           WHERE key = $1""", integration_key, delta)


# Milestone → its column; each keeps the earliest time seen (LEAST ignores NULL).
_MILESTONE_COLUMNS = {"installed": "installed_at", "enabled": "first_enabled_at"}


async def record_milestone(conn: asyncpg.Pool | asyncpg.Connection, *, installation_id: uuid.UUID,
                           integration_key: str, milestone: str, at: datetime) -> None:
    column = _MILESTONE_COLUMNS[milestone]
    await conn.execute(
        f"""INSERT INTO catalog_installation_setup AS s (installation_id, integration_key, {column})
            VALUES ($1, $2, $3)
            ON CONFLICT (installation_id) DO UPDATE SET {column} = least(s.{column}, EXCLUDED.{column})""",
        installation_id, integration_key, at)


async def setup_time(conn: asyncpg.Pool | asyncpg.Connection, *, key: str) -> asyncpg.Record:
    """Average seconds from installed to first enabled, over installations that completed setup."""
    return await conn.fetchrow(
        """SELECT count(*)::int AS installations,
                  avg(extract(epoch FROM first_enabled_at - installed_at))::float AS average_s
             FROM catalog_installation_setup
            WHERE integration_key = $1 AND installed_at IS NOT NULL AND first_enabled_at IS NOT NULL
              AND first_enabled_at >= installed_at""", key)
