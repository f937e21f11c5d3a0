"""Reviews: one per user per organization per integration, helpful votes, vendor responses.

Every write locks the integration's catalog row first and recomputes the aggregate it
affects from the table in the same transaction, so average_rating / review_count (and a
review's vote counts) stay exact under any number of concurrent writers.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from aria_platform.pagination import decode_cursor, encode_cursor
from aria_platform.problems import Problem

from . import repo

SORTS = tuple(repo.SORTS)
# Cursor = [sort, integration key, *sort values, id].
_CURSOR_ARITY = {"newest": 4, "most_helpful": 5}


def _integration_not_found(key: str) -> Problem:
    return Problem(404, "integration_not_found", "Integration not found", f"no integration with key {key!r}")


def _review_not_found(review_id: uuid.UUID) -> Problem:
    return Problem(404, "review_not_found", "Review not found", f"no review {review_id} on this integration")


def _as_dict(row: asyncpg.Record) -> dict[str, Any]:
    review = dict(row)
    text, responder, at = (review.pop("vendor_response"), review.pop("vendor_responder"),
                           review.pop("vendor_responded_at"))
    review["vendor_response"] = {"text": text, "responder": responder, "responded_at": at} if text else None
    return review


async def _read(conn: asyncpg.Connection | asyncpg.Pool, *, key: str, review_id: uuid.UUID, org_id: uuid.UUID,
                user_id: str) -> dict[str, Any]:
    row = await repo.get_review(conn, key=key, review_id=review_id, org_id=org_id, user_id=user_id)
    if row is None:
        raise _review_not_found(review_id)
    return _as_dict(row)


async def _locked_own_review(conn: asyncpg.Connection, *, key: str, review_id: uuid.UUID, org_id: uuid.UUID,
                             user_id: str) -> None:
    if not await repo.lock_integration(conn, key):
        raise _integration_not_found(key)
    row = await repo.review_for_update(conn, key=key, review_id=review_id)
    if row is None:
        raise _review_not_found(review_id)
    if (row["org_id"], row["user_id"]) != (org_id, user_id):
        raise Problem(403, "not_review_author", "Not your review", "only the author may change or delete a review")


async def create_review(*, pool: asyncpg.Pool, key: str, org_id: uuid.UUID, user_id: str,
                        fields: dict[str, Any]) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        if not await repo.lock_integration(conn, key):
            raise _integration_not_found(key)
        existing = await repo.own_review_id(conn, key=key, org_id=org_id, user_id=user_id)
        if existing is not None:
            raise Problem(409, "review_exists", "You already reviewed this integration",
                          "one review per user per organization; edit it instead", review_id=str(existing))
        review_id = uuid.uuid4()
        verified = await repo.org_has_live_installation(conn, org_id=org_id, key=key)
        await repo.insert_review(conn, review_id=review_id, key=key, org_id=org_id, user_id=user_id, fields=fields,
                                 verified=verified)
        await repo.refresh_rating(conn, key)
        return await _read(conn, key=key, review_id=review_id, org_id=org_id, user_id=user_id)


async def update_review(*, pool: asyncpg.Pool, key: str, review_id: uuid.UUID, org_id: uuid.UUID, user_id: str,
                        changes: dict[str, Any]) -> dict[str, Any]:
    if not changes:
        raise Problem(400, "empty_update", "Nothing to change", "send at least one review field")
    # Columns that always hold a value (texts default to ""): null would be a NOT NULL violation.
    required = [f for f in ("rating", "title", "text", "pros", "cons") if f in changes and changes[f] is None]
    if required:
        raise Problem(422, "validation_error", "Request is invalid", f"{required[0]} cannot be removed",
                      errors=[{"location": f"body.{required[0]}", "message": "may not be null"}])
    async with pool.acquire() as conn, conn.transaction():
        await _locked_own_review(conn, key=key, review_id=review_id, org_id=org_id, user_id=user_id)
        # Editing re-checks the installation: verified reflects the reviewer's org when it last wrote.
        verified = await repo.org_has_live_installation(conn, org_id=org_id, key=key)
        await repo.update_review(conn, review_id=review_id, changes=changes, verified=verified)
        if "rating" in changes:
            await repo.refresh_rating(conn, key)
        return await _read(conn, key=key, review_id=review_id, org_id=org_id, user_id=user_id)


async def delete_review(*, pool: asyncpg.Pool, key: str, review_id: uuid.UUID, org_id: uuid.UUID,
                        user_id: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await _locked_own_review(conn, key=key, review_id=review_id, org_id=org_id, user_id=user_id)
        await repo.delete_review(conn, review_id)
        await repo.refresh_rating(conn, key)


async def get_review(*, pool: asyncpg.Pool, key: str, review_id: uuid.UUID, org_id: uuid.UUID,
                     user_id: str) -> dict[str, Any]:
    return await _read(pool, key=key, review_id=review_id, org_id=org_id, user_id=user_id)


async def vote(*, pool: asyncpg.Pool, key: str, review_id: uuid.UUID, org_id: uuid.UUID, user_id: str,
               helpful: bool | None) -> dict[str, Any]:
    """Cast, change (helpful True/False) or withdraw (None) the caller's vote on a review."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.review_for_update(conn, key=key, review_id=review_id)
        if row is None:
            raise _review_not_found(review_id)
        if (row["org_id"], row["user_id"]) == (org_id, user_id):
            raise Problem(403, "own_review", "You cannot vote on your own review",
                          "helpful votes come from other readers")
        if helpful is None:
            await repo.delete_vote(conn, review_id=review_id, org_id=org_id, user_id=user_id)
        else:
            await repo.upsert_vote(conn, review_id=review_id, org_id=org_id, user_id=user_id, helpful=helpful)
        await repo.refresh_votes(conn, review_id)
        return await _read(conn, key=key, review_id=review_id, org_id=org_id, user_id=user_id)


