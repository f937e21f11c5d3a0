"""Activity log reads and retention."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import asyncpg
import structlog

from aria_platform.auth import Principal
from aria_platform.problems import not_found

from ..installations import repo as installations
from . import repo

log = structlog.get_logger(__name__)


async def page(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID, activity_type: str | None,
               status: str | None, since: datetime | None, until: datetime | None, before_id: int | None,
               limit: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        if await installations.get(conn, org_id=principal.org_id, installation_id=installation_id) is None:
            raise not_found("installation")
        return await repo.page(conn, org_id=principal.org_id, installation_id=installation_id,
                               activity_type=activity_type, status=status, since=since, until=until,
                               before_id=before_id, limit=limit)


async def purge(*, pool: asyncpg.Pool, retention_days: int, batch: int = 5000) -> int:
    """Delete entries older than the retention, in batches; returns how many."""
    total = 0
    while True:
        async with pool.acquire() as conn:
            deleted = await repo.purge_older_than(conn, days=retention_days, batch=batch)
        total += deleted
        if deleted < batch:
            return total


async def keep_retention(*, pool: asyncpg.Pool, retention_days: int, interval_s: float) -> None:
    """Purge now and then every `interval_s`, until cancelled. Replicas may overlap: deletes are idempotent."""
    while True:
        try:
            purged = await purge(pool=pool, retention_days=retention_days)
            if purged:
                log.info("activity log purged", entries=purged, retention_days=retention_days)
        except (asyncpg.PostgresError, OSError):
            log.exception("activity log purge failed; retrying next interval")
        await asyncio.sleep(interval_s)
