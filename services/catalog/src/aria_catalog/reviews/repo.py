"""SQL for reviews, votes, vendor responses and the catalog's rating aggregate."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

# Columns a reviewer writes (API name → column).
REVIEW_FIELDS = {"rating": "rating", "title": "title", "text": "body", "pros": "pros", "cons": "cons",
                 "would_recommend": "would_recommend", "ease_of_setup": "ease_of_setup",
                 "documentation_quality": "documentation_quality", "support_quality": "support_quality"}

# $1 = caller's org, $2 = caller's subject: `mine` and `my_vote` are per caller.
_SELECT = """SELECT r.id, r.integration_key, r.rating, r.title, r.body AS text, r.pros, r.cons, r.would_recommend,
                    r.ease_of_setup, r.documentation_quality, r.support_quality, r.verified, r.helpful_count,
                    r.not_helpful_count, r.helpfulness, r.vendor_response, r.vendor_responder,
                    r.vendor_responded_at, r.created_at, r.updated_at,
                    (r.org_id = $1 AND r.user_id = $2) AS mine, v.helpful AS my_vote
             FROM integration_reviews r
             LEFT JOIN integration_review_votes v ON v.review_id = r.id AND v.org_id = $1 AND v.user_id = $2"""

# Sort → (ORDER BY, keyset condition over the cursor's values starting at $4).
SORTS = {
    "newest": ("r.created_at DESC, r.id DESC", "(r.created_at, r.id) < ($4, $5)"),
    "most_helpful": ("r.helpfulness DESC, r.created_at DESC, r.id DESC",
                     "(r.helpfulness, r.created_at, r.id) < ($4, $5, $6)"),
}


async def lock_integration(conn: asyncpg.Connection, key: str) -> bool:
    """Serialize review writes per integration so the aggregate recomputed after them is exact."""
    return await conn.fetchval(
        "SELECT true FROM integration_catalog WHERE key = $1 FOR NO KEY UPDATE", key) is not None


async def exists_integration(conn: asyncpg.Pool | asyncpg.Connection, key: str) -> bool:
    return await conn.fetchval("SELECT true FROM integration_catalog WHERE key = $1", key) is not None


async def org_has_live_installation(conn: asyncpg.Connection, *, org_id: uuid.UUID, key: str) -> bool:
    return await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM catalog_installations
                          WHERE org_id = $1 AND integration_key = $2 AND installed)""", org_id, key)


async def own_review_id(conn: asyncpg.Connection, *, key: str, org_id: uuid.UUID, user_id: str) -> uuid.UUID | None:
    return await conn.fetchval(
        "SELECT id FROM integration_reviews WHERE integration_key = $1 AND org_id = $2 AND user_id = $3",
        key, org_id, user_id)


async def insert_review(conn: asyncpg.Connection, *, review_id: uuid.UUID, key: str, org_id: uuid.UUID,
                        user_id: str, fields: dict[str, Any], verified: bool) -> None:
    columns = [REVIEW_FIELDS[f] for f in fields]
    placeholders = ", ".join(f"${i}" for i in range(6, 6 + len(columns)))
    await conn.execute(
        f"""INSERT INTO integration_reviews (id, integration_key, org_id, user_id, verified, {", ".join(columns)})
            VALUES ($1, $2, $3, $4, $5, {placeholders})""",
        review_id, key, org_id, user_id, verified, *fields.values())


async def review_for_update(conn: asyncpg.Connection, *, key: str, review_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, org_id, user_id FROM integration_reviews WHERE id = $1 AND integration_key = $2 FOR UPDATE",
        review_id, key)


async def update_review(conn: asyncpg.Connection, *, review_id: uuid.UUID, changes: dict[str, Any],
                        verified: bool) -> None:
    sets = ", ".join(f"{REVIEW_FIELDS[f]} = ${i}" for i, f in enumerate(changes, start=3))
    await conn.execute(
        f"UPDATE integration_reviews SET {sets}, verified = $2, updated_at = now() WHERE id = $1",
        review_id, verified, *changes.values())


