"""Activity log reads (retention: the platform purges the table, see main.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from aria_platform.auth import Principal
from aria_platform.problems import not_found

from ..installations import repo as installations
from . import repo


async def page(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID, activity_type: str | None,
               status: str | None, since: datetime | None, until: datetime | None, before_id: int | None,
               limit: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        if await installations.get(conn, org_id=principal.org_id, installation_id=installation_id) is None:
            raise not_found("installation")
        return await repo.page(conn, org_id=principal.org_id, installation_id=installation_id,
                               activity_type=activity_type, status=status, since=since, until=until,
                               before_id=before_id, limit=limit)

