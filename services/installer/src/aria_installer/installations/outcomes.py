"""What other services report about an installation: sync results and health."""

from __future__ import annotations

import asyncpg

from aria_contracts import Envelope
from aria_contracts.events import IntegrationHealthChanged, SyncCompleted, SyncFailed
from aria_platform.outbox import claim

from ..activity import repo as activity
from . import repo

CONSUMER = "installer"


async def record_sync_event(*, pool: asyncpg.Pool, envelope: Envelope) -> None:
    if envelope.type not in (SyncCompleted.event_type, SyncFailed.event_type):
        return  # started / progress: nothing to keep here
    async with pool.acquire() as conn, conn.transaction():
        if not await claim(conn, consumer=CONSUMER, dedup_key=envelope.dedup_key):
            return
        if envelope.type == SyncCompleted.event_type:
            event = envelope.payload(SyncCompleted)
            ok, error = True, None
            message = f"sync completed: {event.processed_records} records, {event.published_events} events"
        else:
            event = envelope.payload(SyncFailed)
            ok, error = False, f"{event.error_class}: {event.error_message}"
            message = f"sync failed ({error})"
        if await repo.get_any_org(conn, event.installation_id) is None:
            return
        await repo.record_sync_outcome(conn, installation_id=event.installation_id, ok=ok, error=error)
        await activity.add(conn, installation_id=event.installation_id, org_id=event.org_id,
                           activity_type="sync_result", status="success" if ok else "failure", actor="sync-runner",
                           message=message, details={"job_id": str(event.job_id)})


async def record_health_event(*, pool: asyncpg.Pool, envelope: Envelope) -> None:
    if envelope.type != IntegrationHealthChanged.event_type:
        return
    event = envelope.payload(IntegrationHealthChanged)
    async with pool.acquire() as conn, conn.transaction():
        if await claim(conn, consumer=CONSUMER, dedup_key=envelope.dedup_key):
            await repo.record_health(conn, installation_id=event.installation_id, status=event.status)
