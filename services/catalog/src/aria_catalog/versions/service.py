"""An integration's version history: every change the registry sync recorded (added, new version,
updated, removed from the registry, restored), newest first."""

from __future__ import annotations

from typing import Any

import asyncpg

from aria_platform.pagination import decode_cursor, encode_cursor, invalid_cursor
from aria_platform.problems import Problem

from . import repo


async def history_page(*, pool: asyncpg.Pool, key: str, cursor: str | None, limit: int) -> dict[str, Any]:
    before = decode_cursor(cursor, arity=1)
    if before and not (isinstance(before[0], int) and before[0] > 0):
        raise invalid_cursor()
    if not await repo.integration_exists(pool, key):
        raise Problem(404, "integration_not_found", "Integration not found", f"no integration with key {key!r}")
    rows = await repo.page(pool, key=key, before_id=before[0] if before else None, limit=limit + 1)
    items = [dict(r) for r in rows[:limit]]
    return {"items": items, "next_cursor": encode_cursor([items[-1]["id"]]) if len(rows) > limit else None,
            "limit": limit}
