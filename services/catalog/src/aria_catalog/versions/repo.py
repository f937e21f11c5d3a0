"""SQL for reading an integration's version history (catalog_versions, written by registry_sync)."""

from __future__ import annotations

import asyncpg


async def integration_exists(conn: asyncpg.Pool, key: str) -> bool:
    return await conn.fetchval("SELECT true FROM integration_catalog WHERE key = $1", key) is not None


async def page(conn: asyncpg.Pool, *, key: str, before_id: int | None, limit: int) -> list[asyncpg.Record]:
    """Newest first (keyset on id, the catalog_versions_key index)."""
    return await conn.fetch(
        """SELECT id, change, version, previous_version, recorded_at FROM catalog_versions
           WHERE integration_key = $1 AND ($2::bigint IS NULL OR id < $2)
           ORDER BY id DESC LIMIT $3""", key, before_id, limit)
