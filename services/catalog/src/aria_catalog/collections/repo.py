"""SQL for curated collections and their items."""

from __future__ import annotations

import uuid

import asyncpg

from ..catalog.repo import summary_select

SYNC_LOCK = 7340102  # one collections sync at a time across replicas

_WITH_COUNTS = """SELECT k.slug, k.name, k.description, k.featured, k.sort_order,
                         (SELECT count(*)::int FROM integration_collection_items i
                            JOIN integration_catalog c ON c.key = i.integration_key AND NOT c.is_deprecated
                           WHERE i.collection_slug = k.slug) AS tool_count
                  FROM integration_collections k"""


async def replace_all(conn: asyncpg.Connection, collections: list[dict]) -> None:
    """Make the tables hold exactly `collections` (slug, name, description, featured, integrations)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", SYNC_LOCK)
    await conn.execute("DELETE FROM integration_collections WHERE NOT slug = ANY($1::text[])",
                       [c["slug"] for c in collections])
    for order, c in enumerate(collections):
        await conn.execute(
            """INSERT INTO integration_collections (slug, name, description, featured, sort_order)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
                   featured = EXCLUDED.featured, sort_order = EXCLUDED.sort_order, updated_at = now()""",
            c["slug"], c["name"], c["description"], c["featured"], order)
        await conn.execute("DELETE FROM integration_collection_items WHERE collection_slug = $1", c["slug"])
        await conn.executemany(
            "INSERT INTO integration_collection_items (collection_slug, integration_key, sort_order) "
            "VALUES ($1, $2, $3)", [(c["slug"], key, i) for i, key in enumerate(c["integrations"])])


async def with_counts(conn: asyncpg.Pool | asyncpg.Connection, *, featured_only: bool) -> list[asyncpg.Record]:
    where = " WHERE k.featured" if featured_only else ""
    return await conn.fetch(f"{_WITH_COUNTS}{where} ORDER BY k.sort_order, k.slug")


async def one(conn: asyncpg.Pool | asyncpg.Connection, slug: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_WITH_COUNTS} WHERE k.slug = $1", slug)


async def entries(conn: asyncpg.Pool | asyncpg.Connection, *, slug: str, org_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {summary_select("$2")} FROM integration_collection_items i
            JOIN integration_catalog c ON c.key = i.integration_key AND NOT c.is_deprecated
            WHERE i.collection_slug = $1 ORDER BY i.sort_order""", slug, org_id)
