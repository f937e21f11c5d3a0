"""SQL for daily usage rollups per installation."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import asyncpg


async def add_run(conn: asyncpg.Connection, *, installation_id: uuid.UUID, day: date, org_id: uuid.UUID,
                  integration_key: str, succeeded: bool, duration_ms: int, records: int, failed_records: int,
                  published_events: int, cost: Decimal) -> None:
    """Add one sync run to its installation-day (the caller has claimed the event: once per run)."""
    await conn.execute(
        """INSERT INTO integration_usage_analytics AS u
               (installation_id, day, org_id, integration_key, calls, successes, failures, total_duration_ms,
                records_synced, failed_records, published_events, estimated_cost)
           VALUES ($1, $2, $3, $4, 1, $5::int, 1 - $5::int, $6, $7, $8, $9, $10)
           ON CONFLICT (installation_id, day) DO UPDATE SET
               calls = u.calls + 1, successes = u.successes + EXCLUDED.successes,
               failures = u.failures + EXCLUDED.failures,
               total_duration_ms = u.total_duration_ms + EXCLUDED.total_duration_ms,
               records_synced = u.records_synced + EXCLUDED.records_synced,
               failed_records = u.failed_records + EXCLUDED.failed_records,
               published_events = u.published_events + EXCLUDED.published_events,
               estimated_cost = u.estimated_cost + EXCLUDED.estimated_cost, updated_at = now()""",
        installation_id, day, org_id, integration_key, int(succeeded), duration_ms, records, failed_records,
        published_events, cost)


async def integration_totals(conn: asyncpg.Pool | asyncpg.Connection, *, key: str, days: int) -> asyncpg.Record:
    return await conn.fetchrow(
        """SELECT count(DISTINCT installation_id)::int AS installations, count(*)::int AS installation_days,
                  coalesce(sum(calls), 0)::bigint AS calls, coalesce(sum(successes), 0)::bigint AS successes,
                  coalesce(sum(failures), 0)::bigint AS failures,
                  coalesce(sum(total_duration_ms), 0)::bigint AS total_duration_ms,
                  coalesce(sum(records_synced), 0)::bigint AS records_synced
             FROM integration_usage_analytics
            WHERE integration_key = $1 AND day > current_date - $2::int""", key, days)

