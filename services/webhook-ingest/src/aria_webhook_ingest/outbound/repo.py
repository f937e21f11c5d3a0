"""SQL of outbound webhooks: endpoints, deliveries (the persisted retry schedule) and audit."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

Conn = asyncpg.Connection | asyncpg.Pool

ENDPOINT_COLUMNS = """id, org_id, url, description, event_types, enabled, disabled_reason, credential_ref,
                      secret_version, previous_secret_until, failing_since, created_by, created_at, updated_at"""
DELIVERY_COLUMNS = """id, seq, endpoint_id, org_id, message_id, event_id, event_type, ordering_key, status, attempts,
                      next_attempt_at, last_attempt_at, last_status_code, last_error, replay_of, created_at,
                      delivered_at"""


# --- endpoints --------------------------------------------------------------------------------


async def insert_endpoint(conn: Conn, *, endpoint_id: uuid.UUID, org_id: uuid.UUID, url: str, description: str,
                          event_types: list[str], credential_ref: uuid.UUID, secret_version: int,
                          actor: str) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO outbound_endpoints (id, org_id, url, description, event_types, credential_ref, secret_version,
                                            created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {ENDPOINT_COLUMNS}""",
        endpoint_id, org_id, url, description, event_types, credential_ref, secret_version, actor)


async def get_endpoint(conn: Conn, *, org_id: uuid.UUID, endpoint_id: uuid.UUID,
                       for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {ENDPOINT_COLUMNS} FROM outbound_endpoints WHERE id = $1 AND org_id = $2{lock}", endpoint_id, org_id)


async def list_endpoints(conn: Conn, *, org_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None,
                         limit: int) -> list[asyncpg.Record]:
    created, last_id = after if after else (None, None)
    return await conn.fetch(
        f"""SELECT {ENDPOINT_COLUMNS} FROM outbound_endpoints
            WHERE org_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
            ORDER BY created_at DESC, id DESC LIMIT $4""",
        org_id, created, last_id, limit)


async def subscribed_endpoints(conn: Conn, org_id: uuid.UUID) -> list[asyncpg.Record]:
    """An organization's enabled endpoints with the event types they take (the fan-out's view)."""
    return await conn.fetch("SELECT id, event_types FROM outbound_endpoints WHERE org_id = $1 AND enabled", org_id)


async def update_endpoint(conn: Conn, *, endpoint_id: uuid.UUID, url: str, description: str, event_types: list[str],
                          enabled: bool, clear_failures: bool) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""UPDATE outbound_endpoints
               SET url = $2, description = $3, event_types = $4, enabled = $5,
                   disabled_reason = CASE WHEN $5 THEN NULL ELSE disabled_reason END,
                   failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END, updated_at = now()
             WHERE id = $1 RETURNING {ENDPOINT_COLUMNS}""",
        endpoint_id, url, description, event_types, enabled, clear_failures)


async def record_rotation(conn: Conn, *, endpoint_id: uuid.UUID, secret_version: int,
                          previous_until: datetime) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""UPDATE outbound_endpoints SET secret_version = $2, previous_secret_until = $3, updated_at = now()
             WHERE id = $1 RETURNING {ENDPOINT_COLUMNS}""",
        endpoint_id, secret_version, previous_until)


