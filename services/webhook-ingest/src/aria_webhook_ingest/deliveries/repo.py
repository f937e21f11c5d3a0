"""SQL for webhook_deliveries: dedup of accepted deliveries and the audit of every attempt."""

from __future__ import annotations

import uuid

import asyncpg

_COLUMNS = "id, installation_id, org_id, delivery_id, payload_sha256, status, reason, event_count, received_at"


async def insert_accepted(conn: asyncpg.Connection, rows: list[tuple[uuid.UUID, uuid.UUID, str, str, str, int]]
                          ) -> set[tuple[uuid.UUID, str]]:
    """Insert accepted deliveries (installation, org, delivery id, body hash, replay key, event
    count) in one statement; returns the (installation, delivery id) pairs inserted. A delivery
    whose id or replay key (hash of the signed content) was already accepted (a replay) is skipped. A concurrent insert of the same delivery waits here until the other
    transaction ends, so of two racing copies exactly one is accepted. Rows are inserted in the
    order given: callers sort them, so two batches lock index entries in the same order and
    cannot deadlock."""
    if not rows:
        return set()
    installation_ids, org_ids, delivery_ids, hashes, replay_keys, counts = zip(*rows)
    # No conflict target: a row conflicting on either unique index (delivery id, replay key) is skipped.
    inserted = await conn.fetch(
        """INSERT INTO webhook_deliveries
               (installation_id, org_id, delivery_id, payload_sha256, replay_key, status, event_count)
            SELECT i, o, d, h, r, 'accepted', n
              FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[])
                   AS t(i, o, d, h, r, n)
            ON CONFLICT DO NOTHING
            RETURNING installation_id, delivery_id""",
        installation_ids, org_ids, delivery_ids, hashes, replay_keys, counts)
    return {(r["installation_id"], r["delivery_id"]) for r in inserted}


async def insert_duplicates(conn: asyncpg.Connection, rows: list[tuple[uuid.UUID, uuid.UUID, str, str]],
                            *, reason: str) -> None:
    """Replays of accepted deliveries (installation, org, delivery id, body hash), for the activity log."""
    if not rows:
        return
    installation_ids, org_ids, delivery_ids, hashes = zip(*rows)
    await conn.execute(
        """INSERT INTO webhook_deliveries (installation_id, org_id, delivery_id, payload_sha256, status, reason)
           SELECT i, o, d, h, 'duplicate', $5
             FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS t(i, o, d, h)""",
        installation_ids, org_ids, delivery_ids, hashes, reason)


async def insert_rejected(conn: asyncpg.Connection | asyncpg.Pool, *, installation_id: uuid.UUID, org_id: uuid.UUID,
                          delivery_id: str | None, payload_sha256: str | None, reason: str) -> None:
    """A rejected delivery, for the activity log (never the body, never a secret)."""
    await conn.execute(
        """INSERT INTO webhook_deliveries (installation_id, org_id, delivery_id, payload_sha256, status, reason)
           VALUES ($1, $2, $3, $4, 'rejected', $5)""",
        installation_id, org_id, delivery_id, payload_sha256, reason)


async def list_deliveries(conn: asyncpg.Pool, *, installation_id: uuid.UUID, org_id: uuid.UUID | None,
                          before_id: int | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM webhook_deliveries
            WHERE installation_id = $1 AND ($2::uuid IS NULL OR org_id = $2)
              AND ($3::bigint IS NULL OR id < $3)
            ORDER BY id DESC LIMIT $4""",
        installation_id, org_id, before_id, limit)
