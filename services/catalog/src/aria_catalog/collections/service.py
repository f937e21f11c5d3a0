"""Curated collections ("EDR Suite", ...), kept equal to the data file shipped with the service."""

from __future__ import annotations

import re
import tomllib
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from aria_platform.problems import Problem

from ..catalog.service import summary_item
from . import repo

log = structlog.get_logger(__name__)
DATA_FILE = Path(__file__).with_name("collections.toml")
_SLUG = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def load(path: Path = DATA_FILE) -> list[dict[str, Any]]:
    """Parse and check the collections file; a bad file fails loudly at start, not half-applied."""
    raw = tomllib.loads(path.read_text()).get("collections", [])
    out, seen = [], set()
    for i, c in enumerate(raw):
        slug, keys = c.get("slug"), c.get("integrations", [])
        if not isinstance(slug, str) or not _SLUG.match(slug) or slug in seen:
            raise ValueError(f"{path.name}: collection {i} has a missing, malformed or repeated slug {slug!r}")
        if not isinstance(c.get("name"), str) or not c["name"].strip():
            raise ValueError(f"{path.name}: collection {slug!r} needs a name")
        if not isinstance(keys, list) or not all(isinstance(k, str) and _KEY.match(k) for k in keys) \
                or len(set(keys)) != len(keys):
            raise ValueError(f"{path.name}: collection {slug!r} integrations must be distinct connector keys")
        seen.add(slug)
        out.append({"slug": slug, "name": c["name"].strip(), "description": str(c.get("description", "")),
                    "featured": bool(c.get("featured", False)), "integrations": keys})
    return out


async def sync_collections(*, pool: asyncpg.Pool, collections: list[dict[str, Any]]) -> int:
    async with pool.acquire() as conn, conn.transaction():
        await repo.replace_all(conn, collections)
    log.info("collections synced", collections=len(collections))
    return len(collections)


def _collection(row: asyncpg.Record) -> dict[str, Any]:
    return {k: row[k] for k in ("slug", "name", "description", "featured", "tool_count")}


async def list_collections(*, pool: asyncpg.Pool, featured_only: bool = False) -> list[dict[str, Any]]:
    return [_collection(r) for r in await repo.with_counts(pool, featured_only=featured_only)]


async def get_collection(*, pool: asyncpg.Pool, slug: str, org_id: uuid.UUID) -> dict[str, Any]:
    row = await repo.one(pool, slug)
    if row is None:
        raise Problem(404, "collection_not_found", "Collection not found", f"no collection {slug!r}")
    items = await repo.entries(pool, slug=slug, org_id=org_id)
    return {**_collection(row), "integrations": [summary_item(r) for r in items]}
