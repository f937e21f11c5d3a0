"""What other services report about an installation: sync results and health."""

from __future__ import annotations

import asyncpg

from aria_contracts import Envelope
from aria_contracts.events import IntegrationHealthChanged, SyncCancelled, SyncCompleted, SyncFailed
from aria_platform.outbox import claim

from ..activity import repo as activity
from . import repo

CONSUMER = "installer"


_SYNC_OUTCOMES = {m.event_type: m for m in (SyncCompleted, SyncFailed, SyncCancelled)}


async def record_sync_event(*, pool: asyncpg.Pool, envelope: Envelope) -> None:
    model = _SYNC_OUTCOMES.get(envelope.type)
    if model is None:
        return  # started / progress: nothing to keep here
    event = envelope.payload(model)
    async with pool.acquire() as conn, conn.transaction():
        if not await claim(conn, consumer=CONSUMER, dedup_key=envelope.dedup_key):
            return
        if await repo.get_any_org(conn, event.installation_id) is None:
            return
        # What the job published stays published, whatever its outcome.
        await repo.add_records_synced(conn, installation_id=event.installation_id, entity_counts=event.entity_counts)
        if isinstance(event, SyncCancelled):
            await activity.add(conn, installation_id=event.installation_id, org_id=event.org_id,
                               activity_type="sync_result", status="info", actor=event.cancelled_by,
                               message=f"sync cancelled after {event.processed_records} records",
                               details={"job_id": str(event.job_id)})
            return
        if isinstance(event, SyncCompleted):
            ok, error = True, None
            message = f"sync completed: {event.processed_records} records, {event.published_events} events"
        else:
            ok, error = False, f"{event.error_class}: {event.error_message}"
            message = f"sync failed ({error})"
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