async def delete_review(conn: asyncpg.Connection, review_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM integration_reviews WHERE id = $1", review_id)


async def refresh_rating(conn: asyncpg.Connection, key: str) -> None:
    """Recompute the catalog's average and count from the reviews (caller holds the integration lock)."""
    await conn.execute(
        """UPDATE integration_catalog c
              SET average_rating = coalesce(s.average, 0), review_count = s.n, updated_at = now()
             FROM (SELECT round(avg(rating), 2) AS average, count(*)::int AS n
                     FROM integration_reviews WHERE integration_key = $1) s
            WHERE c.key = $1""", key)


async def upsert_vote(conn: asyncpg.Connection, *, review_id: uuid.UUID, org_id: uuid.UUID, user_id: str,
                      helpful: bool) -> None:
    await conn.execute(
        """INSERT INTO integration_review_votes (review_id, org_id, user_id, helpful) VALUES ($1, $2, $3, $4)
           ON CONFLICT (review_id, org_id, user_id) DO UPDATE SET helpful = EXCLUDED.helpful, voted_at = now()""",
        review_id, org_id, user_id, helpful)


async def delete_vote(conn: asyncpg.Connection, *, review_id: uuid.UUID, org_id: uuid.UUID, user_id: str) -> None:
    await conn.execute("DELETE FROM integration_review_votes WHERE review_id = $1 AND org_id = $2 AND user_id = $3",
                       review_id, org_id, user_id)


async def refresh_votes(conn: asyncpg.Connection, review_id: uuid.UUID) -> None:
    """Recompute a review's vote counts from its votes (caller holds the review's row lock)."""
    await conn.execute(
        """UPDATE integration_reviews r SET helpful_count = s.helpful, not_helpful_count = s.not_helpful
             FROM (SELECT count(*) FILTER (WHERE helpful)::int AS helpful,
                          count(*) FILTER (WHERE NOT helpful)::int AS not_helpful
                     FROM integration_review_votes WHERE review_id = $1) s
            WHERE r.id = $1""", review_id)


async def set_vendor_response(conn: asyncpg.Connection, *, review_id: uuid.UUID, text: str | None,
                              responder: str | None) -> None:
    await conn.execute(
        """UPDATE integration_reviews SET vendor_response = $2, vendor_responder = $3,
                  vendor_responded_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END
            WHERE id = $1""", review_id, text, responder)


async def integration_vendor(conn: asyncpg.Connection, key: str) -> str | None:
    return await conn.fetchval("SELECT vendor FROM integration_catalog WHERE key = $1", key)


async def get_review(conn: asyncpg.Pool | asyncpg.Connection, *, key: str, review_id: uuid.UUID,
                     org_id: uuid.UUID, user_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_SELECT} WHERE r.id = $3 AND r.integration_key = $4",
                               org_id, user_id, review_id, key)


async def list_page(conn: asyncpg.Pool | asyncpg.Connection, *, key: str, org_id: uuid.UUID, user_id: str,
                    sort: str, after: list[Any] | None, limit: int) -> list[asyncpg.Record]:
    order_sql, keyset_sql = SORTS[sort]
    args: list[Any] = [org_id, user_id, key]
    where = "r.integration_key = $3"
    if after is not None:
        where += " AND " + keyset_sql
        args += after
    args.append(limit)
    return await conn.fetch(f"{_SELECT} WHERE {where} ORDER BY {order_sql} LIMIT ${len(args)}", *args)


async def summary(conn: asyncpg.Pool | asyncpg.Connection, key: str) -> asyncpg.Record:
    return await conn.fetchrow(
        """SELECT count(*)::int AS review_count, round(avg(rating), 2) AS average_rating,
                  count(*) FILTER (WHERE rating = 1)::int AS r1, count(*) FILTER (WHERE rating = 2)::int AS r2,
                  count(*) FILTER (WHERE rating = 3)::int AS r3, count(*) FILTER (WHERE rating = 4)::int AS r4,
                  count(*) FILTER (WHERE rating = 5)::int AS r5,
                  count(*) FILTER (WHERE verified)::int AS verified_count,
                  round(100.0 * count(*) FILTER (WHERE would_recommend) / nullif(count(would_recommend), 0), 1)
                      AS would_recommend_pct,
                  round(avg(ease_of_setup), 2) AS ease_of_setup, round(avg(documentation_quality), 2)
                      AS documentation_quality, round(avg(support_quality), 2) AS support_quality
             FROM integration_reviews WHERE integration_key = $1""", key)