async def set_vendor_response(*, pool: asyncpg.Pool, key: str, review_id: uuid.UUID, vendor: str,
                              text: str | None, responder: str | None) -> dict[str, Any]:
    """The vendor's public answer to a review (text None removes it).

    `vendor` is who the calling portal authenticated; it must be the integration's vendor,
    so a mistake in the portal cannot answer on another vendor's integration.
    """
    async with pool.acquire() as conn, conn.transaction():
        integration_vendor = await repo.integration_vendor(conn, key)
        if integration_vendor is None:
            raise _integration_not_found(key)
        if integration_vendor.casefold() != vendor.strip().casefold():
            raise Problem(403, "not_integration_vendor", "Not this integration's vendor",
                          f"only {integration_vendor} may respond to reviews of {key}")
        if await repo.review_for_update(conn, key=key, review_id=review_id) is None:
            raise _review_not_found(review_id)
        await repo.set_vendor_response(conn, review_id=review_id, text=text, responder=responder)
        # Vendor reads are anonymous with respect to "mine"/"my_vote".
        return await _read(conn, key=key, review_id=review_id, org_id=uuid.UUID(int=0), user_id="")


def _cursor_values(sort: str, key: str, cursor: str) -> list[Any]:
    values = decode_cursor(cursor, arity=_CURSOR_ARITY[sort]) or []
    if values[0] != sort or values[1] != key:
        raise Problem(400, "invalid_cursor", "Invalid cursor",
                      "the cursor belongs to another listing; repeat the same integration and sort",
                      parameter="cursor")
    try:
        *rest, created_at, last_id = values[2:]
        if sort == "most_helpful" and not (isinstance(rest[0], int) and -2**31 <= rest[0] < 2**31):
            raise ValueError("helpfulness")  # compared with an integer column: a larger one fails there
        parsed = datetime.fromisoformat(created_at)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return [*rest, parsed, uuid.UUID(last_id)]
    except (TypeError, ValueError, IndexError, AttributeError):
        raise Problem(400, "invalid_cursor", "Invalid cursor", "use the next_cursor value of a previous page",
                      parameter="cursor") from None


async def list_reviews(*, pool: asyncpg.Pool, key: str, org_id: uuid.UUID, user_id: str, sort: str,
                       cursor: str | None, limit: int) -> dict[str, Any]:
    if sort not in repo.SORTS:
        raise Problem(400, "invalid_sort", "Unknown sort", f"sort must be one of: {', '.join(SORTS)}",
                      parameter="sort", allowed=list(SORTS))
    after = _cursor_values(sort, key, cursor) if cursor else None
    if not await repo.exists_integration(pool, key):
        raise _integration_not_found(key)
    rows = await repo.list_page(pool, key=key, org_id=org_id, user_id=user_id, sort=sort, after=after,
                                limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more and page:
        last = page[-1]
        values = [last["helpfulness"]] if sort == "most_helpful" else []
        next_cursor = encode_cursor([sort, key, *values, last["created_at"], last["id"]])
    return {"items": [_as_dict(r) for r in page], "next_cursor": next_cursor, "limit": limit, "sort": sort}


async def summary(*, pool: asyncpg.Pool, key: str) -> dict[str, Any]:
    """The detail page's reviews block: average, count, distribution 1–5 and sub-score averages."""
    row = await repo.summary(pool, key)

    def num(value: Any) -> float | None:
        return None if value is None else float(value)

    return {
        "average_rating": num(row["average_rating"]) or 0.0, "review_count": row["review_count"],
        "distribution": {str(n): row[f"r{n}"] for n in range(1, 6)}, "verified_count": row["verified_count"],
        "would_recommend_pct": num(row["would_recommend_pct"]),
        "ease_of_setup": num(row["ease_of_setup"]), "documentation_quality": num(row["documentation_quality"]),
        "support_quality": num(row["support_quality"]),
    }
