"""Usage analytics: daily rollups per installation from sync job outcomes, and per-integration stats.

A sync run (completed or failed) is one "call"; its duration is the response time. The sync
events carry no vendor request count, so API usage is measured in runs.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any, Literal

import asyncpg

from aria_contracts import Envelope
from aria_contracts.events import SyncCompleted, SyncFailed
from aria_platform.outbox import claim

from . import repo

CONSUMER = "catalog.usage"
WINDOW_DAYS = 30
Outcome = Literal["recorded", "duplicate", "ignored"]


async def record_sync_event(*, pool: asyncpg.Pool, envelope: Envelope, cost_per_1000_records: Decimal) -> Outcome:
    """Add a finished sync run to its installation's day; a redelivered event changes nothing."""
    if envelope.type == SyncCompleted.event_type:
        done = envelope.payload(SyncCompleted)
        run = {"succeeded": True, "duration_ms": done.duration_ms, "records": done.processed_records,
               "failed_records": done.failed_records, "published_events": done.published_events}
        event: SyncCompleted | SyncFailed = done
    elif envelope.type == SyncFailed.event_type:
        event = envelope.payload(SyncFailed)
        run = {"succeeded": False, "duration_ms": 0, "records": 0, "failed_records": 0, "published_events": 0}
    else:
        return "ignored"  # requested / started / progress: not a finished run
    cost = (Decimal(run["records"]) * cost_per_1000_records / 1000).quantize(Decimal("0.000001"))
    async with pool.acquire() as conn, conn.transaction():
        if not await claim(conn, consumer=CONSUMER, dedup_key=envelope.dedup_key):
            return "duplicate"
        await repo.add_run(conn, installation_id=event.installation_id, day=envelope.time.astimezone(UTC).date(),
                           org_id=event.org_id, integration_key=event.integration_key, cost=cost, **run)
    return "recorded"


async def integration_stats(*, pool: asyncpg.Pool, key: str) -> dict[str, Any]:
    """The detail page's usage block over the last WINDOW_DAYS days, averaged per active installation-day."""
    t = await repo.integration_totals(pool, key=key, days=WINDOW_DAYS)
    days, calls = t["installation_days"], t["calls"]
    calls_per_day = round(calls / days, 2) if days else None
    return {
        "window_days": WINDOW_DAYS,
        "active_installations": t["installations"],
        "calls_per_day": calls_per_day,
        "sync_interval_minutes": round(1440 / calls_per_day, 1) if calls_per_day else None,
        "average_sync_duration_ms": round(t["total_duration_ms"] / t["successes"], 1) if t["successes"] else None,
        "records_synced_per_day": round(t["records_synced"] / days, 1) if days else None,
        "error_rate": round(t["failures"] / calls, 4) if calls else None,
        "success_rate_pct": round(100 * t["successes"] / calls, 2) if calls else None,
    }

