"""The marketplace homepage: featured collections, top-rated integrations, browse by category."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from ..catalog import service as catalog
from ..collections import service as collections

TOP_RATED = 8


async def home(*, pool: asyncpg.Pool, org_id: uuid.UUID) -> dict[str, Any]:
    return {
        "featured_collections": await collections.list_collections(pool=pool, featured_only=True),
        "top_rated": await catalog.top_rated(pool=pool, org_id=org_id, limit=TOP_RATED),
        "categories": await catalog.category_counts(pool=pool, org_id=org_id),
    }