async def delete_endpoint(conn: Conn, endpoint_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM outbound_endpoints WHERE id = $1", endpoint_id)


async def audit(conn: Conn, *, org_id: uuid.UUID, endpoint_id: uuid.UUID, action: str, actor: str,
                detail: str | None = None) -> None:
    await conn.execute(
        "INSERT INTO outbound_audit (org_id, endpoint_id, action, actor, detail) VALUES ($1, $2, $3, $4, $5)",
        org_id, endpoint_id, action, actor, detail)


async def audit_trail(conn: Conn, *, endpoint_id: uuid.UUID, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, action, actor, detail, at FROM outbound_audit WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2",
        endpoint_id, limit)


# --- deliveries -------------------------------------------------------------------------------


async def insert_deliveries(conn: Conn, rows: list[tuple]) -> int:
    """First deliveries of events: (id, endpoint_id, org_id, message_id, event_id, event_type, ordering_key, body).
    A (endpoint, event) already there is skipped (a redelivered Kafka message). Returns rows inserted."""
    if not rows:
        return 0
    columns = list(zip(*rows))
    inserted = await conn.fetchval(
        """WITH new AS (
               INSERT INTO outbound_deliveries (id, endpoint_id, org_id, message_id, event_id, event_type,
                                                ordering_key, body)
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::text[],
                                    $7::text[], $8::bytea[])
               ON CONFLICT (endpoint_id, event_id) WHERE replay_of IS NULL DO NOTHING
               RETURNING 1)
           SELECT count(*) FROM new""",
        *columns)
    return int(inserted)


async def claim_due(conn: Conn, *, limit: int, lease_s: float) -> list[asyncpg.Record]:
    """Due deliveries of enabled endpoints, each the oldest pending one of its (endpoint, entity), pushed
    `lease_s` into the future so no other sender takes them while this one sends (a sender that dies
    leaves them due again after the lease). The claim counts as an attempt."""
    return await conn.fetch(
        """WITH due AS (
               SELECT d.id FROM outbound_deliveries d
                 JOIN outbound_endpoints e ON e.id = d.endpoint_id AND e.enabled
                WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                  AND NOT EXISTS (SELECT 1 FROM outbound_deliveries p
                                   WHERE p.endpoint_id = d.endpoint_id AND p.ordering_key = d.ordering_key
                                     AND p.status = 'pending' AND p.seq < d.seq)
                ORDER BY d.next_attempt_at, d.seq
                LIMIT $1
                FOR UPDATE OF d SKIP LOCKED)
           UPDATE outbound_deliveries d
              SET next_attempt_at = now() + make_interval(secs => $2), attempts = d.attempts + 1
             FROM due, outbound_endpoints e
            WHERE d.id = due.id AND e.id = d.endpoint_id
        RETURNING d.id, d.endpoint_id, d.message_id, d.body, d.attempts, d.created_at, e.url, e.credential_ref,
                  e.secret_version, e.previous_secret_until, now() AS claimed_at""",
        limit, lease_s)


async def record_outcomes(conn: Conn, *, ids: list[uuid.UUID], statuses: list[str],
                          next_attempts: list[datetime | None], codes: list[int | None],
                          errors: list[str | None]) -> None:
    await conn.execute(
        """UPDATE outbound_deliveries d
              SET status = t.status, next_attempt_at = COALESCE(t.next_at, d.next_attempt_at),
                  last_attempt_at = now(), last_status_code = t.code, last_error = t.error,
                  delivered_at = CASE WHEN t.status = 'delivered' THEN now() END
             FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::int[], $5::text[])
                  AS t(id, status, next_at, code, error)
            WHERE d.id = t.id""",
        ids, statuses, next_attempts, codes, errors)


async def mark_endpoints(conn: Conn, *, succeeded: list[uuid.UUID], failed: list[uuid.UUID],
                         disable_after_s: float) -> list[asyncpg.Record]:
    """Successes end an endpoint's run of failures; failures start one. Returns the enabled endpoints
    whose run of failures is now older than `disable_after_s`, locked, for the caller to disable."""
    if succeeded:
        await conn.execute(
            "UPDATE outbound_endpoints SET failing_since = NULL WHERE id = ANY($1::uuid[]) AND failing_since IS NOT NULL",
            succeeded)
    if not failed:
        return []
    await conn.execute(
        "UPDATE outbound_endpoints SET failing_since = now() WHERE id = ANY($1::uuid[]) AND failing_since IS NULL",
        failed)
    return await conn.fetch(
        """SELECT id, org_id, url, failing_since FROM outbound_endpoints
            WHERE id = ANY($1::uuid[]) AND enabled AND failing_since < now() - make_interval(secs => $2)
            FOR UPDATE""",
        failed, disable_after_s)


async def disable_endpoint(conn: Conn, *, endpoint_id: uuid.UUID, reason: str) -> datetime:
    return await conn.fetchval(
        """UPDATE outbound_endpoints SET enabled = false, disabled_reason = $2, updated_at = now()
            WHERE id = $1 RETURNING updated_at""",
        endpoint_id, reason)


async def list_deliveries(conn: Conn, *, endpoint_id: uuid.UUID, status: str | None, before_seq: int | None,
                          limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {DELIVERY_COLUMNS} FROM outbound_deliveries
            WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR seq < $3)
            ORDER BY seq DESC LIMIT $4""",
        endpoint_id, status, before_seq, limit)


async def replay_one(conn: Conn, *, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""INSERT INTO outbound_deliveries (id, endpoint_id, org_id, message_id, event_id, event_type, ordering_key,
                                             body, replay_of)
            SELECT gen_random_uuid(), endpoint_id, org_id, message_id, event_id, event_type, ordering_key, body, id
              FROM outbound_deliveries WHERE id = $1 AND endpoint_id = $2
            RETURNING {DELIVERY_COLUMNS}""",
        delivery_id, endpoint_id)


async def replay_range(conn: Conn, *, endpoint_id: uuid.UUID, since: datetime, until: datetime, limit: int) -> int:
    """Every event first delivered (or tried) to the endpoint in [since, until), again, oldest first."""
    return int(await conn.fetchval(
        """WITH new AS (
               INSERT INTO outbound_deliveries (id, endpoint_id, org_id, message_id, event_id, event_type,
                                                ordering_key, body, replay_of)
               SELECT gen_random_uuid(), endpoint_id, org_id, message_id, event_id, event_type, ordering_key, body, id
                 FROM (SELECT * FROM outbound_deliveries
                        WHERE endpoint_id = $1 AND replay_of IS NULL AND created_at >= $2 AND created_at < $3
                        ORDER BY seq LIMIT $4) original
                ORDER BY seq
               RETURNING 1)
           SELECT count(*) FROM new""",
        endpoint_id, since, until, limit))


async def purge_finished(conn: Conn, *, older_than_s: float) -> int:
    """Finished deliveries (delivered or given up) past the retention: the log and the replay window."""
    status = await conn.execute(
        """DELETE FROM outbound_deliveries
            WHERE status <> 'pending' AND created_at < now() - make_interval(secs => $1)""", older_than_s)
    return int(status.split()[-1])
